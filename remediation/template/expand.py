"""Expand an ARM template offline into the concrete resources a deployment would write.

compile once (:class:`CompiledTemplate`) -> bind parameters -> resolve names and ids of every
resource instance (``condition``, ``copy``) -> order instances by ``dependsOn`` -> evaluate
bodies, recursing into nested ``Microsoft.Resources/deployments`` (deployed at their own
``subscriptionId``/``resourceGroup``; with ``inner`` expression evaluation their expressions see
their own parameters, variables and scope functions, with ``outer``, the default, the parent's,
``resourceGroup()`` and ``subscription()`` included) -> redacted :class:`ExpandedResource` leaves whose
``depends_on`` are the ids of other leaves (nesting and deployment dependencies flattened).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from engine import ids
from engine.expressions import EvaluationError, FunctionRegistry
from engine.expressions.registry import within_size
from engine.limits import MAX_TEMPLATE_RESOURCES
from remediation.plan.models import DeferredValue, GeneratedValue, SecretSource
from remediation.template.compile import (
    Compiled,
    TemplateError,
    compile_body,
    compile_variables,
    copy_count,
    plan_time,
    template_array,
    template_object,
)
from remediation.template.functions import PARAMETER_DEFAULT_FUNCTIONS, TEMPLATE_FUNCTIONS, resource_field
from remediation.template.generated import GeneratedValues
from remediation.template.parameter_checks import (
    SECURE_TYPES,
    ParameterRules,
    check_value,
    declared_rules,
    declared_type,
)
from remediation.template.scope import (
    DEPLOYMENT_TYPE,
    DeploymentScope,
    extension_scope_id,
    resource_id_at,
    split_name,
)
from remediation.template.values import TracedText, UnplannableValue, mark_secret, redact

TEMPLATE_ONLY_KEYS = frozenset({"type", "name", "apiversion", "condition", "copy", "dependson", "comments",
                                "scope", "resourcegroup", "subscriptionid"})


@dataclass(frozen=True, slots=True)
class ExpandedResource:
    """One resource a deployment writes: where, what, after which others, and what is deferred."""

    resource_id: str
    resource_type: str
    api_version: str
    body: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    deferred_values: tuple[DeferredValue, ...] = ()
    secret_sources: tuple[SecretSource, ...] = ()
    deployments: tuple[str, ...] = ()  # names of the nested deployments it came from, outermost first
    generated_values: tuple[GeneratedValue, ...] = ()  # utcNow()/newGuid() its deployment generated


# ---- compiled form --------------------------------------------------------------------------------
@dataclass(slots=True)
class CompiledParameter:
    name: str
    type: str
    default: Compiled | None
    rules: ParameterRules
    path: str


@dataclass(slots=True)
class CompiledNested:
    inner: bool
    parameters: dict[str, Compiled]  # evaluated in the parent's context
    template: CompiledTemplate


@dataclass(slots=True)
class CompiledResource:
    path: str
    condition: Compiled | None
    copy_name: str | None
    copy_count: Compiled | None
    type: Compiled
    name: Compiled
    api_version: Compiled
    scope: Compiled | None
    subscription_id: Compiled | None
    resource_group: Compiled | None
    depends_on: list[Compiled]
    body: Compiled
    nested: CompiledNested | None


@dataclass(slots=True)
class CompiledTemplate:
    source: str
    parameters: dict[str, CompiledParameter]
    variables: dict[str, Compiled]
    resources: list[CompiledResource]

    @classmethod
    def compile(cls, template: dict[str, Any], source: str, path: str = "template",
                registry: FunctionRegistry = TEMPLATE_FUNCTIONS) -> CompiledTemplate:
        """Compile every expression of a template once; raises TemplateError naming the path."""
        if not isinstance(template, dict) or not isinstance(template.get("resources", []), list):
            raise TemplateError(source, "a template is an object with a 'resources' array", location=path)
        parameters = {}
        declarations = template_object(template.get("parameters"), source, f"{path}.parameters", "'parameters'")
        for name, declaration in declarations.items():
            where = f"{path}.parameters.{name}"
            declaration = template_object(declaration, source, where, "a parameter declaration")
            default = declaration.get("defaultValue")
            parameters[name.lower()] = CompiledParameter(
                name, declared_type(declaration, source, where),
                None if "defaultValue" not in declaration
                else compile_body(default, PARAMETER_DEFAULT_FUNCTIONS, source, f"{where}.defaultValue"),
                declared_rules(declaration, source, where), where)
        variables = compile_variables(template.get("variables") or {}, registry, source, f"{path}.variables")
        resources = [_compile_resource(resource, registry, source, f"{path}.resources[{index}]")
                     for index, resource in enumerate(template.get("resources") or [])]
        return cls(source, parameters, variables, resources)


def _lower_keys(value: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): item for key, item in value.items()}


def _optional(value: Any, registry: FunctionRegistry, source: str, path: str) -> Compiled | None:
    return None if value is None else compile_body(value, registry, source, path)


def _compile_resource(resource: Any, registry: FunctionRegistry, source: str, path: str) -> CompiledResource:
    if not isinstance(resource, dict):
        raise TemplateError(source, "a template resource is an object", location=path, value=resource)
    keys = _lower_keys(resource)
    for required in ("type", "name", "apiversion"):
        if required not in keys:
            raise TemplateError(source, f"template resource has no '{required}'", location=path)
    copy = template_object(keys.get("copy"), source, f"{path}.copy", "a resource's 'copy'")
    if copy and not isinstance(copy.get("name"), str):
        raise TemplateError(source, "a resource's 'copy' needs a 'name' string", location=f"{path}.copy.name",
                            value=copy.get("name"))
    nested = None
    body_source = {key: value for key, value in resource.items() if key.lower() not in TEMPLATE_ONLY_KEYS}
    if str(keys["type"]).lower() == DEPLOYMENT_TYPE:
        nested = _compile_nested(keys, registry, source, path)
        body_source = {}
    return CompiledResource(
        path=path,
        condition=_optional(keys.get("condition"), registry, source, f"{path}.condition"),
        copy_name=copy.get("name") if copy else None,
        copy_count=_optional(copy.get("count"), registry, source, f"{path}.copy.count") if copy else None,
        type=compile_body(keys["type"], registry, source, f"{path}.type"),
        name=compile_body(keys["name"], registry, source, f"{path}.name"),
        api_version=compile_body(keys["apiversion"], registry, source, f"{path}.apiVersion"),
        scope=_optional(keys.get("scope"), registry, source, f"{path}.scope"),
        subscription_id=_optional(keys.get("subscriptionid"), registry, source, f"{path}.subscriptionId"),
        resource_group=_optional(keys.get("resourcegroup"), registry, source, f"{path}.resourceGroup"),
        depends_on=[compile_body(entry, registry, source, f"{path}.dependsOn[{index}]")
                    for index, entry in enumerate(template_array(keys.get("dependson"), source, f"{path}.dependsOn",
                                                                 "'dependsOn'"))],
        body=compile_body(body_source, registry, source, path),
        nested=nested,
    )


def _compile_nested(keys: dict[str, Any], registry: FunctionRegistry, source: str, path: str) -> CompiledNested:
    properties = _lower_keys(template_object(keys.get("properties"), source, f"{path}.properties",
                                             "a nested deployment's 'properties'"))
    if "template" not in properties:
        raise TemplateError(source, "nested deployment has no inline 'template' (linked templates are not "
                                    "expanded offline)", location=f"{path}.properties")
    options = _lower_keys(template_object(properties.get("expressionevaluationoptions"), source,
                                          f"{path}.properties.expressionEvaluationOptions",
                                          "'expressionEvaluationOptions'"))
    inner = str(options.get("scope", "outer")).lower() == "inner"
    parameters = compile_deployment_parameters(properties.get("parameters"), registry, source,
                                               f"{path}.properties.parameters")
    template = CompiledTemplate.compile(properties["template"], source, f"{path}.properties.template",
                                        TEMPLATE_FUNCTIONS)
    return CompiledNested(inner, parameters, template)


def compile_deployment_parameters(parameters: Any, registry: FunctionRegistry, source: str,
                                  path: str) -> dict[str, Compiled]:
    """A deployment's ``parameters``: ``{"value": ...}`` or a Key Vault ``{"reference": ...}``."""
    compiled: dict[str, Compiled] = {}
    for name, entry in template_object(parameters, source, path, "a deployment's 'parameters'").items():
        entry_path = f"{path}.{name}"
        if not isinstance(entry, dict) or not ({"value", "reference"} & entry.keys()):
            raise TemplateError(source, "a deployment parameter is {\"value\": ...} or {\"reference\": ...}",
                                location=entry_path, value=entry)
        if "value" in entry:
            compiled[name] = compile_body(entry["value"], registry, source, f"{entry_path}.value")
        else:
            compiled[name] = _compile_key_vault_reference(entry["reference"], registry, source,
                                                          f"{entry_path}.reference")
    return compiled


