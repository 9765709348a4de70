"""Compliance summaries: the totals, per-policy and per-cluster views the human-readable formats show."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from engine.ids import CLUSTER_TYPES, normalize, owning_cluster_id, parse_resource_id
from engine.models.results import ComplianceState, PolicyState


class StateCounts(BaseModel):
    """Policy states (records: one per resource, assignment and initiative member) by compliance state.
    Their compliance % counts exempt and unknown (Manual, not attested) records with the compliant ones, like
    Azure (docs "Azure Policy compliance states": compliant, exempt and unknown over the total)."""

    compliant: int = 0
    non_compliant: int = 0
    exempt: int = 0
    error: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.compliant + self.non_compliant + self.exempt + self.error + self.unknown

    @property
    def percentage(self) -> float:
        return 100.0 if not self.total else round(100.0 * (self.compliant + self.exempt + self.unknown) / self.total, 1)

    def add(self, state: str) -> None:
        """Count one record of ``state`` (a :class:`ComplianceState` value)."""
        field = STATE_FIELDS[state]
        setattr(self, field, getattr(self, field) + 1)

    @classmethod
    def of(cls, states: Iterable[ComplianceState]) -> StateCounts:
        counts = Counter(states)
        return cls(compliant=counts[ComplianceState.COMPLIANT], non_compliant=counts[ComplianceState.NON_COMPLIANT],
                   exempt=counts[ComplianceState.EXEMPT], error=counts[ComplianceState.ERROR],
                   unknown=counts[ComplianceState.UNKNOWN])


STATE_FIELDS = {ComplianceState.COMPLIANT: "compliant", ComplianceState.NON_COMPLIANT: "non_compliant",
                ComplianceState.EXEMPT: "exempt", ComplianceState.ERROR: "error", ComplianceState.UNKNOWN: "unknown"}
# A resource's state across every assignment that applies to it, by Azure's rollup rank (docs "Azure Policy
# compliance states", "Compliance rollup": non-compliant, then compliant, conflict, exempted, unknown); Error,
# which Azure's list does not rank, counts as not compliant, next to non-compliant.
NOT_COMPLIANT_STATES = frozenset({ComplianceState.NON_COMPLIANT, ComplianceState.ERROR})


class ResourceCounts(BaseModel):
    """Azure's *overall resource compliance*: distinct resources compliant with every assignment that applies
    to them (compliant, exempt or unknown once rolled up) over all distinct resources evaluated. One
    non-compliant record makes its resource non-compliant, so this is what Azure's portal shows next to the
    per-record figure of :class:`StateCounts`."""

    resources: int = 0
    non_compliant_resources: int = 0  # Azure's nonCompliantResources (Error records counted here too)

    @property
    def compliant_resources(self) -> int:
        return self.resources - self.non_compliant_resources

    @property
    def percentage(self) -> float:
        return 100.0 if not self.resources else round(100.0 * self.compliant_resources / self.resources, 1)

    @classmethod
    def of(cls, states: Iterable[PolicyState]) -> ResourceCounts:
        worst: dict[str, bool] = {}
        for state in states:
            key = state.resource_id.lower()
            worst[key] = worst.get(key, False) or state.compliance_state in NOT_COMPLIANT_STATES
        return cls(resources=len(worst), non_compliant_resources=sum(worst.values()))


def compliance_headline(records: StateCounts, resources: ResourceCounts) -> str:
    """Both figures, named as Azure names them: the one its portal shows first, then the per-record one."""
    return (f"overall resource compliance {resources.percentage}% ({resources.compliant_resources} of "
            f"{resources.resources} resources compliant with every assignment; {resources.non_compliant_resources} "
            f"non-compliant resources); policy states {records.percentage}% compliant ({records.non_compliant} "
            f"non-compliant of {records.total})")


def log_scan_finished(logger: logging.Logger, clusters: int, records: StateCounts, resources: ResourceCounts,
                      duration_seconds: float | None) -> None:
    """The "scan finished" log line, with the scan's counts in its text (text logs) and as fields (JSON logs)."""
    took = f" in {duration_seconds:.1f}s" if duration_seconds is not None else ""
    logger.info(f"scan finished: {clusters} clusters, {records.total} policy states ({records.compliant} compliant, "
                f"{records.non_compliant} non-compliant, {records.exempt} exempt, {records.error} error, "
                f"{records.unknown} unknown), {resources.non_compliant_resources} of {resources.resources} "
                f"resources non-compliant{took}",
                extra={"clusters": clusters, "records": records.total,
                       "states": {state.value: getattr(records, field) for state, field in STATE_FIELDS.items()},
                       "resources": resources.resources, "nonCompliantResources": resources.non_compliant_resources,
                       "durationSeconds": duration_seconds})


