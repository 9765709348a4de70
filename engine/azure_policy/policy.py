"""A policy definition compiled, with its assignment's parameters, into an evaluator.

:func:`compile_policy` runs once per (assignment, definition reference): parameters fold into
constants, the ``if`` and the existence condition become evaluator nodes, the effect is looked
up in the effect registry. :meth:`CompiledPolicy.evaluate` then decides one resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any

from engine import ids
from engine.azure_policy.aliases import AliasTable
from engine.azure_policy.applicability import (
    SUBSCRIPTION_TYPE,
    applicability_test,
    mentions_location,
    restricted_to,
)
from engine.azure_policy.compiler import Node, RuleCompiler
from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.effects import Effect, Outcome, find_effect
from engine.azure_policy.fields import DEFAULT_ALIASES, full_name
from engine.azure_policy.functions import OFFLINE_REQUEST, Containers, RuleContext, registry_with_parameters
from engine.azure_policy.secure import PARAMETER_REFERENCE, secure_parameters
from engine.errors import InputError
from engine.expressions import EvaluationError, ExpressionSyntaxError, FunctionRegistry, compile_value
from engine.expressions.compiler import constant_value, is_expression

# Mode Indexed evaluates only types that support tags and location: not extension resources, and not the
# resource containers (docs "definition structure basics": mode all evaluates resource groups and subscriptions).
NOT_INDEXED_TYPES = frozenset({ids.EXTENSION_TYPE, ids.FLUX_CONFIGURATION_TYPE, *ids.CONTAINER_TYPES})
MODES: dict[str, frozenset[str]] = {"all": frozenset(), "indexed": NOT_INDEXED_TYPES}

RelatedResources = Mapping[str, list[dict[str, Any]]]  # type key -> related resources of the evaluated one
# Existence outcomes already decided for the resource being evaluated, by what decides them (see
# :attr:`CompiledPolicy.existence_key`): an Audit and a DINE policy checking the same related resources
# with the same existence condition (the built-ins come in such pairs) decide it once per resource.
ExistenceOutcomes = dict[Hashable, Outcome]

# Resource Provider modes (docs "Azure Policy definition structure basics": Microsoft.Kubernetes.Data,
# Microsoft.KeyVault.Data, Microsoft.Network.Data ...): evaluated by the provider, never on ARM resources.
RESOURCE_PROVIDER_MODE = re.compile(r"Microsoft\.[A-Za-z0-9.]+\.Data", re.IGNORECASE)


class NotEvaluable(Exception):
    """A well-formed definition arcpolicy cannot evaluate offline; ``reason`` says why, in one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CompiledPolicy:
    """One definition bound to one assignment's parameters, ready to evaluate resources.

    The remediation planner reads ``definition``, ``parameters`` (resolved values),
    ``details`` (the raw ``then.details`` JSON, deployment included) and ``effect``.
    """

    def __init__(self, definition: PolicyDefinition, parameters: dict[str, Any], policy_info: dict[str, str],
                 reference_id: str | None, condition: Node, effect: Effect | None,
                 effect_expression: Callable[[RuleContext], Any], details: dict[str, Any],
                 existence_condition: Node | None, related_name: Callable[[RuleContext], Any] | None,
                 existence_key: Hashable | None = None):
        self.definition = definition
        self.parameters = parameters
        self.policy_info = policy_info
        self.reference_id = reference_id
        self.condition = condition
        self.effect = effect
        self.effect_expression = effect_expression
        self.details = details
        self.existence_condition = existence_condition
        self.related_type: str = str(details.get("type") or "")
        self.related_type_key = ids.normalize(self.related_type)
        self.related_name = related_name
        # Everything an existence check's outcome depends on besides the related resources and the
        # details.name value: equal keys decide (and explain) identically.
        self.existence_key = existence_key
        self.excluded_types = MODES[definition.mode.lower()]
        if mentions_location(definition.policy_rule):  # the docs: "not applicable to subscriptions"
            self.excluded_types = self.excluded_types | {SUBSCRIPTION_TYPE}
        # The types the ``if`` can match (most built-ins start with ``field type equals ...``): the
        # evaluator skips other resources without evaluating the rule. None when any type may match.
        # Applicability (see :mod:`engine.azure_policy.applicability`) keeps every type condition, so
        # these types bound it too.
        self.if_types = condition.type_keys()
        self.applicability = applicability_test(condition)  # effects other than *IfNotExists
        self.inferred_aliases: dict[str, str] = {}  # aliases read by Azure's default convention -> path
        self.default_state: Callable[[RuleContext], Any] | None = None  # Manual's details.defaultState
        self.aliases = DEFAULT_ALIASES  # the table its fields resolve against
        self._resolve_details: Callable[[RuleContext], Any] | None = None

    def applies_to(self, type_key: str) -> bool:
        """Whether the policy's mode evaluates resources of this (lower-case) type."""
        return type_key not in self.excluded_types

    def may_match(self, type_key: str) -> bool:
        """Whether the ``if`` can hold for a resource of this (lower-case) type."""
        return self.if_types is None or type_key in self.if_types

    def evaluate(self, resource: dict[str, Any], related: RelatedResources, timestamp: datetime,
                 explain: bool = True, decided: ExistenceOutcomes | None = None,
                 containers: Containers | None = None,
                 request: Mapping[str, Any] = OFFLINE_REQUEST) -> tuple[Effect, Outcome] | None:
        """The effect and outcome for ``resource``, or None when the policy is not applicable to it.

        AuditIfNotExists/DeployIfNotExists apply where the whole ``if`` holds; other effects where the
        ``type``/``name``/``kind`` conditions do (:mod:`engine.azure_policy.applicability`), and an
        applicable resource whose ``if`` is false is compliant, its reasons the conditions that failed.
        ``decided`` (one dict per evaluated resource and its related resources) shares existence
        outcomes between policies with the same :attr:`existence_key`; the outcome object is then
        shared too. ``request`` is what ``requestContext()`` returns. Raises EvaluationError (or
        ConditionError) when the rule cannot be evaluated.
        """
        context = self.context(resource, timestamp, containers, request)
        effect = self.effect or self._runtime_effect(context)
        if effect.evaluate is None:
            return None
        if not effect.checks_existence:
            applicable = self.applicability
            if applicable is not True and (applicable is False or not applicable(context)):
                return None
            if not self.condition.test(context):
                return effect, Outcome(True, self.condition.explain(context, False) if explain else [])
            return effect, effect.evaluate(self, context, [], explain)
        if not self.condition.test(context):
            return None
        candidates = related.get(self.related_type_key, [])
        name = None
        if self.related_name is not None:
            name = self.related_name(context)
            wanted = str(name).lower()
            candidates = [item for item in candidates if named(item, wanted)]
        if decided is None or self.existence_key is None:
            return effect, effect.evaluate(self, context, candidates, explain)
        key = (effect.evaluate, explain, self.existence_key, repr(name))
        outcome = decided.get(key)
        if outcome is None:
            outcome = decided[key] = effect.evaluate(self, context, candidates, explain)
        return effect, outcome

    def resolved_details(self, context: RuleContext) -> Any:
        """What the effect applies to ``context``'s resource (None when it applies nothing): Modify's
        ``roleDefinitionIds`` and ``operations``, Append's ``field``/``value`` pairs, an existence check's
        ``roleDefinitionIds`` and related ``type``. Values are evaluated; a field is kept as written (it names
        what to write), and so is a Modify operation's ``condition`` (docs "modify effect": Azure evaluates it
        on the request, without ``field()``)."""
        if self._resolve_details is None:
            self._resolve_details = self._compile_details()
        return self._resolve_details(context)

    def context(self, resource: dict[str, Any], timestamp: datetime, containers: Containers | None = None,
                request: Mapping[str, Any] = OFFLINE_REQUEST) -> RuleContext:
        """The rule context of ``resource`` under this policy (its alias table, the request)."""
        return RuleContext(resource, timestamp, self.policy_info, containers, self.aliases, request)

    def _compile_details(self) -> Callable[[RuleContext], Any]:
        """The compiled form of :meth:`resolved_details` for this policy's effect."""
        then = {key.lower(): value for key, value in self.definition.policy_rule.get("then", {}).items()}
        details = then.get("details")
        registry = registry_with_parameters(self.parameters)
        kind = (self.effect.name if self.effect is not None else "").lower()
        try:
            if kind == "append" and isinstance(details, dict | list):
                items = details if isinstance(details, list) else [details]
                return _applied(registry, [_pick(item, ("field",), ("value",)) for item in items])
            if not isinstance(details, dict):
                return lambda context: None
            if kind == "modify":
                operations = [_pick(operation, ("operation", "field", "condition"), ("value",))
                              for operation in _member(details, "operations") or ()]
                return _applied(registry, {**_pick(details, (), ("roleDefinitionIds",)), "operations": operations})
            if self.effect is not None and self.effect.checks_existence:
                return _applied(registry, _pick(details, (), ("roleDefinitionIds", "type")))
        except ExpressionSyntaxError as error:
            raise InputError(self.definition.origin, f"bad expression: {error}",
                             location="policyRule.then.details") from None
        return lambda context: None

    def _runtime_effect(self, context: RuleContext) -> Effect:
        value = self.effect_expression(context)
        found = find_effect(value)
        if found is None:
            raise EvaluationError(f"then.effect evaluated to unknown effect {value!r}")
        if found.offline_refusal:
            raise EvaluationError(f"effect {found.name} {found.offline_refusal}")
        return found


