"""What changed between two scans: newly non-compliant and fixed records, new and gone resources."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from engine.history.records import RecordView
from engine.ids import normalize
from engine.models.results import ComplianceState, PolicyState


class Change(BaseModel):
    """One record whose state moved between the scans."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    resource_id: str
    policy: str
    policy_assignment_name: str
    before: ComplianceState | None  # None: the record is new in the later scan
    after: ComplianceState
    reasons: list[str] = []


class ScanDiff(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    before_scan_id: str
    after_scan_id: str
    newly_non_compliant: list[Change]
    fixed: list[Change]
    new_resources: list[str]
    gone_resources: list[str]

    @property
    def is_empty(self) -> bool:
        return not (self.newly_non_compliant or self.fixed or self.new_resources or self.gone_resources)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json")


def _change(before: RecordView | None, after: RecordView) -> Change:
    return Change(resource_id=after.resource_id, policy=after.policy, policy_assignment_name=after.assignment_name,
                  before=before.state if before else None, after=after.state, reasons=list(after.reasons))


def diff_states(before_scan_id: str, before: Sequence[PolicyState], after_scan_id: str,
                after: Sequence[PolicyState]) -> ScanDiff:
    """:func:`diff_records` of policy states."""
    return diff_records(before_scan_id, [RecordView.of(state) for state in before], after_scan_id,
                        [RecordView.of(state) for state in after])


def diff_records(before_scan_id: str, before: Sequence[RecordView], after_scan_id: str,
                 after: Sequence[RecordView]) -> ScanDiff:
    """Records match on (resource, assignment, reference id), case-insensitively.

    Newly non-compliant: NonCompliant now and not before (including records new in this scan);
    fixed: NonCompliant before and Compliant or Exempt now. Resources are new or gone when no
    record at all names them in the other scan.
    """
    old = {record.record_key: record for record in before}
    new = {record.record_key: record for record in after}
    newly_non_compliant = [
        _change(old.get(key), record) for key, record in new.items()
        if record.state is ComplianceState.NON_COMPLIANT
        and (key not in old or old[key].state is not ComplianceState.NON_COMPLIANT)]
    fixed = [_change(record, new[key]) for key, record in old.items()
             if record.state is ComplianceState.NON_COMPLIANT and key in new
             and new[key].state in (ComplianceState.COMPLIANT, ComplianceState.EXEMPT)]
    old_resources = {normalize(record.resource_id): record.resource_id for record in before}
    new_resources = {normalize(record.resource_id): record.resource_id for record in after}
    return ScanDiff(
        before_scan_id=before_scan_id, after_scan_id=after_scan_id,
        newly_non_compliant=newly_non_compliant, fixed=fixed,
        new_resources=sorted(resource for key, resource in new_resources.items() if key not in old_resources),
        gone_resources=sorted(resource for key, resource in old_resources.items() if key not in new_resources),
    )
