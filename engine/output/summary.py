"""Compliance summaries: the totals, per-policy and per-cluster views the human-readable formats show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from engine.ids import owning_cluster_id, parse_resource_id
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

    @classmethod
    def of(cls, states: Iterable[ComplianceState]) -> StateCounts:
        counts = Counter(states)
        return cls(compliant=counts[ComplianceState.COMPLIANT], non_compliant=counts[ComplianceState.NON_COMPLIANT],
                   exempt=counts[ComplianceState.EXEMPT], error=counts[ComplianceState.ERROR],
                   unknown=counts[ComplianceState.UNKNOWN])


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
    reference = f" [{state.policy_definition_reference_id}]" if state.policy_definition_reference_id else ""
    return f"{state.policy_definition_name}{reference}"


def policy_title(state: PolicyState) -> str:
    return state.policy_definition_display_name or state.policy_definition_name


def cluster_of(state: PolicyState) -> str:
    """The cluster a record belongs to: the extension's parent cluster, or the resource itself."""
    return owning_cluster_id(state.resource_id) or state.resource_id


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


def needs_attention(state: PolicyState) -> bool:
    return state.compliance_state in (ComplianceState.NON_COMPLIANT, ComplianceState.ERROR)


def _groups(states: Sequence[PolicyState], key, title) -> list[GroupSummary]:
    grouped: dict[str, list[PolicyState]] = {}
    for state in states:
        grouped.setdefault(key(state), []).append(state)
    summaries = [GroupSummary(key=group, title=title(members[0]),
                              counts=StateCounts.of(state.compliance_state for state in members),
                              findings=[state for state in members if needs_attention(state)])
                 for group, members in grouped.items()]
    # Worst first, then by name, so the report opens on what needs fixing.
    return sorted(summaries, key=lambda group: (group.counts.percentage, group.title.lower()))


def summarize(states: Sequence[PolicyState]) -> ComplianceSummary:
    return ComplianceSummary(
        counts=StateCounts.of(state.compliance_state for state in states),
        resources=ResourceCounts.of(states),
        policies=_groups(states, policy_key, policy_title),
        clusters=_groups(states, lambda state: cluster_of(state).lower(),
                         lambda state: resource_name(cluster_of(state))),
    )
