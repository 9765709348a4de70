"""What-if: a changed policy set evaluated over a stored scan's inventory, compared with that scan's verdicts.

Policy authors see what a pull request does to the real fleet before it is merged and assigned:
per assignment, the records that become non-compliant (with the reasons), those that become
compliant, and records that appear or disappear; and the definitions the change adds or removes.
Records match across the two as ``arcpolicy diff`` matches them (resource, assignment, reference id).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from engine import __version__
from engine.evaluate import ScanRequest, run_scan
from engine.history.diff import Change, diff_states
from engine.history.recording import assigned_definitions
from engine.history.store import AssignedDefinition, HistoryStore, record_key
from engine.ids import normalize
from engine.models.results import ComplianceState, PolicyState
from engine.output.redact import redact_state
from engine.output.summary import policy_key, policy_title


class RecordRef(BaseModel):
    """A record only one side has: its resource, policy and state."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    resource_id: str
    policy: str
    state: ComplianceState

    @classmethod
    def of(cls, state: PolicyState) -> RecordRef:
        return cls(resource_id=state.resource_id, policy=policy_key(state), state=state.compliance_state)


class AssignmentImpact(BaseModel):
    """What the change does to one assignment's records."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    assignment_id: str
    assignment_name: str
    title: str
    non_compliant_before: int
    non_compliant_after: int
    newly_non_compliant: list[Change]
    newly_compliant: list[Change]
    new_records: list[RecordRef]
    removed_records: list[RecordRef]

    @property
    def changed(self) -> bool:
        return bool(self.newly_non_compliant or self.newly_compliant or self.new_records or self.removed_records)


class WhatIf(BaseModel):
    """The impact of a policy set on a stored scan's fleet; ``to_json`` is the ``--format json`` contract."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    baseline_scan_id: str
    baseline_started_at: datetime
    baseline_policy_fingerprint: str
    policy_fingerprint: str
    baseline_tool_version: str  # the arcpolicy that recorded the baseline's verdicts
    tool_version: str = __version__
    clusters: int
    definitions_added: list[AssignedDefinition]
    definitions_removed: list[AssignedDefinition]
    assignments: list[AssignmentImpact]
    skipped: list[str] = []

    @property
    def newly_non_compliant(self) -> int:
        return sum(len(impact.newly_non_compliant) for impact in self.assignments)

    @property
    def newly_compliant(self) -> int:
        return sum(len(impact.newly_compliant) for impact in self.assignments)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json")


def _by_assignment(states: Sequence[PolicyState]) -> dict[str, list[PolicyState]]:
    grouped: dict[str, list[PolicyState]] = {}
    for state in states:
        grouped.setdefault(normalize(state.policy_assignment_id), []).append(state)
    return grouped


def _non_compliant(states: Sequence[PolicyState]) -> int:
    return sum(1 for state in states if state.compliance_state is ComplianceState.NON_COMPLIANT)


def _impact(before: Sequence[PolicyState], after: Sequence[PolicyState], named: AssignedDefinition | None,
            baseline_scan_id: str) -> AssignmentImpact:
    sample = (after or before)[0] if (after or before) else None
    diff = diff_states(baseline_scan_id, before, "what-if", after)
    old = {record_key(state) for state in before}
    new = {record_key(state) for state in after}
    titles = sorted({policy_title(state) for state in (*after, *before)})
    return AssignmentImpact(
        assignment_id=named.assignment_id if named else sample.policy_assignment_id if sample else "",
        assignment_name=named.assignment_name if named else sample.policy_assignment_name if sample else "",
        title=", ".join(titles) or (named.display_name if named and named.display_name else ""),
        non_compliant_before=_non_compliant(before), non_compliant_after=_non_compliant(after),
        newly_non_compliant=diff.newly_non_compliant, newly_compliant=diff.fixed,
        new_records=[RecordRef.of(state) for state in after if record_key(state) not in old],
        removed_records=[RecordRef.of(state) for state in before if record_key(state) not in new])


def _definitions(assignments: Sequence[AssignedDefinition]) -> dict[str, AssignedDefinition]:
    return {normalize(assignment.definition_id): assignment for assignment in assignments}


def compare_policy_sets(baseline_scan_id: str, baseline: Sequence[PolicyState],
                        baseline_assignments: Sequence[AssignedDefinition], states: Sequence[PolicyState],
                        assignments: Sequence[AssignedDefinition]) -> tuple[list[AssignmentImpact],
                                                                             list[AssignedDefinition],
                                                                             list[AssignedDefinition]]:
    """Per assignment (both sides' assignments, sorted by name), and the definitions added and removed."""
    before, after = _by_assignment(baseline), _by_assignment(states)
    named = {normalize(assignment.assignment_id): assignment for assignment in (*baseline_assignments, *assignments)}
    keys = sorted(set(before) | set(after) | set(named),
                  key=lambda key: ((named[key].assignment_name if key in named else key).lower(), key))
    impacts = [_impact(before.get(key, []), after.get(key, []), named.get(key), baseline_scan_id) for key in keys]
    old_definitions, new_definitions = _definitions(baseline_assignments), _definitions(assignments)
    added = [item for key, item in new_definitions.items() if key not in old_definitions]
    removed = [item for key, item in old_definitions.items() if key not in new_definitions]
    return impacts, added, removed


def what_if(store: HistoryStore, baseline: str, request: ScanRequest, policy_fingerprint: str,
            workers: int | None = None) -> WhatIf:
    """Evaluate ``request`` over the inventory of the stored scan ``baseline`` (id, prefix, ``latest[~N]``) and
    compare with that scan's stored verdicts."""
    scan = store.resolve(baseline)
    fleet = store.inventory(scan.scan_id)
    result = run_scan(fleet, request, workers)
    states = [redact_state(state) for state in result.records]  # compared as the store keeps the baseline's
    impacts, added, removed = compare_policy_sets(scan.scan_id, store.states(scan.scan_id),
                                                  store.assignments(scan.scan_id), states,
                                                  assigned_definitions(request))
    return WhatIf(baseline_scan_id=scan.scan_id, baseline_started_at=scan.started_at,
                  baseline_policy_fingerprint=scan.policy_fingerprint, policy_fingerprint=policy_fingerprint,
                  baseline_tool_version=scan.tool_version,
                  clusters=result.clusters, definitions_added=added, definitions_removed=removed,
                  assignments=impacts, skipped=list(result.skipped))