def _compile_key_vault_reference(reference: Any, registry: FunctionRegistry, source: str, path: str) -> Compiled:
    """A Key Vault secret: never read offline; a secret placeholder saying which vault and secret."""
    if not isinstance(reference, dict) or "keyVault" not in reference or "secretName" not in reference:
        raise TemplateError(source, "a Key Vault reference needs 'keyVault.id' and 'secretName'", location=path)
    key_vault = template_object(reference["keyVault"], source, f"{path}.keyVault", "'keyVault'")
    vault = compile_body(key_vault.get("id", ""), registry, source, f"{path}.keyVault.id")
    secret_name = compile_body(reference["secretName"], registry, source, f"{path}.secretName")

    def evaluate(context: Any) -> TracedText:
        vault_id, name = vault(context), secret_name(context)
        naming = [value.source.parameter for value in (vault_id, name)
                  if isinstance(value, TracedText) and value.source.parameter]
        origin = SecretSource(path="", kind="keyVault", key_vault_id=str(vault_id), secret_name=str(name),
                              parameters=naming,
                              policy_assignment_id=next((value.source.policy_assignment_id for value in (vault_id, name)
                                                         if isinstance(value, TracedText)), None))
        return TracedText(f"<key vault secret {name}>", origin, secret=True)

    return evaluate


