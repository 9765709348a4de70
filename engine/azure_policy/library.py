"""The loaded Azure Policy definitions and initiatives, and assignments compiled against them.

An assignment names a definition or an initiative (by id, case-insensitive, or by name); its
parameters are validated, initiative parameters flow into each member through the reference's
``parameters`` expressions, and every member compiles into a :class:`CompiledPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine import ids
from engine.azure_policy.compiler import InvalidAliasError
from engine.azure_policy.documents import (
    ASSIGNMENT_TYPE,
    DEFAULT_ID_PREFIX,
    TENANT_SCOPE,
    PolicyAssignment,
    PolicyDefinition,
    PolicyDocuments,
    PolicySetDefinition,
)
from engine.azure_policy.effects import find_effect
from engine.azure_policy.functions import RuleContext, registry_with_parameters
from engine.azure_policy.parameters import resolve_parameters
from engine.azure_policy.policy import CompiledPolicy, NotEvaluable, compile_policy, refuse_provider_mode
from engine.azure_policy.secure import PARAMETER_REFERENCE, secure_parameters, secure_set_parameters
from engine.azure_policy.selectors import overridden_effect
from engine.errors import InputError
from engine.expressions import EvaluationError, ExpressionSyntaxError, compile_value


@dataclass
class CompiledAssignment:
    """An assignment ready to evaluate: one compiled policy per evaluated definition (reference).

    ``policies`` leaves out members whose effect is Disabled, and those arcpolicy cannot evaluate
    offline, which ``not_evaluated`` lists with their reasons.
    """

    assignment: PolicyAssignment
    set_definition: PolicySetDefinition | None
    policies: list[CompiledPolicy]
    not_evaluated: list[UnevaluatedMember] = field(default_factory=list)


@dataclass(frozen=True)
class UnevaluatedMember:
    """An assigned definition (or initiative member) left out of the evaluation, and why (one line)."""

    definition: PolicyDefinition
    reference_id: str | None
    reason: str


class AzurePolicyLibrary:
    """Definitions and initiatives by (case-insensitive) id and by name.

    ``strict_aliases`` refuses aliases outside the explicit table instead of inferring them.
    """

    def __init__(self, documents: PolicyDocuments, strict_aliases: bool = False):
        self.strict_aliases = strict_aliases
        self.definitions = documents.definitions
        self.set_definitions = documents.set_definitions
        self._by_id: dict[str, PolicyDefinition | PolicySetDefinition] = {}
        self._by_name: dict[str, list[PolicyDefinition | PolicySetDefinition]] = {}
        for document in (*documents.definitions, *documents.set_definitions):
            self._by_id[ids.normalize(document.id)] = document
            self._by_name.setdefault(document.name.lower(), []).append(document)

    def find(self, definition_id: str) -> PolicyDefinition | PolicySetDefinition | None:
        """The definition or initiative ``definition_id`` names (its full id, or its name if unique)."""
        found = self._by_id.get(ids.normalize(definition_id))
        if found is not None:
            return found
        by_name = self._by_name.get(definition_id.rstrip("/").rsplit("/", 1)[-1].lower(), [])
        return by_name[0] if len(by_name) == 1 else None

    def compile(self, assignment: PolicyAssignment) -> CompiledAssignment:
        target = self.find(assignment.policy_definition_id)
        if target is None:
            raise InputError(assignment.origin, f"assignment '{assignment.name}': no loaded policy definition or "
                                                "initiative has this policyDefinitionId",
                             location="properties.policyDefinitionId", value=assignment.policy_definition_id)
        owner = f"assignment '{assignment.name}'"
        values = resolve_parameters(target.parameters, assignment.parameter_values(), owner, assignment.origin,
                                    self.secure_parameters(target))
        info = {"assignmentId": assignment.id, "definitionId": target.id, "setDefinitionId": "",
                "definitionReferenceId": ""}
        if isinstance(target, PolicyDefinition):
            try:
                compiled = compile_policy(_overridden(assignment, target, None), values, info,
                                          infer_aliases=not self.strict_aliases)
            except NotEvaluable as refused:
                return CompiledAssignment(assignment, None, [], [UnevaluatedMember(target, None, refused.reason)])
            return CompiledAssignment(assignment, None, [compiled] if compiled else [])
        result = CompiledAssignment(assignment, target, [])
        for index in range(len(target.policy_definitions)):
            member = self._compile_member(assignment, target, index, values)
            if isinstance(member, UnevaluatedMember):
                result.not_evaluated.append(member)
            elif member is not None:
                result.policies.append(member)
        return result

    def _compile_member(self, assignment: PolicyAssignment, initiative: PolicySetDefinition, index: int,
                        set_values: dict[str, Any]) -> CompiledPolicy | UnevaluatedMember | None:
        """A member compiled; or, when arcpolicy cannot evaluate it, why (the other members still run)."""
        reference = initiative.policy_definitions[index]
        location = f"policyDefinitions[{index}]"
        definition = self.find(reference.policy_definition_id)
        if not isinstance(definition, PolicyDefinition):
            raise InputError(initiative.origin, f"initiative '{initiative.name}': no loaded policy definition has "
                                                "this policyDefinitionId",
                             location=f"{location}.policyDefinitionId", value=reference.policy_definition_id)
        reference_id = reference.policy_definition_reference_id or definition.name
        try:
            refuse_provider_mode(definition)
        except NotEvaluable as refused:
            return UnevaluatedMember(definition, reference_id, refused.reason)
        registry = registry_with_parameters(set_values)
        member_values: dict[str, Any] = {}
        for name, wrapped in reference.parameters.items():
            place = f"{location}.parameters.{name}"
            if not isinstance(wrapped, dict) or "value" not in wrapped:
                raise InputError(initiative.origin, "expected {\"value\": ...}", location=place, value=wrapped)
            try:
                member_values[name] = compile_value(wrapped["value"], registry)(
                    RuleContext({"id": TENANT_SCOPE}, datetime.now(UTC), {}))
            except (ExpressionSyntaxError, EvaluationError) as error:
                raise InputError(initiative.origin, f"bad parameter value: {error}", location=place,
                                 value=wrapped["value"]) from None
        owner = f"assignment '{assignment.name}' reference '{reference_id}'"
        values = resolve_parameters(definition.parameters, member_values, owner, initiative.origin,
                                    secure_parameters(definition.policy_rule))
        info = {"assignmentId": assignment.id, "definitionId": definition.id, "setDefinitionId": initiative.id,
                "definitionReferenceId": reference_id}
        try:
            return compile_policy(_overridden(assignment, definition, reference_id), values, info, reference_id,
                                  infer_aliases=not self.strict_aliases)
        except NotEvaluable as refused:
            return UnevaluatedMember(definition, reference_id, refused.reason)
        except InvalidAliasError as invalid:
            if self.strict_aliases:
                raise
            # the docs' applicability table: "any invalid alias in the if conditions: the policy isn't applicable"
            return UnevaluatedMember(definition, reference_id, f"{invalid.one_line()}: an invalid alias makes the "
                                                               "policy not applicable to any resource")

    def secure_parameters(self, target: PolicyDefinition | PolicySetDefinition) -> frozenset[str]:
        """The (lower-case) names of the secret parameters of a definition or initiative."""
        if isinstance(target, PolicyDefinition):
            return secure_parameters(target.policy_rule)
        members = ((reference.parameters, self.find(reference.policy_definition_id))
                   for reference in target.policy_definitions)
        return secure_set_parameters([(given, secure_parameters(member.policy_rule)) for given, member in members
                                      if isinstance(member, PolicyDefinition)])

    def default_assignments(self) -> tuple[list[PolicyAssignment], list[str]]:
        """A tenant-scope assignment with default parameters for every definition and initiative.

        Returns the assignments and, for those needing a parameter without default, a message each.
        """
        assignments, skipped = [], []
        for target in (*self.definitions, *self.set_definitions):
            missing = [name for name, declared in target.parameters.items() if not declared.has_default]
            if missing:
                skipped.append(f"{target.origin}: '{target.display_name or target.name}' not evaluated: "
                               f"{_parameters_without_default(missing)}; assign "
                               f"{'it' if len(missing) == 1 else 'them'} with --assignment")
                continue
            assignments.append(PolicyAssignment(
                id=f"{DEFAULT_ID_PREFIX[ASSIGNMENT_TYPE]}{target.name}", name=target.name,
                display_name=target.display_name, scope=TENANT_SCOPE, policy_definition_id=target.id,
                source=target.source, place=target.place))
        return assignments, skipped


def _overridden(assignment: PolicyAssignment, definition: PolicyDefinition,
                reference_id: str | None) -> PolicyDefinition:
    """``definition`` with ``then.effect`` as the assignment's ``policyEffect`` overrides make it for this member.

    Docs: "the effect chosen in the override is validated against the policy rule and parameter allowed
    value list (in cases where the effect is parameterized)": an unknown effect, or one outside the effect
    parameter's ``allowedValues``, is refused at the override's value.
    """
    rule = definition.policy_rule
    then_key = next((key for key in rule if key.lower() == "then"), None)
    then = rule.get(then_key) if then_key else None
    effect_key = next((key for key in then if key.lower() == "effect"), None) if isinstance(then, dict) else None
    if not assignment.overrides or then_key is None or effect_key is None or not isinstance(then, dict):
        return definition
    effect = then[effect_key]
    changed = overridden_effect(effect, assignment.overrides, reference_id)
    if changed == effect:
        return definition
    parameter = PARAMETER_REFERENCE.fullmatch(effect.strip()[1:-1].strip()) if isinstance(effect, str) else None
    declared = next((value for name, value in definition.parameters.items()
                     if parameter and name.lower() == parameter.group(1).lower()), None)
    allowed = [str(value).lower() for value in declared.allowed_values] if declared and declared.allowed_values \
        else None
    for index, override in enumerate(assignment.overrides):
        place = f"properties.overrides[{index}].value"
        if override.kind != "policyEffect" or not override.picks_member(reference_id):
            continue
        if find_effect(override.value) is None:
            raise InputError(assignment.origin, f"assignment '{assignment.name}': unknown effect", location=place,
                             value=override.value)
        if allowed is not None and override.value.lower() not in allowed:
            raise InputError(assignment.origin, f"assignment '{assignment.name}': the override's effect is not "
                                                f"among the allowed values of '{definition.name}' "
                                                f"({', '.join(map(str, declared.allowed_values or []))})",
                             location=place, value=override.value)
    return definition.model_copy(update={"policy_rule": {**rule, then_key: {**then, effect_key: changed}}})


def _parameters_without_default(names: list[str]) -> str:
    """``parameter 'a' has no default`` / ``parameters 'a', 'b' and 'c' have no default``."""
    quoted = [repr(name) for name in names]
    if len(quoted) == 1:
        return f"parameter {quoted[0]} has no default"
    return f"parameters {', '.join(quoted[:-1])} and {quoted[-1]} have no default"
