"""Effects, each one registered unit: what a matched resource's compliance is under that effect.

Evaluating existing resources offline (docs "Azure Policy compliance states": for existing resources
Deny, Audit, Append and Modify are NonCompliant when the rule is true, Compliant when false), Audit,
Deny, Modify, Append and DenyAction make a matched resource NonCompliant (an applicable one whose
``if`` is false is Compliant, see :mod:`engine.azure_policy.applicability`); AuditIfNotExists and
DeployIfNotExists look at the related resources; Manual reports its default state until attested;
Disabled is never evaluated; effects with no state offline are refused per definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.azure_policy.compiler import explain_deciding
from engine.azure_policy.functions import RuleContext
from engine.azure_policy.reasons import reason
from engine.expressions import EvaluationError
from engine.models.results import ComplianceState, Reason

if TYPE_CHECKING:
    from engine.azure_policy.policy import CompiledPolicy


@dataclass(slots=True)
class Outcome:
    """The verdict on one matched resource: compliant or not, and why."""

    compliant: bool
    reasons: list[Reason] = field(default_factory=list)
    state: ComplianceState | None = None  # the state itself when the effect decides more than yes/no (Manual)


EffectEvaluator = Callable[["CompiledPolicy", RuleContext, list[dict[str, Any]], bool], Outcome]


@dataclass(frozen=True, slots=True)
class Effect:
    """An effect: its canonical name (as ``policyDefinitionAction`` shows it, lower-case in Azure),
    whether it needs ``details.type`` related resources, and how it decides.

    ``evaluate(policy, context, related, explain)`` builds reasons only when ``explain`` is set.
    """

    name: str
    evaluate: EffectEvaluator | None
    checks_existence: bool = False
    offline_refusal: str | None = None  # why an effect that acts only on requests or in a cluster is not evaluated
    action: str = field(init=False)  # ``policyDefinitionAction``: the name in lower case, as Azure shows it

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", self.name.lower())


EFFECTS: dict[str, Effect] = {}


def effect(name: str, checks_existence: bool = False) -> Callable[[EffectEvaluator], EffectEvaluator]:
    def register(evaluate: EffectEvaluator) -> EffectEvaluator:
        EFFECTS[name.lower()] = Effect(name, evaluate, checks_existence)
        return evaluate

    return register


def find_effect(name: Any) -> Effect | None:
    return EFFECTS.get(str(name).lower()) if isinstance(name, str) else None


def _matched(policy: CompiledPolicy, context: RuleContext, related: list[dict[str, Any]], explain: bool) -> Outcome:
    """The ``if`` matched: the resource is non-compliant, and the matched conditions say why."""
    return Outcome(False, policy.condition.explain(context, True) if explain else [])


for _name in ("Audit", "Deny", "DenyAction"):
    effect(_name)(_matched)


@effect("Modify")
@effect("Append")
def _alters(policy: CompiledPolicy, context: RuleContext, related: list[dict[str, Any]], explain: bool) -> Outcome:
    """The ``if`` matched a resource Modify or Append would alter: non-compliant (docs "Azure Policy compliance
    states": existing resources are not changed, they are marked non-compliant), the matched conditions and
    what the effect would write saying why."""
    outcome = _matched(policy, context, related, explain)
    if explain:
        outcome.reasons.extend(_alterations(policy.resolved_details(context)))
    return outcome


def _alterations(details: Any) -> list[Reason]:
    """One reason per Modify operation or Append pair: what remediating the resource would write."""
    if isinstance(details, list):  # Append: field/value pairs
        return [reason(f"append would add {_shown(item.get('value'))} to {item.get('field')}",
                       f"policyRule.then.details[{index}]", item.get("field"), "append", item.get("value"))
                for index, item in enumerate(details)]
    found = []
    for index, operation in enumerate(details.get("operations") or () if isinstance(details, dict) else ()):
        action, value = operation.get("operation"), operation.get("value")
        written = f" = {_shown(value)}" if "value" in operation else ""
        when = f" when {operation['condition']}" if "condition" in operation else ""
        found.append(reason(f"modify would {action} {operation.get('field')}{written}{when}",
                            f"policyRule.then.details.operations[{index}]", operation.get("field"), action, value))
    return found


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


MANUAL_STATES = {state.value.lower(): state for state in
                 (ComplianceState.COMPLIANT, ComplianceState.NON_COMPLIANT, ComplianceState.UNKNOWN)}


@effect("Manual")
def _manual(policy: CompiledPolicy, context: RuleContext, related: list[dict[str, Any]], explain: bool) -> Outcome:
    """Docs "Azure Policy definitions manual effect": a matched resource takes ``details.defaultState``
    (Unknown when absent) until an attestation (``--attestation``) sets its state."""
    value = policy.default_state(context) if policy.default_state is not None else "Unknown"
    state = MANUAL_STATES.get(str(value).lower())
    if state is None:
        raise EvaluationError(f"then.details.defaultState must be Compliant, NonCompliant or Unknown, got {value!r}")
    reasons = [reason(f"manual policy: {state.value} until attested (details.defaultState)",
                      "policyRule.then.details.defaultState", expected=state.value)] if explain else []
    return Outcome(state is ComplianceState.COMPLIANT, reasons, state)


# Effects that act on requests or inside a cluster, with nothing to decide on an existing ARM resource
# offline (docs "Azure Policy definitions effect basics"): each definition using one is listed as not
# evaluated with this reason, and the scan goes on.
for _name, _why in (
        ("AuditAction", "audits DELETE requests as they are made (denyAction's audit mode); existing resources "
                        "have no state to evaluate offline"),
        ("AddToNetworkGroup", "adds matching virtual networks to an Azure Virtual Network Manager group as Azure "
                              "evaluates them; there is no compliance state to evaluate offline"),
        ("Mutate", "changes Kubernetes requests inside the cluster (Azure Policy add-on for Kubernetes)")):
    EFFECTS[_name.lower()] = Effect(_name, None, offline_refusal=_why)

EFFECTS["disabled"] = Effect("Disabled", None)  # never evaluated: compiling drops Disabled policies


def _existence(policy: CompiledPolicy, context: RuleContext, related: list[dict[str, Any]], explain: bool) -> Outcome:
    """Compliant iff some related resource satisfies the existence condition (or exists, without one)."""
    condition = policy.existence_condition
    candidates = [context.for_resource(resource) for resource in related]
    for candidate in candidates:
        if condition is None or condition.test(candidate):
            reasons = [reason(f"related {policy.related_type} '{candidate.resource.get('name')}' satisfies the "
                              "existence condition", "policyRule.then.details",
                              actual=candidate.resource.get("id"))] if explain else []
            return Outcome(True, reasons)
    if not explain:
        return Outcome(False)
    named = f" named {policy.related_name(context)!r}" if policy.related_name is not None else ""
    if not candidates:
        return Outcome(False, [reason(f"no related {policy.related_type}{named} exists",
                                      "policyRule.then.details.type", expected=policy.related_type)])
    assert condition is not None
    # the two candidates that fail the fewest conditions (the first ones on a tie); each candidate's
    # failing conditions found once, the chosen ones explained without testing them again
    ranked = [(condition.deciding(candidate, False), candidate) for candidate in candidates]
    closest = ranked if len(ranked) == 1 else sorted(ranked, key=lambda pair: len(pair[0]))[:2]
    explained = [(explain_deciding(candidate, deciding), candidate) for deciding, candidate in closest]
    reasons = [reason(f"no related {policy.related_type}{named} satisfies the existence condition "
                      f"({len(candidates)} checked); closest: "
                      + ", ".join(f"'{candidate.resource.get('name')}'" for _, candidate in explained),
                      "policyRule.then.details.existenceCondition")]
    for failing, candidate in explained:
        name = candidate.resource.get("name")
        for each in failing:  # fresh reasons: name the candidate in place
            each.message = f"{name}: {each.message}"
            reasons.append(each)
    return Outcome(False, reasons)


effect("AuditIfNotExists", checks_existence=True)(_existence)
effect("DeployIfNotExists", checks_existence=True)(_existence)