# ---- evaluation -----------------------------------------------------------------------------------
_MISSING = object()


class Deployment:
    """The evaluation context of one (nested) deployment: parameters, variables, scope, copy indexes.

    ``scope`` is what the scope functions (``resourceGroup()``, ``subscription()``,
    ``resourceId()`` ...) resolve to; ``target`` is where its resources deploy. They differ in a
    nested deployment with ``outer`` expression evaluation, which keeps its parent's ``scope``.
    """

    def __init__(self, template: CompiledTemplate, scope: DeploymentScope, deployment_name: str,
                 parameters: dict[str, Any], template_source: SecretSource, generated: GeneratedValues,
                 evaluated_resource: dict[str, Any] | None = None):
        self.template = template
        self.scope = scope
        self.target = scope
        self.deployment_name = deployment_name
        self.template_source = template_source
        self.generated = generated
        self.evaluated_resource = evaluated_resource
        self.copy_indexes: dict[str | None, int] = {}
        self.names: dict[str, str] = {}  # resource name -> id, for reference('name') and dependsOn
        self._supplied = {name.lower(): value for name, value in parameters.items()}
        unknown = sorted(set(self._supplied) - set(template.parameters))
        if unknown:
            raise TemplateError(template.source, f"parameter '{unknown[0]}' is not declared by the template",
                                location=f"{deployment_name}.parameters")
        for key, value in self._supplied.items():  # ARM validates every value given before deploying
            _check(template.parameters[key], value, template.source, template.parameters[key].path)
        self._parameters: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self._evaluating: set[str] = set()

    def _sharing(self, **changes: Any) -> Deployment:
        """A context sharing this one's parameter and variable caches, with some fields changed."""
        copy = object.__new__(Deployment)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy

    def with_copy_index(self, loop: str | None, index: int) -> Deployment:
        return self._sharing(copy_indexes={**self.copy_indexes, loop: index, None: index})

    def outer_nested(self, target: DeploymentScope, resources: list[CompiledResource]) -> Deployment:
        """A nested deployment with ``outer`` scope: deploys at ``target``, but its expressions see
        this deployment's parameters, variables and scope (``resourceGroup()``, ``subscription()``)."""
        template = CompiledTemplate(self.template.source, self.template.parameters, self.template.variables,
                                    resources)
        return self._sharing(template=template, target=target, names={})

    def copy_index(self, loop: str | None) -> int:
        if loop not in self.copy_indexes:
            raise EvaluationError(f"copyIndex({loop or ''}) outside a copy loop")
        return self.copy_indexes[loop]

    def parameter(self, name: str) -> Any:
        key = name.lower()
        value = self._parameters.get(key, _MISSING)
        if value is _MISSING:
            value = self._parameters[key] = self._bind(key, name)
        return value

    def _bind(self, key: str, name: str) -> Any:
        declaration = self.template.parameters.get(key)
        if declaration is None:
            raise EvaluationError(f"the template declares no parameter '{name}'")
        value = self._supplied.get(key, _MISSING)
        if value is _MISSING:
            if declaration.default is None:
                raise EvaluationError(f"parameter '{declaration.name}' has no value and no defaultValue")
            since = len(self.generated.values)
            value = declaration.default(self)
            self.generated.name_parameter(since, declaration.name)
            _check(declaration, value, self.template.source, f"{declaration.path}.defaultValue")
        if declaration.type in SECURE_TYPES:
            # A secure string given as is keeps its origin (apply sets that parameter's value); a secure
            # object's members, and anything else, are re-derived by re-expanding the template.
            source = value.source if isinstance(value, TracedText) else self.template_source
            value = mark_secret(value, source)
        return within_size(value, f"parameter '{name}'")

    def variable(self, name: str) -> Any:
        key = name.lower()
        if key in self._variables:
            return self._variables[key]
        compiled = self.template.variables.get(key)
        if compiled is None:
            raise EvaluationError(f"the template declares no variable '{name}'")
        if key in self._evaluating:
            raise EvaluationError(f"variable '{name}' refers to itself")
        self._evaluating.add(key)
        try:
            value = self._variables[key] = within_size(compiled(self), f"variable '{name}'")
        finally:
            self._evaluating.discard(key)
        return value

    def field(self, path: str) -> Any:
        if self.evaluated_resource is None:
            raise EvaluationError("field() reads the resource a policy evaluates: only in a deployIfNotExists "
                                  "deployment")
        return resource_field(self.evaluated_resource, path)

    def reference_target(self, name_or_id: str) -> str:
        if name_or_id.startswith("/"):
            return name_or_id
        target = self.names.get(name_or_id.lower())
        if target is None:
            raise EvaluationError(f"reference('{name_or_id}'): no resource of that name in the template")
        return target


