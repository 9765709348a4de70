"""What-if: a changed policy set evaluated over a stored scan's inventory, compared with that scan's verdicts.

Policy authors see what a pull request does to the real fleet before it is merged and assigned:
per assignment, the records that become non-compliant (with the reasons), those that become
compliant, records that stay non-compliant but gain or lose a violation, and records that appear or
disappear; and the definitions the change adds or removes. Records match across the two as ``arcpolicy
diff`` matches them (resource, assignment, reference id); violations within a record by their messages.

The assignments compared are the baseline scan's own (as it stored them) unless the caller gives some; when
the two sets differ, the report says so. Only the assignments whose definition, parameters, scope, exemptions
or attestations changed (:func:`engine.history.recording.assignment_fingerprints`) are evaluated again: the
others' verdicts are the baseline's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from engine import __version__
from engine.azure_policy.documents import PolicyAssignment
from engine.evaluate import ScanRequest
from engine.evaluate.kinds import KINDS
from engine.evaluate.records import Row, gc_paused, row_order
from engine.evaluate.scan import ScanEngine, assign
from engine.history.diff import Change, diff_records
from engine.history.recording import assigned_definitions, policy_set_fingerprint
from engine.history.records import AssignmentRecords, RecordView, records_to_compare
from engine.history.store import AssignedDefinition, HistoryStore, ScanRecord
from engine.ids import normalize
from engine.models.results import ComplianceState


class RecordRef(BaseModel):
    """A record only one side has: its resource, policy and state."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    resource_id: str
    policy: str
    state: ComplianceState

    @classmethod
    def of(cls, record: RecordView) -> RecordRef:
        return cls(resource_id=record.resource_id, policy=record.policy, state=record.state)