def named(resource: dict[str, Any], wanted: str) -> bool:
    """Whether a related resource is the one ``details.name`` (lower-case) names: AuditIfNotExists and
    DeployIfNotExists pages, "the exact name of the resource to match"; a nested resource by its full name
    (``"parentResourceName/nestedResourceName"``), and "a wildcard character ``?`` can be provided in place of
    the last name segment" to match every nested resource of that parent (``"parentResourceName/?"``)."""
    own = str(resource.get("name", "")).lower()
    parent, _, last = wanted.rpartition("/")
    if not parent:  # a single name
        return last in ("?", own)
    full = str(full_name(resource) or "").lower()
    if "/" not in full:  # no parent known (an extension resource, no parseable id)
        return last in ("?", own)
    full_parent, _, full_last = full.rpartition("/")
    return full_parent == parent and last in ("?", full_last)


def _member(document: Any, name: str) -> Any:
    """``document[name]`` with the name matched case-insensitively (None when absent)."""
    if not isinstance(document, dict):
        return None
    return next((value for key, value in document.items() if key.lower() == name.lower()), None)


def _pick(document: Any, literal: tuple[str, ...], evaluated: tuple[str, ...]) -> dict[str, Any]:
    """The members of ``document`` named (case-insensitively) in ``literal`` (kept as written: marked, see
    :func:`_applied`) or in ``evaluated``, under those names."""
    wanted = {name.lower(): name for name in (*literal, *evaluated)}
    picked: dict[str, Any] = {}
    for key, value in document.items() if isinstance(document, dict) else ():
        name = wanted.get(key.lower())
        if name is not None:
            picked[name] = _Literal(value) if name in literal else value
    return picked