def _check(declaration: CompiledParameter, value: Any, source: str, where: str) -> None:
    check_value(declaration.name, declaration.type, declaration.rules, value, source, where)


@dataclass(slots=True)
class _Instance:
    """One resource instance (after condition and copy) with its id, before its body is evaluated."""

    resource: CompiledResource
    context: Deployment
    resource_id: str
    resource_type: str
    name: str
    keys: set[str]  # what a dependsOn entry may call it: id, name, type/name, relative id, copy loop name
    depends_on: set[str] = field(default_factory=set)  # instance ids (keys)


TemplateValues = dict[str, dict[str, Any]]  # resource id (normalized) -> {path: secret written in the template}


def expand_template(template: CompiledTemplate, parameters: dict[str, Any], scope: DeploymentScope,
                    deployment_name: str, template_source: SecretSource | None = None, *,
                    template_values: TemplateValues | None = None,
                    now: datetime | None = None,
                    evaluated_resource: dict[str, Any] | None = None) -> list[ExpandedResource]:
    """Every resource the deployment writes, leaves only (nested deployments flattened).

    ``template_values``, when given, receives the secrets written in the template itself (the
    ``template`` secret sources) in clear, by resource id and path: what apply re-derives them from.
    ``now`` is the time ``utcNow()`` reads (default: the current time); whatever the deployment
    generated is recorded on each resource it writes (``generated_values``). ``evaluated_resource`` is
    what ``field()`` reads (a deployIfNotExists deployment's evaluated resource).
    """
    source = template_source or SecretSource(path="", kind="template")
    generated = GeneratedValues(now or datetime.now(UTC), deployment_name)
    context = Deployment(template, scope, deployment_name, parameters, source, generated, evaluated_resource)
    expanded = _expand(context, inherited=(), deployments=(deployment_name,), template_values=template_values)
    if not generated.values:
        return expanded
    return [replace(resource, generated_values=tuple(generated.values)) for resource in expanded]


