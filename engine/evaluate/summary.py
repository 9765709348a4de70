"""Per-policy summary of a scan: compliant, non-compliant, exempt, error and not applicable.

Not applicable counts in-scope resources the policy does not apply to (they have no record; see
:mod:`engine.azure_policy.applicability`); a definition (member) arcpolicy cannot evaluate has its
reason in ``not_evaluated``.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from engine.azure_policy.documents import PolicyAssignment
from engine.evaluate.kinds import NotEvaluated, PolicyKey
from engine.ids import normalize
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
    out_of_scope: bool = False  # the assignment's scope holds no resource of the fleet: nothing was evaluated

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
    summarized = {normalize(key.assignment_id) for key in rows}
    for assignment in assignments:  # scoped where the fleet has nothing: kept, and said
        if normalize(assignment.id) not in summarized:
            row(PolicyKey(assignment.id, assignment.name, assignment.policy_definition_id.rsplit("/", 1)[-1], None,
                          assignment.display_name)).out_of_scope = True
    order = {assignment.id: position for position, assignment in enumerate(assignments)}
    return sorted(rows.values(), key=lambda summary: (order.get(summary.policy_assignment_id, len(order)),
                                                      summary.policy_definition_reference_id or ""))


def out_of_scope_warnings(summary: Sequence[PolicySummary], earlier: Sequence[str]) -> list[str]:
    """A warning per assignment whose scope holds no resource of the fleet (unless ``earlier`` warnings
    already name it, as the one about an unknown management group does)."""
    return [f"assignment '{row.policy_assignment_name}': its scope holds no resource of the fleet, so it evaluated "
            "nothing (check its scope and notScopes)" for row in summary
            if row.out_of_scope and not any(f"assignment '{row.policy_assignment_name}'" in line for line in earlier)]


@dataclass
class VerdictSignatures:
    """Per definition (and initiative member): its records, how many are non-compliant, and an order-free
    checksum of its (resource, state) pairs. Two definitions with different names and the same signature gave
    identical verdicts on the same resources: most likely one rule in two forms (a Rego policy and its Azure
    Policy twin), counted twice in every summary, diff and trend. Small (one entry per definition) and
    mergeable, so a streamed scan's batches each bring theirs."""

    signatures: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # key -> [records, failing, sum]
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    # (definition id, reference id) as given -> its signature: most records repeat a few definitions
    _spelled: dict[tuple[str, str | None], list[int]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, definition_id: str, definition_name: str, reference_id: str | None, resource_id: str,
            state: ComplianceState) -> None:
        signature = self._spelled.get((definition_id, reference_id))
        if signature is None:
            key = (definition_id.lower(), (reference_id or "").lower())
            signature = self.signatures.get(key)
            if signature is None:
                signature = self.signatures[key] = [0, 0, 0]
                self.names[key] = definition_name + (f" [{reference_id}]" if reference_id else "")
            self._spelled[definition_id, reference_id] = signature
        signature[0] += 1
        signature[1] += state is ComplianceState.NON_COMPLIANT
        # the crc32 of "{resource id, lower case}|{state}", continued over the state's part
        signature[2] = (signature[2] + zlib.crc32(_STATE_PARTS[state], zlib.crc32(resource_id.lower().encode()))) \
            % CHECKSUM_MODULUS

    def merge(self, other: VerdictSignatures) -> None:
        for key, (records, failing, checksum) in other.signatures.items():
            signature = self.signatures.setdefault(key, [0, 0, 0])
            signature[0] += records
            signature[1] += failing
            signature[2] = (signature[2] + checksum) % CHECKSUM_MODULUS
            self.names.setdefault(key, other.names[key])

    def warnings(self) -> list[str]:
        alike: dict[tuple[int, ...], list[tuple[str, str]]] = defaultdict(list)
        for key, signature in self.signatures.items():
            if signature[1] and signature[0] >= 2:  # some non-compliant: all-compliant agreement says nothing
                alike[tuple(signature)].append(key)
        warnings = []
        for (records, failing, _), keys in alike.items():
            shown = sorted({self.names[key] for key in keys})
            if len(shown) > 1:
                warnings.append(f"{' and '.join(repr(name) for name in shown)} give identical verdicts on the same "
                                f"{records} resources ({failing} non-compliant): if they are one rule in two forms "
                                "(a Rego policy and its Azure Policy twin), keep one, or every count, diff and trend "
                                "shows it twice")
        return sorted(warnings)


CHECKSUM_MODULUS = 1 << 64
_STATE_PARTS = {state: f"|{state.value}".encode() for state in ComplianceState}