class _Literal:
    """A details member kept as written (never evaluated as an expression)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def _applied(registry: FunctionRegistry, shape: Any) -> Callable[[RuleContext], Any]:
    """``shape`` compiled: its values evaluated, its :class:`_Literal` members as written."""
    if isinstance(shape, _Literal):
        return lambda context: shape.value
    if isinstance(shape, dict):
        members = {name: _applied(registry, value) for name, value in shape.items()}
        return lambda context: {name: member(context) for name, member in members.items()}
    if isinstance(shape, list):
        items = [_applied(registry, item) for item in shape]
        return lambda context: [item(context) for item in items]
    return compile_value(shape, registry)


def refuse_provider_mode(definition: PolicyDefinition) -> None:
    """Raise :class:`NotEvaluable` for a definition in a resource-provider mode (before its parameters
    are even resolved: an initiative may pass it parameters only the provider's version declares)."""
    if RESOURCE_PROVIDER_MODE.fullmatch(definition.mode):
        raise NotEvaluable(f"mode {definition.mode} is a resource-provider mode: Azure evaluates it on the "
                           "provider's own data (in the cluster, the vault ...), not on ARM resources")


def compile_policy(definition: PolicyDefinition, parameters: dict[str, Any], policy_info: dict[str, str],
                   reference_id: str | None = None, infer_aliases: bool = True,
                   aliases: AliasTable = DEFAULT_ALIASES, unset: frozenset[str] = frozenset()) -> CompiledPolicy | None:
    """Compile ``definition`` with resolved ``parameters``; None when its effect is Disabled.

    Fields resolve against ``aliases`` (arcpolicy's table by default). ``infer_aliases=False``
    (``--strict-aliases``) refuses aliases outside the explicit table instead of reading them by Azure's
    default convention; the policy's ``inferred_aliases`` lists those read so. ``unset`` names declared
    parameters left without a value (see :func:`registry_with_parameters`).
    """
    source = definition.origin
    rule = definition.policy_rule
    keys = {key.lower(): key for key in rule}
    if "if" not in keys or "then" not in keys or not isinstance(rule[keys["then"]], dict):
        raise InputError(source, "policyRule needs 'if' and 'then'", location="policyRule", value=sorted(rule))
    if definition.mode.lower() not in MODES:
        refuse_provider_mode(definition)
        raise InputError(source, "unsupported mode: arcpolicy evaluates ARM resources (All, Indexed)",
                         location="mode", value=definition.mode)
    compiler = RuleCompiler(registry_with_parameters(parameters, unset), source, infer_aliases, aliases,
                            secure=secure_parameters(rule))
    then = rule[keys["then"]]
    then_keys = {key.lower(): key for key in then}
    if "effect" not in then_keys:
        raise InputError(source, "then.effect is missing", location="policyRule.then")
    effect_expression = compiler.expression(then[then_keys["effect"]], "policyRule.then.effect")
    effect: Effect | None = None
    is_constant, effect_name = constant_value(effect_expression)
    if is_constant:
        effect = find_effect(effect_name)
        if effect is None:
            raise InputError(source, "unknown effect", location="policyRule.then.effect", value=effect_name)
        if effect.offline_refusal:
            raise NotEvaluable(f"effect {effect.name} {effect.offline_refusal}")
        if effect.evaluate is None:
            return None
    details = then.get(then_keys.get("details", "details")) or {}
    if not isinstance(details, dict):
        details = {}
    detail_keys = {key.lower(): key for key in details}
    if effect is None or effect.name.lower() == "modify":
        _refuse_unmodifiable(details.get(detail_keys.get("operations", "operations")), aliases, source)
    if effect is not None and effect.name.lower() == "modify":
        _check_modify_details(details, detail_keys, source)
    existence_condition = related_name = None
    if (effect is None or effect.checks_existence) and "type" in detail_keys:
        if "existencecondition" in detail_keys:
            existence_condition = compiler.compile(details[detail_keys["existencecondition"]],
                                                   "policyRule.then.details.existenceCondition")
        if "name" in detail_keys:
            related_name = compiler.expression(details[detail_keys["name"]], "policyRule.then.details.name")
    elif effect is not None and effect.checks_existence:
        raise InputError(source, f"{effect.name} needs then.details.type", location="policyRule.then.details")
    condition = compiler.compile(rule[keys["if"]], "policyRule.if")
    existence_key = _existence_key(details, detail_keys, parameters, policy_info)
    compiled = CompiledPolicy(definition, parameters, policy_info, reference_id, condition, effect, effect_expression,
                              details, existence_condition, related_name, existence_key)
    compiled.inferred_aliases = compiler.inferred
    if effect is not None and effect.name.lower() == "modify" and _adds_identity_type(details.get(
            detail_keys.get("operations", "operations"))):
        compiled.applicability = restricted_to(compiled.applicability, IDENTITY_MODIFIABLE_TYPES)
    compiled.aliases = aliases
    if "defaultstate" in detail_keys:
        compiled.default_state = compiler.expression(details[detail_keys["defaultstate"]],
                                                     "policyRule.then.details.defaultState")
    return compiled


def _refuse_unmodifiable(operations: Any, aliases: AliasTable, source: str) -> None:
    """A Modify operation on an alias no API version marks Modifiable can never apply (effect-modify: "The
    property the alias maps to is marked as 'Modifiable' in the request's API version"), refused as Microsoft's
    conformance cases refuse it; an alias whose table gives no such metadata (arcpolicy's) is not checked."""
    for index, operation in enumerate(operations if isinstance(operations, list) else ()):
        name = operation.get("field") if isinstance(operation, dict) else None
        alias = aliases.resolve(name) if isinstance(name, str) and not name.startswith("[") else None
        if alias is not None and alias.modifiable is False:
            raise InputError(source, f"a Modify operation cannot write '{name}': no API version marks the alias "
                                     "Modifiable", location=f"policyRule.then.details.operations[{index}].field",
                             value=name)


# The modify page's details: "Options are: addOrReplace, Add, and Remove"; "conflictEffect ... Available values:
# audit, deny, disabled"; a value "is required if operation is addOrReplace or Add"; "Remove is only supported
# for resource tags". Azure refuses to create a definition breaking one of them. A Modify without operations is
# evaluated, as Microsoft's case effect_details:modify_no_details evaluates it (docs/azure-policy-conformance.md).
MODIFY_OPERATIONS = frozenset({"addorreplace", "add", "remove"})
CONFLICT_EFFECTS = frozenset({"audit", "deny", "disabled"})
_TAG_FIELD = re.compile(r"tags(\[.*\]|\..+)?", re.IGNORECASE | re.DOTALL)
# "When a modify operation attempts to add or replace the identity.type field on a resource other than a Virtual
# Machine or Virtual Machine Scale Set, policy evaluation is skipped altogether ... the resource is considered not
# applicable to the policy" (effect-modify, Skipped modification).
IDENTITY_MODIFIABLE_TYPES = frozenset({"microsoft.compute/virtualmachines", "microsoft.compute/virtualmachinescalesets"})


def _check_modify_details(details: dict[str, Any], detail_keys: dict[str, str], source: str) -> None:
    """Refuse Modify details the modify page rules out, naming the place."""
    place = "policyRule.then.details"
    conflict = details.get(detail_keys.get("conflicteffect", ""))
    if conflict is not None and not is_expression(conflict) and str(conflict).lower() not in CONFLICT_EFFECTS:
        raise InputError(source, "conflictEffect must be audit, deny or disabled", location=f"{place}.conflictEffect",
                         value=conflict)
    operations = details.get(detail_keys.get("operations", ""))
    if operations is not None and not isinstance(operations, list):
        raise InputError(source, "Modify operations must be an array", location=f"{place}.operations",
                         value=operations)
    for index, operation in enumerate(operations or ()):
        at = f"{place}.operations[{index}]"
        kind = _member(operation, "operation")
        if not isinstance(kind, str) or kind.lower() not in MODIFY_OPERATIONS:
            raise InputError(source, "a Modify operation is addOrReplace, Add or Remove", location=f"{at}.operation",
                             value=kind)
        field = _member(operation, "field")
        if not isinstance(field, str) or not field:
            raise InputError(source, "a Modify operation needs the field it writes", location=f"{at}.field", value=field)
        if kind.lower() != "remove" and not any(key.lower() == "value" for key in operation):
            raise InputError(source, f"a Modify {kind} operation needs a value", location=at)
        if kind.lower() == "remove" and not is_expression(field) and not _TAG_FIELD.fullmatch(field):
            raise InputError(source, "a Modify Remove operation removes tags only", location=f"{at}.field", value=field)


def _adds_identity_type(operations: Any) -> bool:
    """Whether a Modify operation adds or replaces ``identity.type``."""
    return any(isinstance(operation, dict) and str(_member(operation, "field")).lower() == "identity.type"
               and str(_member(operation, "operation")).lower() in ("add", "addorreplace")
               for operation in (operations if isinstance(operations, list) else ()))


def _existence_key(details: dict[str, Any], detail_keys: dict[str, str], parameters: dict[str, Any],
                   policy_info: dict[str, str]) -> Hashable | None:
    """What an existence check depends on: details.type as written, the existence condition's JSON,
    the parameters it references and, when it calls ``policy()``, the policy info. None when it
    cannot be told (a parameter named by an expression, values that are not JSON)."""
    source = json.dumps(details.get(detail_keys.get("existencecondition", "")), sort_keys=True)
    names = PARAMETER_REFERENCE.findall(source)
    if source.lower().count("parameters(") != len(names):
        return None
    referenced = {name.lower() for name in names}
    values = {name.lower(): value for name, value in parameters.items() if name.lower() in referenced}
    context = sorted(policy_info.items()) if "policy(" in source.lower() else None
    try:
        return str(details.get(detail_keys.get("type", ""), "")), source, json.dumps([values, context], sort_keys=True)
    except (TypeError, ValueError):
        return None