def _expand(context: Deployment, inherited: tuple[str, ...], deployments: tuple[str, ...],
            template_values: TemplateValues | None) -> list[ExpandedResource]:
    template = context.template
    instances, skipped = _instances(context)
    successors: dict[str, dict[str, None]] = {}  # dependency -> dependants, nodes in the order first named
    by_key = {ids.normalize(instance.resource_id): instance for instance in instances}
    for key, instance in by_key.items():
        successors.setdefault(key, {})
        for position, entry in enumerate(instance.resource.depends_on):
            value = plan_time(entry(instance.context), template.source, f"{instance.resource.path}.dependsOn[{position}]",
                              "a dependsOn entry")
            for dependency in _dependency_keys(value, instances, skipped, template, instance):
                successors.setdefault(dependency, {})[key] = None
                successors.setdefault(key, {})
                instance.depends_on.add(dependency)
    order = _topological_order(successors)
    if order is None:
        graph = nx.DiGraph((before, after) for before, afters in successors.items() for after in afters)
        cycle = " -> ".join(edge[0] for edge in nx.find_cycle(graph))
        raise TemplateError(template.source, f"dependsOn cycle: {cycle}", location=deployments[-1]) from None
    leaves_of: dict[str, tuple[str, ...]] = {}
    expanded: list[ExpandedResource] = []
    for key in order:
        instance = by_key[key]
        depends = tuple(dict.fromkeys(
            [*inherited, *(leaf for dependency in sorted(instance.depends_on) for leaf in leaves_of[dependency])]))
        if instance.resource.nested is None:
            expanded.append(_leaf(instance, depends, deployments, template_values))
            leaves_of[key] = (instance.resource_id,)
            continue
        children = _expand_nested(instance, depends, deployments, template_values)
        leaves_of[key] = tuple(child.resource_id for child in children)
        expanded.extend(children)
    return expanded


def _topological_order(successors: dict[str, dict[str, None]]) -> list[str] | None:
    """The nodes with each after its dependencies, generation by generation in the order the nodes were first
    named (networkx's ``topological_sort`` order, without a graph per deployment); None on a cycle."""
    indegree = dict.fromkeys(successors, 0)
    for afters in successors.values():
        for after in afters:
            indegree[after] += 1
    generation = [node for node, count in indegree.items() if count == 0]
    order: list[str] = []
    while generation:
        order.extend(generation)
        following = []
        for node in generation:
            for after in successors[node]:
                indegree[after] -= 1
                if indegree[after] == 0:
                    following.append(after)
        generation = following
    return order if len(order) == len(successors) else None


