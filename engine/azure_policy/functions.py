"""Policy-rule functions: the common expression functions plus the policy context functions.

``field``, ``current``, ``resourceGroup``, ``subscription``, ``policy``, ``requestContext`` and
``utcNow`` read the :class:`RuleContext` of the resource being evaluated; ``parameters`` is
registered per compiled assignment (see :func:`registry_with_parameters`) so that parameter
references fold into constants at compile time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from engine import ids
from engine.azure_policy.aliases import AliasTable
from engine.azure_policy.fields import DEFAULT_ALIASES, MISSING, FieldError, FieldReference, compile_field
from engine.expressions import EvaluationError, FunctionRegistry
from engine.expressions.dotnet import format_datetime
from engine.expressions.registry import POLICY_RULE_FUNCTIONS, TEXT, ExpressionLimits, FunctionSpec
from engine.ids import parse_resource_id
from engine.limits import (
    MAX_POLICY_EXPRESSION_LENGTH,
    MAX_POLICY_FUNCTION_ARGUMENTS,
    MAX_POLICY_OBJECT_DEPTH,
    MAX_POLICY_OBJECT_NODES,
    MAX_POLICY_STRING,
)


class ContainerTags(dict):  # type: ignore[type-arg]
    """The tags of ``resourceGroup()`` / ``subscription()``: a tag the container lacks reads as null.
    Azure's "Inherit a tag from the resource group" built-ins rely on it (``"value":
    "[resourceGroup().tags[parameters('tagName')]]", "notEquals": ""`` on groups without the tag)."""


class PolicyValues:
    """The policy registry's :class:`~engine.expressions.registry.Interceptor`: calls run as registered,
    their results held to Azure Policy's evaluation limits (:func:`within_policy_limits`); member access and
    indexing as everywhere, except a missing key of :class:`ContainerTags` is null."""

    def wrap(self, spec: FunctionSpec) -> Callable[..., Any]:
        implementation, name = spec.implementation, spec.name

        def call(*arguments: Any) -> Any:
            return within_policy_limits(implementation(*arguments), name)

        return call

    def member(self, value: Any, name: str, plain: Callable[[Any, str], Any]) -> Any:
        return _tag(value, name) if isinstance(value, ContainerTags) else plain(value, name)

    def index(self, value: Any, position: Any, plain: Callable[[Any, Any], Any]) -> Any:
        if isinstance(value, ContainerTags) and isinstance(position, str):
            return _tag(value, position)
        return plain(value, position)


def within_policy_limits(value: Any, function: str) -> Any:
    """``value`` if a policy function may return it: docs "policy rule", "Limits enforced during evaluation" (a
    string of 131,072 characters; an object or array 128 levels deep with 32,768 nodes). Walked without
    recursion, stopping at the first limit passed."""
    if isinstance(value, str):
        if len(value) > MAX_POLICY_STRING:
            raise EvaluationError(f"{function}() returns a string of {len(value):,} characters, over Azure Policy's "
                                  f"{MAX_POLICY_STRING:,}")
        return value
    if not isinstance(value, dict | list):
        return value
    nodes, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if nodes > MAX_POLICY_OBJECT_NODES:
            raise EvaluationError(f"{function}() returns an object or array of more than {MAX_POLICY_OBJECT_NODES:,} "
                                  "nodes, over Azure Policy's limit")
        if isinstance(item, dict | list):
            if depth > MAX_POLICY_OBJECT_DEPTH:
                raise EvaluationError(f"{function}() returns an object or array nested more than "
                                      f"{MAX_POLICY_OBJECT_DEPTH} levels deep, over Azure Policy's limit")
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value


def _tag(tags: ContainerTags, name: str) -> Any:
    return next((value for key, value in tags.items() if key.lower() == name.lower()), None)


POLICY_FUNCTIONS = POLICY_RULE_FUNCTIONS.extend(interceptor=PolicyValues(), limits=ExpressionLimits(
    "Azure Policy", MAX_POLICY_EXPRESSION_LENGTH, MAX_POLICY_FUNCTION_ARGUMENTS))
UNIVERSAL_ISO_TICKS = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffff'Z'"
Containers = Mapping[str, dict[str, Any]]  # normalized id -> subscription or resource group resource
NO_CONTAINERS: Containers = {}


# What requestContext() returns offline. Docs "policy rule", policy functions: "The latest API version is
# always used during compliance evaluation on existing resources": offline, where the latest version of each
# type is not at hand, an API version later than any a policy names (policies compare it with less/greaterOrEquals
# against dates). No caller identity (no claims: the MFA built-ins' ``requestContext().identity`` conditions do
# not hold).
LATEST_API_VERSION = "9999-12-31"
OFFLINE_REQUEST: Mapping[str, Any] = {"apiVersion": LATEST_API_VERSION, "identity": {}}


class RuleContext:
    """What a policy rule sees while evaluating one resource.

    ``current`` maps the (lower-case) name of each enclosing ``count`` to the element being
    counted; ``counted`` lists the field-count array aliases, innermost last;
    ``value_count_iterations`` is how many times the enclosing value counts iterate together
    (nested value counts are bounded by their iterations together). ``aliases`` is the table the
    policy's fields resolve against (``field()`` names built at run time too); ``request`` what
    ``requestContext()`` returns.

    ``resource`` is what ``field`` conditions read: the evaluated resource, or in an existence condition the
    related resource; ``evaluated`` stays the resource of the ``if``, which ``field()``, ``resourceGroup()``
    and ``subscription()`` read (docs "auditIfNotExists": the existence condition "can use [field()] to check
    equivalence with values in the if condition").
    """

    __slots__ = ("aliases", "containers", "counted", "current", "evaluated", "policy", "request", "resource",
                 "timestamp", "value_count_iterations")

    def __init__(self, resource: dict[str, Any], timestamp: datetime, policy: dict[str, str],
                 containers: Containers | None = None, aliases: AliasTable = DEFAULT_ALIASES,
                 request: Mapping[str, Any] = OFFLINE_REQUEST):
        self.resource = self.evaluated = resource
        self.timestamp = timestamp
        self.policy = policy
        self.containers = containers if containers is not None else NO_CONTAINERS
        self.aliases = aliases
        self.request = request
        self.current: dict[str, Any] = {}
        self.counted: tuple[str, ...] = ()
        self.value_count_iterations = 1

    def for_resource(self, resource: dict[str, Any]) -> RuleContext:
        """The same context with ``field`` conditions over another resource (a related resource of an
        existence check)."""
        context = RuleContext(resource, self.timestamp, self.policy, self.containers, self.aliases, self.request)
        context.evaluated = self.evaluated
        return context


@lru_cache(maxsize=4096)
def field_reference(name: str, counted: tuple[str, ...] = (), table: AliasTable = DEFAULT_ALIASES) -> FieldReference:
    """A compiled field, cached: rules and templates read the same few fields over every resource."""
    return compile_field(name, counted, table=table)


def runtime_reference(context: RuleContext, name: str) -> FieldReference:
    """The field ``name`` computed while evaluating (``field()``, a field name built by an expression)."""
    try:
        return field_reference(name, context.counted, context.aliases)
    except FieldError as error:
        raise EvaluationError(str(error)) from None


def field_value(context: RuleContext, name: str) -> Any:
    """``field(name)``: the value of a field or alias of the evaluated resource, as the arrays page documents
    it (:meth:`~engine.azure_policy.fields.FieldReference.value`: ``""`` or ``[]`` when absent)."""
    return runtime_reference(context, name).value(context.evaluated, context.current)


POLICY_FUNCTIONS.function("field", 1, 1, uses_context=True, takes=(TEXT,))(field_value)


@POLICY_FUNCTIONS.function("current", 0, 1, uses_context=True, takes=(TEXT,))
def _current(context: RuleContext, name: str | None = None) -> Any:
    """Docs "policy rule", the current function: the member a count enumerates (by its index name, or the
    array alias of a field count), or a property of it (``current('<array alias>[*].property')``)."""
    if not context.current:
        raise EvaluationError("current() is only available inside a count's 'where'")
    if name is None:
        return next(reversed(context.current.values()))
    if name.lower() in context.current:
        return context.current[name.lower()]
    if any(name.lower().startswith(counted.lower()) for counted in context.counted):
        reference = runtime_reference(context, name)
        if reference.is_array:  # the values selected below the member, as field() selects them ([] for none)
            return reference.value(context.resource, context.current)
        value = reference.get(context.resource, context.current)
        return None if value is MISSING else value
    raise EvaluationError(f"current('{name}'): no enclosing count is named '{name}'")


@POLICY_FUNCTIONS.function("resourceGroup", 0, 0, uses_context=True)
def _resource_group(context: RuleContext) -> dict[str, Any]:
    """The resource's group: its location and tags from the inventory when it holds the group (Resource
    Graph's ``resourcecontainers``, a snapshot), else the resource's location and no tags."""
    parsed = parse_resource_id(context.evaluated["id"])
    if parsed.resource_group is None:
        raise EvaluationError("resourceGroup(): the resource is not in a resource group")
    group_id = f"/subscriptions/{parsed.subscription_id}/resourceGroups/{parsed.resource_group}"
    known = context.containers.get(ids.normalize(group_id), {})
    return {"id": group_id, "name": parsed.resource_group, "type": "Microsoft.Resources/resourceGroups",
            "location": known.get("location") or context.evaluated.get("location"),
            "tags": ContainerTags(known.get("tags") or {})}


@POLICY_FUNCTIONS.function("subscription", 0, 0, uses_context=True)
def _subscription(context: RuleContext) -> dict[str, Any]:
    """The resource's subscription: its display name and tags from the inventory when it holds it."""
    subscription_id = parse_resource_id(context.evaluated["id"]).subscription_id
    known = context.containers.get(ids.normalize(f"/subscriptions/{subscription_id}"), {})
    properties = known.get("properties") if isinstance(known.get("properties"), dict) else {}
    return {"id": f"/subscriptions/{subscription_id}", "subscriptionId": subscription_id,
            "displayName": properties.get("displayName") or known.get("name") or subscription_id,
            "tags": ContainerTags(known.get("tags") or {})}


@POLICY_FUNCTIONS.function("policy", 0, 0, uses_context=True)
def _policy(context: RuleContext) -> dict[str, str]:
    return dict(context.policy)


@POLICY_FUNCTIONS.function("requestContext", 0, 0, uses_context=True)
def _request_context(context: RuleContext) -> Mapping[str, Any]:
    """The request that triggered the evaluation: offline, :data:`OFFLINE_REQUEST`."""
    return context.request


@POLICY_FUNCTIONS.function("utcNow", 0, 1, uses_context=True, takes=(TEXT,))
def _utc_now(context: RuleContext, format_: str | None = None) -> str:
    """The scan's timestamp (one per scan, so every record of a scan agrees): "Universal ISO 8601 DateTime
    format yyyy-MM-ddTHH:mm:ss.fffffffZ" (definition-structure-policy-rule), or a .NET date and time format."""
    moment = context.timestamp.astimezone(UTC)
    return format_datetime(moment, UNIVERSAL_ISO_TICKS if format_ is None else format_, "utcNow")


def registry_with_parameters(values: dict[str, Any], unset: frozenset[str] = frozenset()) -> FunctionRegistry:
    """A child registry whose ``parameters(name)`` returns the assignment's resolved values.

    ``parameters`` is pure here, so ``[parameters('effect')]`` folds into a constant at compile time. ``unset``
    names declared parameters without a value (no defaultValue, none given: Azure accepts no such assignment,
    Microsoft's conformance cases evaluate the rule anyway): reading one fails when evaluated, not before, so
    ``parameters`` is then evaluated at run time.
    """
    registry = POLICY_FUNCTIONS.extend()
    by_name = {name.lower(): value for name, value in values.items()}
    unset_keys = {name.lower() for name in unset}

    @registry.function("parameters", 1, 1, takes=(TEXT,), pure=not unset_keys)
    def _parameters(name: str) -> Any:
        key = str(name).lower()
        if key in by_name:
            return by_name[key]
        if key in unset_keys:
            raise EvaluationError(f"parameters('{name}'): the assignment gives it no value and it has no defaultValue")
        raise EvaluationError(f"parameters('{name}'): the definition declares no such parameter")

    return registry