class ResourceCounter:
    """:class:`ResourceCounts` of records that come a resource at a time (the scan's order): the resource being
    counted is held, never the set of every resource."""

    def __init__(self) -> None:
        self._counts = ResourceCounts()
        self._current: str | None = None
        self._failing = False

    def add(self, resource_id: str, state: str) -> None:
        self.add_resource(resource_id.lower(), state in NOT_COMPLIANT_STATES)

    def add_resource(self, key: str, failing: bool) -> None:
        """A record of the resource ``key`` (its lower-case id) that fails (NonCompliant or Error) or not."""
        if key != self._current:
            self._close()
            self._current, self._failing = key, False
        self._failing = self._failing or failing

    def _close(self) -> None:
        if self._current is not None:
            self._counts.resources += 1
            self._counts.non_compliant_resources += self._failing

    def counts(self) -> ResourceCounts:
        """The counts of every record added so far."""
        self._close()
        self._current = None
        return self._counts


class GroupSummary(BaseModel):
    """One policy or one cluster: its counts and the records that need attention."""

    key: str
    title: str
    counts: StateCounts
    findings: list[PolicyState] = Field(default_factory=list)


class ComplianceSummary(BaseModel):
    counts: StateCounts
    resources: ResourceCounts
    policies: list[GroupSummary]
    clusters: list[GroupSummary]


def policy_key(state: PolicyState) -> str:
    """A policy as users see it: the definition, and its reference id inside an initiative."""
    return _policy_label(state.policy_definition_name, state.policy_definition_reference_id)


def record_policy_key(record: dict[str, Any]) -> str:
    """:func:`policy_key` of a record's JSON document."""
    return _policy_label(record["policyDefinitionName"], record.get("policyDefinitionReferenceId"))


def _policy_label(name: str, reference_id: str | None) -> str:
    return f"{name} [{reference_id}]" if reference_id else name


def policy_title(state: PolicyState) -> str:
    return state.policy_definition_display_name or state.policy_definition_name


def cluster_of(resource_id: str) -> str:
    """The cluster a record's resource belongs to: the extension's parent cluster, or the resource itself."""
    return owning_cluster_id(resource_id) or resource_id


def resource_name(resource_id: str) -> str:
    try:
        return parse_resource_id(resource_id).name
    except ValueError:
        return resource_id


def short_resource_name(resource_id: str) -> str:
    """How tables name a resource: its cluster's name, then the child's (``store-1/flux``)."""
    cluster = owning_cluster_id(resource_id)
    name = resource_name(resource_id)
    return f"{resource_name(cluster)}/{name}" if cluster else name


def needs_attention(state: str) -> bool:
    """Whether a record of ``state`` (a :class:`ComplianceState` value) is a finding: NonCompliant or Error."""
    return state in (ComplianceState.NON_COMPLIANT, ComplianceState.ERROR)


def reason_text(record: dict[str, Any]) -> str:
    """A record's reasons on one line (or its error), as tables show them."""
    return "; ".join(reason["message"] for reason in record.get("reasons", ())) or record.get("error") or ""


@dataclass(slots=True)
class _ClusterGroup:
    key: str  # the cluster's id, lower case
    cluster_id: str  # as its first record names it
    has_children: bool  # a cluster: records of its extensions and flux configurations follow its own
    members: list[Any] = field(default_factory=list)
    complete: bool = False


class ClusterGroups:
    """Records gathered per cluster (:func:`cluster_of`), each cluster given back complete, in the order the
    clusters first appear, from records in the scan's order (by lower-case resource id).

    In that order a cluster's records are those of its id and of ids below it (``<cluster>/providers/...``),
    which all sort before ``<cluster>0``; other ids may sort among them (``<cluster>-b`` before
    ``<cluster>/...``), so a cluster is complete only once a record at or past ``<cluster>0`` arrives, and the
    clusters completed meanwhile wait for it: memory holds the clusters still open (usually one), not the scan.
    """

    def __init__(self) -> None:
        self._open: deque[_ClusterGroup] = deque()

    def add(self, resource_id: str, member: Any) -> Iterator[tuple[str, list[Any]]]:
        """Add a record's ``member``; yields ``(cluster id, members)`` of each cluster now complete."""
        key = resource_id.lower()
        cluster_id = cluster_of(resource_id)
        cluster_key = cluster_id.lower()
        group = next((group for group in reversed(self._open) if group.key == cluster_key and not group.complete),
                     None)
        for other in self._open:
            if other is not group and not other.complete:
                other.complete = key >= other.key + "0" if other.has_children else key > other.key
        if group is None:
            group = _ClusterGroup(cluster_key, cluster_id, _is_cluster(cluster_id))
            self._open.append(group)
        group.members.append(member)
        yield from self._completed()

    def finish(self) -> Iterator[tuple[str, list[Any]]]:
        for group in self._open:
            group.complete = True
        yield from self._completed()

    def _completed(self) -> Iterator[tuple[str, list[Any]]]:
        while self._open and self._open[0].complete:
            group = self._open.popleft()
            yield group.cluster_id, group.members


def _is_cluster(resource_id: str) -> bool:
    try:
        return normalize(parse_resource_id(resource_id).type) in CLUSTER_TYPES
    except ValueError:
        return False