def _instances(context: Deployment) -> tuple[list[_Instance], set[str]]:
    """Resource instances whose condition holds (copy loops unrolled), and the names of those skipped."""
    instances: list[_Instance] = []
    skipped: set[str] = set()
    source = context.template.source
    for resource in context.template.resources:
        count = 1 if resource.copy_count is None else copy_count(
            resource.copy_count(context), source, f"{resource.path}.copy.count")
        if len(instances) + count > MAX_TEMPLATE_RESOURCES:
            raise TemplateError(source, f"more than ARM's {MAX_TEMPLATE_RESOURCES} resources (copies included) in "
                                        "one template", location=resource.path)
        contexts = [context] if resource.copy_count is None else [
            context.with_copy_index(resource.copy_name, index) for index in range(count)]
        for instance_context in contexts:
            resource_type = _text(resource.type(instance_context), source, f"{resource.path}.type", "a resource type")
            name = _text(resource.name(instance_context), source, f"{resource.path}.name", "a resource name")
            keys = {name.lower(), f"{resource_type}/{name}".lower(), (resource.copy_name or "").lower()} - {""}
            if resource.condition is not None and not _condition_holds(plan_time(
                    resource.condition(instance_context), source, f"{resource.path}.condition", "a condition",
                    secret_allowed=True), source, f"{resource.path}.condition"):
                skipped.update(keys)
                skipped.update(_skipped_ids(resource, instance_context, resource_type, name))
                continue
            resource_id = _instance_id(resource, instance_context, resource_type, name)
            keys.update({ids.normalize(resource_id), _relative_id(resource_id, context.target)} - {""})
            if "/providers/" in resource_type.lower():  # legacy {type}/providers/{extension type}: its own type
                resource_type = ids.parse_resource_id(resource_id).type
            instances.append(_Instance(resource, instance_context, resource_id, resource_type, name, keys))
            context.names.setdefault(name.lower(), resource_id)
    return instances, skipped


def _skipped_ids(resource: CompiledResource, context: Deployment, resource_type: str, name: str) -> set[str]:
    """The id and relative id of a resource whose condition is false, when it has a well-formed one
    (a skipped resource's name may well be empty: nothing is deployed)."""
    try:
        resource_id = _instance_id(resource, context, resource_type, name)
    except TemplateError:
        return set()
    return {ids.normalize(resource_id), _relative_id(resource_id, context.target)} - {""}


def _relative_id(resource_id: str, scope: DeploymentScope) -> str:
    """``Namespace/type/name[/providers/...]``: the id below the deployment scope's ``/providers/``, as
    a legacy ``dependsOn`` entry (``Microsoft.Compute/virtualMachines/vm/providers/...``) names it."""
    prefix = ids.normalize(scope.id) + "/providers/"
    key = ids.normalize(resource_id)
    return key[len(prefix):] if key.startswith(prefix) else ""


def _text(value: Any, source: str, path: str, what: str) -> str:
    """A resource's type, name or apiVersion: a string known when planning (ARM refuses any other)."""
    value = plan_time(value, source, path, what)
    if not isinstance(value, str):
        raise TemplateError(source, f"{what} is a string", location=path, value=value)
    return value


def _condition_holds(value: Any, source: str, path: str) -> bool:
    """A resource's ``condition``: a Boolean (or its text, ``'true'``/``'false'``, as ARM converts it)."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise TemplateError(source, "a resource's condition is true or false", location=path, value=value)
    return value


def _instance_id(resource: CompiledResource, context: Deployment, resource_type: str, name: str) -> str:
    try:
        if resource.nested is not None:
            return resource_id_at(_nested_scope(resource, context).id, DEPLOYMENT_TYPE, [name])
        if resource.scope is not None:
            scope = plan_time(resource.scope(context), context.template.source, f"{resource.path}.scope",
                              "an extension resource's scope")
            return resource_id_at(extension_scope_id(str(scope), context.target), resource_type, split_name(name))
        return resource_id_at(context.target.id, resource_type, split_name(name))
    except ValueError as error:
        raise TemplateError(context.template.source, str(error), location=resource.path) from None


def _nested_scope(resource: CompiledResource, context: Deployment) -> DeploymentScope:
    """Where a nested deployment deploys: its ``subscriptionId``/``resourceGroup``, else its parent's target."""
    source = context.template.source
    subscription = _text(resource.subscription_id(context), source, f"{resource.path}.subscriptionId",
                         "a nested deployment's subscriptionId") if resource.subscription_id else None
    group = _text(resource.resource_group(context), source, f"{resource.path}.resourceGroup",
                  "a nested deployment's resourceGroup") if resource.resource_group else None
    return context.target.nested(subscription or None, group or None)