class ViolationChange(BaseModel):
    """A record non-compliant on both sides whose violations (reasons) differ: those it gains, or loses."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    resource_id: str
    policy: str
    policy_assignment_name: str
    reasons: list[str]


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
    newly_failing: list[ViolationChange] = []  # non-compliant before and after, with violations it did not have
    no_longer_failing: list[ViolationChange] = []  # non-compliant before and after, without violations it had
    evaluated: bool = True  # False: nothing it depends on changed, so its baseline verdicts stand

    @property
    def changed(self) -> bool:
        return bool(self.newly_non_compliant or self.newly_compliant or self.new_records or self.removed_records
                    or self.newly_failing or self.no_longer_failing)


class AssignmentSets(BaseModel):
    """The assignments compared: whose they are, and how the baseline's and this what-if's differ."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    # "baseline": the baseline scan's stored assignments; "given": the caller's (assignment files); "default":
    # every definition at tenant scope with its defaults (the baseline was scanned so, or kept no assignments)
    source: Literal["baseline", "given", "default"]
    baseline: int  # assignments the baseline scan evaluated
    compared: int  # assignments this what-if evaluates
    only_in_baseline: list[AssignedDefinition] = []
    only_in_whatif: list[AssignedDefinition] = []
    rewritten: list[AssignedDefinition] = []  # in both, written differently (definition, parameters, scope ...)
    reevaluated: int = 0  # assignments evaluated again; the others' verdicts are the baseline's

    @property
    def differ(self) -> bool:
        return bool(self.only_in_baseline or self.only_in_whatif)


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
    assignment_sets: AssignmentSets
    skipped: list[str] = []

    @property
    def newly_non_compliant(self) -> int:
        return sum(len(impact.newly_non_compliant) for impact in self.assignments)

    @property
    def newly_compliant(self) -> int:
        return sum(len(impact.newly_compliant) for impact in self.assignments)

    @property
    def newly_failing(self) -> int:
        return sum(len(impact.newly_failing) for impact in self.assignments)

    @property
    def no_longer_failing(self) -> int:
        return sum(len(impact.no_longer_failing) for impact in self.assignments)

    @property
    def findings(self) -> int:
        """What fails a CI gate: records that become non-compliant, and non-compliant ones failing something new."""
        return self.newly_non_compliant + self.newly_failing

    def to_json(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json")


def _by_assignment(records: Sequence[RecordView]) -> dict[str, list[RecordView]]:
    grouped: dict[str, list[RecordView]] = {}
    for record in records:
        grouped.setdefault(record.assignment_key, []).append(record)
    return grouped


def _non_compliant(records: Sequence[RecordView]) -> int:
    return sum(1 for record in records if record.state is ComplianceState.NON_COMPLIANT)


def _violation_changes(before: Sequence[RecordView], after: Sequence[RecordView]) -> tuple[list[ViolationChange],
                                                                                             list[ViolationChange]]:
    """Records non-compliant on both sides: the violations each gains, and those it loses (by message)."""
    old = {record.record_key: record for record in before if record.state is ComplianceState.NON_COMPLIANT}
    gained, lost = [], []
    for record in after:
        previous = old.get(record.record_key)
        if previous is None or record.state is not ComplianceState.NON_COMPLIANT:
            continue
        for found, target in ((_missing(record.reasons, previous.reasons), gained),
                              (_missing(previous.reasons, record.reasons), lost)):
            if found:
                target.append(ViolationChange(resource_id=record.resource_id, policy=record.policy,
                                              policy_assignment_name=record.assignment_name, reasons=found))
    return gained, lost


def _missing(reasons: Sequence[str], other: Sequence[str]) -> list[str]:
    """The reasons of ``reasons`` that ``other`` does not have, in order, each once."""
    present = set(other)
    return list(dict.fromkeys(reason for reason in reasons if reason not in present))


def _impact(before: Sequence[RecordView], after: Sequence[RecordView], named: AssignedDefinition | None,
            baseline_scan_id: str) -> AssignmentImpact:
    sample = (after or before)[0] if (after or before) else None
    diff = diff_records(baseline_scan_id, before, "what-if", after)
    old = {record.record_key for record in before}
    new = {record.record_key for record in after}
    titles = sorted({record.title for record in (*after, *before)})
    gained, lost = _violation_changes(before, after)
    return AssignmentImpact(
        assignment_id=named.assignment_id if named else sample.assignment_id if sample else "",
        assignment_name=named.assignment_name if named else sample.assignment_name if sample else "",
        title=", ".join(titles) or (named.display_name if named and named.display_name else ""),
        non_compliant_before=_non_compliant(before), non_compliant_after=_non_compliant(after),
        newly_non_compliant=diff.newly_non_compliant, newly_compliant=diff.fixed,
        new_records=[RecordRef.of(record) for record in after if record.record_key not in old],
        removed_records=[RecordRef.of(record) for record in before if record.record_key not in new],
        newly_failing=gained, no_longer_failing=lost)


def _unchanged(named: AssignedDefinition, stored: AssignmentRecords | None) -> AssignmentImpact:
    """An assignment nothing of which changed: its baseline verdicts stand."""
    count = stored.non_compliant if stored else 0
    title = ", ".join(sorted(stored.titles)) if stored and stored.titles else named.display_name or ""
    return AssignmentImpact(assignment_id=named.assignment_id, assignment_name=named.assignment_name, title=title,
                            non_compliant_before=count, non_compliant_after=count, newly_non_compliant=[],
                            newly_compliant=[], new_records=[], removed_records=[], evaluated=False)


def _definitions(assignments: Sequence[AssignedDefinition]) -> dict[str, AssignedDefinition]:
    return {normalize(assignment.definition_id): assignment for assignment in assignments}


def _keyed(assignments: Sequence[AssignedDefinition]) -> dict[str, AssignedDefinition]:
    return {normalize(assignment.assignment_id): assignment for assignment in assignments}


def stored_assignments(request: ScanRequest, scan: ScanRecord,
                       stored: Sequence[AssignedDefinition]) -> tuple[ScanRequest, list[str]]:
    """``request`` with the baseline's stored assignments in place of its defaults, and a note per stored
    assignment whose definition the policy set no longer has (its records then show as removed)."""
    kept, notes = [], []
    for number, item in enumerate(stored, 1):
        if item.document is None:
            continue
        assignment = PolicyAssignment.model_validate(
            {**item.document, "source": f"scan {scan.scan_id}", "place": f"stored assignment {number}"})
        if any(KINDS[name].owns(library, assignment) for name, library in request.libraries.items()):
            kept.append(assignment)
        else:
            notes.append(f"assignment '{assignment.name}' of scan {scan.scan_id} assigns "
                         f"{assignment.policy_definition_id}, which the policy set no longer has: its records are "
                         "removed")
    return assign(request, kept), notes


def _only_some(request: ScanRequest, keys: set[str]) -> ScanRequest:
    """The request evaluating only the assignments of ``keys``, and only the kinds assigned among them (a kind
    without assignments would still look at every resource)."""
    assignments = {name: [assignment for assignment in assignments if normalize(assignment.id) in keys]
                   for name, assignments in request.assignments.items()}
    assignments = {name: chosen for name, chosen in assignments.items() if chosen}
    return replace(request, assignments=assignments,
                   libraries={name: library for name, library in request.libraries.items() if name in assignments})


def what_if(store: HistoryStore, baseline: str, request: ScanRequest, policies: Sequence[Path]) -> WhatIf:
    """Evaluate ``request`` over the inventory of the stored scan ``baseline`` (id, prefix, ``latest[~N]``) and
    compare with that scan's stored verdicts. A request assigned by default (no assignment files) takes the
    baseline's stored assignments when it kept them; ``policies`` are the files ``request`` was loaded from."""
    scan = store.resolve(baseline)
    stored = store.assignments(scan.scan_id)
    source: Literal["baseline", "given", "default"] = "given"
    notes: list[str] = []
    if request.assigned_by_default:
        source = "default"
        if any(item.document is not None for item in stored):
            request, notes = stored_assignments(request, scan, stored)
            source = "baseline"
    assignments = assigned_definitions(request, policies)
    fingerprints = {normalize(item.assignment_id): item.fingerprint for item in stored}
    evaluated = {key for key, item in _keyed(assignments).items()
                 if item.fingerprint is None or fingerprints.get(key) != item.fingerprint}
    after, clusters = _evaluate(store, scan.scan_id, _only_some(request, evaluated))
    reused = set(_keyed(assignments)) - evaluated  # their baseline verdicts stand: only counted, not compared
    with store.engine.connect() as connection:
        before, figures = records_to_compare(connection, scan.scan_id, lambda key: key not in reused)
    impacts = _impacts(scan.scan_id, stored, assignments, before, after, reused, figures)
    old_definitions, new_definitions = _definitions(stored), _definitions(assignments)
    return WhatIf(baseline_scan_id=scan.scan_id, baseline_started_at=scan.started_at,
                  baseline_policy_fingerprint=scan.policy_fingerprint,
                  policy_fingerprint=policy_set_fingerprint(policies, request),
                  baseline_tool_version=scan.tool_version, clusters=clusters,
                  definitions_added=[item for key, item in new_definitions.items() if key not in old_definitions],
                  definitions_removed=[item for key, item in old_definitions.items() if key not in new_definitions],
                  assignments=impacts, assignment_sets=_compare_sets(source, stored, assignments, len(evaluated)),
                  skipped=[*notes, *request.skipped])


def _evaluate(store: HistoryStore, scan_id: str, request: ScanRequest) -> tuple[list[RecordView], int]:
    """The records of ``request`` over the stored scan's fleet, in the scan's order, and its clusters. Evaluated
    in this process as the groups are read (a batch at a time): only the changed assignments are, a fraction
    of a scan's work, which workers would each have to read back from the store."""
    rows: list[Row] = []
    clusters = 0
    with store.stored_fleet(scan_id) as fleet, gc_paused():
        engine = ScanEngine(request, fleet.containers)
        for batch in fleet.clusters:
            result = engine.evaluate(batch)
            rows += result.rows
            clusters += result.clusters
        rows += engine.evaluate_containers(fleet.containers).rows
    rows.sort(key=row_order)
    return [RecordView.of_row(row) for row in rows], clusters


def _impacts(baseline_scan_id: str, stored: Sequence[AssignedDefinition], assignments: Sequence[AssignedDefinition],
             before: Sequence[RecordView], after: Sequence[RecordView], reused: set[str],
             figures: dict[str, AssignmentRecords]) -> list[AssignmentImpact]:
    """Per assignment (both sides' assignments, sorted by name)."""
    old, new = _by_assignment(before), _by_assignment(after)
    named = {**_keyed(stored), **_keyed(assignments)}
    keys = sorted(set(old) | set(new) | set(named) | set(figures),
                  key=lambda key: ((named[key].assignment_name if key in named else key).lower(), key))
    return [_unchanged(named[key], figures.get(key)) if key in reused
            else _impact(old.get(key, []), new.get(key, []), named.get(key), baseline_scan_id) for key in keys]


def _compare_sets(source: Literal["baseline", "given", "default"], stored: Sequence[AssignedDefinition],
                  assignments: Sequence[AssignedDefinition], reevaluated: int) -> AssignmentSets:
    old, new = _keyed(stored), _keyed(assignments)
    rewritten = [item for key, item in new.items() if key in old and old[key].document is not None
                 and item.document is not None and old[key].document != item.document]
    return AssignmentSets(source=source, baseline=len(old), compared=len(new),
                          only_in_baseline=[item for key, item in old.items() if key not in new],
                          only_in_whatif=[item for key, item in new.items() if key not in old],
                          rewritten=rewritten, reevaluated=reevaluated)
