"""Per-policy summary of a scan: compliant, non-compliant, exempt, error and not applicable.

Not applicable counts in-scope resources the policy does not apply to (they have no record; see
:mod:`engine.azure_policy.applicability`); a definition (member) arcpolicy cannot evaluate has its
reason in ``not_evaluated``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from engine.azure_policy.documents import PolicyAssignment
from engine.evaluate.kinds import NotEvaluated, PolicyKey
from engine.models.results import ComplianceState, PolicyState


class PolicySummary(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    policy_assignment_id: str
    policy_assignment_name: str
    policy_definition_name: str
    policy_definition_display_name: str | None = None
    policy_definition_reference_id: str | None = None
    compliant: int = 0
    non_compliant: int = 0
    exempt: int = 0
    error: int = 0
    unknown: int = 0  # Manual policies not attested
    not_applicable: int = 0
    not_evaluated: str | None = None  # why arcpolicy left this definition (member) out, when it did

    @property
    def applicable(self) -> int:
        """Records whose resource the policy applied to (``if`` matched, or Rego's ``applicable`` held)."""
        return self.compliant + self.non_compliant + self.exempt + self.error + self.unknown

    @property
    def title(self) -> str:
        """The definition's display name and its reference id in an initiative (the assignment is shown apart)."""
        name = self.policy_definition_display_name or self.policy_definition_name
        reference = f" [{self.policy_definition_reference_id}]" if self.policy_definition_reference_id else ""
        return f"{name}{reference}"


STATE_FIELDS = {ComplianceState.COMPLIANT: "compliant", ComplianceState.NON_COMPLIANT: "non_compliant",
                ComplianceState.EXEMPT: "exempt", ComplianceState.ERROR: "error", ComplianceState.UNKNOWN: "unknown"}


# How many records of each state each policy (assignment, definition reference) has.
StateTally = Counter[tuple[PolicyKey, ComplianceState]]


def tally(records: Iterable[PolicyState]) -> StateTally:
    return Counter((PolicyKey(record.policy_assignment_id, record.policy_assignment_name, record.policy_definition_name,
                              record.policy_definition_reference_id, record.policy_definition_display_name),
                    record.compliance_state) for record in records)


def summarize(assignments: Sequence[PolicyAssignment], states: StateTally, not_applicable: Counter[PolicyKey],
              not_evaluated: Sequence[NotEvaluated] = ()) -> list[PolicySummary]:
    """One row per (assignment, definition reference), in assignment order."""
    rows: dict[PolicyKey, PolicySummary] = {}

    def row(key: PolicyKey) -> PolicySummary:
        found = rows.get(key._replace(display_name=None))
        if found is None:
            found = rows[key._replace(display_name=None)] = PolicySummary(
                policy_assignment_id=key.assignment_id, policy_assignment_name=key.assignment_name,
                policy_definition_name=key.definition_name, policy_definition_reference_id=key.reference_id)
        if key.display_name and not found.policy_definition_display_name:
            found.policy_definition_display_name = key.display_name
        return found

    for (key, state), count in states.items():
        summary = row(key)
        attribute = STATE_FIELDS[state]
        setattr(summary, attribute, getattr(summary, attribute) + count)
    for key, count in not_applicable.items():
        row(key).not_applicable += count
    for key, reason in not_evaluated:
        row(key).not_evaluated = reason
    order = {assignment.id: position for position, assignment in enumerate(assignments)}
    return sorted(rows.values(), key=lambda summary: (order.get(summary.policy_assignment_id, len(order)),
                                                      summary.policy_definition_reference_id or ""))