def _dependency_keys(entry: Any, instances: list[_Instance], skipped: set[str], template: CompiledTemplate,
                     dependent: _Instance) -> list[str]:
    """The instances a ``dependsOn`` entry names: an id, a name, ``type/name``, a relative id
    (``Namespace/type/name/providers/Namespace/type/name``, the legacy form) or a copy loop name.

    Entries naming a resource whose condition is false are dropped, as ARM does.
    """
    text = str(entry)
    wanted = {ids.normalize(text)}
    if text.startswith("/"):
        # An id built in another scope (resourceId of a nested deployment) still names its type and name.
        try:
            parsed = ids.parse_resource_id(text)
        except ids.ResourceIdError:
            raise TemplateError(template.source, f"dependsOn entry is not a resource id: {text}",
                                location=dependent.resource.path) from None
        wanted.add(f"{parsed.type}/{'/'.join(name for _, name in parsed.segments) or parsed.name}".lower())
    matches = [ids.normalize(instance.resource_id) for instance in instances if wanted & instance.keys]
    if matches:
        return matches
    if wanted & skipped:
        return []
    raise TemplateError(template.source, f"dependsOn names no resource of the template: {text}",
                        location=dependent.resource.path)


def _leaf(instance: _Instance, depends: tuple[str, ...], deployments: tuple[str, ...],
          template_values: TemplateValues | None) -> ExpandedResource:
    context = instance.context
    body = _present(instance.resource.body(context))
    try:  # ARM's 4 MB template: values shared by reference count each time they appear (in the plan they do)
        within_size(body, "the resource's properties")
    except EvaluationError as error:
        raise TemplateError(context.template.source, str(error), location=instance.resource.path) from None
    values = None if template_values is None else template_values.setdefault(ids.normalize(instance.resource_id), {})
    try:
        redacted = redact(body, context.template_source, values)
    except UnplannableValue as error:
        raise TemplateError(context.template.source, error.message,
                            location=f"{instance.resource.path} ({error.path})") from None
    api_version = _text(instance.resource.api_version(context), context.template.source,
                        f"{instance.resource.path}.apiVersion", "an apiVersion")
    return ExpandedResource(
        resource_id=instance.resource_id, resource_type=instance.resource_type,
        api_version=str(api_version), body=redacted.body, depends_on=depends,
        deferred_values=tuple(redacted.deferred_values), secret_sources=tuple(redacted.secret_sources),
        deployments=deployments)


def _present(value: Any) -> Any:
    """A resource body as ARM deploys it: a member whose value is null is left out, at any depth (template-expressions,
    Null values: "Resource Manager templates treat it as if the property isn't present"); array items stay."""
    if isinstance(value, dict):
        return {name: _present(item) for name, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_present(item) for item in value]
    return value


def _expand_nested(instance: _Instance, depends: tuple[str, ...], deployments: tuple[str, ...],
                   template_values: TemplateValues | None) -> list[ExpandedResource]:
    nested = instance.resource.nested
    assert nested is not None
    parent = instance.context
    target = _nested_scope(instance.resource, parent)
    target = DeploymentScope(target.subscription_id, target.resource_group, parent.target.location, target.tenant_id)
    if nested.inner:
        values = {name: compiled(parent) for name, compiled in nested.parameters.items()}
        child = Deployment(nested.template, target, instance.name, values, parent.template_source, parent.generated,
                           parent.evaluated_resource)
    else:
        child = parent.outer_nested(target, nested.template.resources)
    return _expand(child, depends, (*deployments, instance.name), template_values)

