"""The canary: a few clusters whose operations show every kind of write the plan makes, across the fleet.

A canary that holds the first clusters by name proves little (five AKS clusters with Flux writes only,
while Defender's extensions and the resource groups and workspaces they need went out in wave 7). The
canary is chosen instead, deterministically, to cover:

1. every kind of write: (assignment, action, resource type), preferring operations that take effect now
   (``planned``) over those waiting for a disconnected cluster;
2. the shared prerequisites (resources outside any cluster, which cluster operations need: Defender's
   ``DefaultResourceGroup-*`` groups and ``DefaultWorkspace-*`` workspaces): each goes in the canary with
   its first dependant (one without dependants goes alone), so none reaches hundreds of clusters untried;
3. the fleet's spread: cluster kind, distribution, region and connectivity,

as far as ``--canary N`` (or ``--canary-percent P``) clusters allow: a greedy set cover, most new kinds
first, then new prerequisites, then new spread values, ties broken by a digest of the cluster id (not
its name). :class:`~remediation.plan.models.CanaryCoverage` says what was covered, what was not and why,
and how many clusters covering everything takes.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from engine import ids
from remediation.plan.facts import ClusterFacts
from remediation.plan.graph import PlanNode
from remediation.plan.models import CanaryCoverage, CanaryKind, CanarySpread, OperationStatus

ACTIVE = (OperationStatus.PLANNED, OperationStatus.WAITING)
SPREAD_DIMENSIONS = ("kind", "distribution", "region", "connectivity")
Kind = tuple[str, str, str]  # (assignment id, normalized; action; resource type, normalized)
Spread = tuple[str, str]  # (dimension, value)


def kinds_of(node: PlanNode) -> set[Kind]:
    """The kinds of write an operation is: one per assignment that wants it."""
    assignments = {ids.normalize(reason.policy_assignment_id or "") for reason in node.reasons} or {""}
    return {(assignment, node.action.value, ids.normalize(node.resource_type)) for assignment in assignments}


def spread_of(facts: ClusterFacts | None) -> set[Spread]:
    if facts is None:
        return set()
    return {(dimension, value) for dimension, value in zip(
        SPREAD_DIMENSIONS, (facts.kind, facts.distribution, facts.location, facts.connectivity), strict=True)}


@dataclass(slots=True)
class _Candidate:
    """A cluster and what putting it in the canary brings: its operations and their active prerequisites."""

    cluster: str
    rank: bytes  # the deterministic tie-breaker
    keys: set[str]
    planned_kinds: set[Kind]
    any_kinds: set[Kind]
    shared: set[str]
    spread: set[Spread]


@dataclass(slots=True)
class _Covered:
    planned_kinds: set[Kind] = field(default_factory=set)
    any_kinds: set[Kind] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)
    spread: set[Spread] = field(default_factory=set)

    def gain(self, candidate: _Candidate) -> tuple[int, int, int, int]:
        return (len(candidate.planned_kinds - self.planned_kinds), len(candidate.any_kinds - self.any_kinds),
                len(candidate.shared - self.shared), len(candidate.spread - self.spread))

    def add(self, candidate: _Candidate) -> None:
        self.planned_kinds |= candidate.planned_kinds
        self.any_kinds |= candidate.any_kinds
        self.shared |= candidate.shared
        self.spread |= candidate.spread


def _greedy(candidates: list[_Candidate], covered: _Covered, limit: int | None) -> list[_Candidate]:
    """Pick up to ``limit`` candidates (all that still add something when ``limit`` is None), each the one
    adding most to ``covered``; lazily re-scored, as gains only shrink."""
    heap = [(tuple(-part for part in covered.gain(candidate)), candidate.rank, index)
            for index, candidate in enumerate(candidates)]
    heapq.heapify(heap)
    chosen: list[_Candidate] = []
    while heap and (limit is None or len(chosen) < limit):
        _, rank, index = heapq.heappop(heap)
        gain = covered.gain(candidates[index])
        score = tuple(-part for part in gain)
        if heap and (score, rank) > heap[0][:2]:
            heapq.heappush(heap, (score, rank, index))  # stale: it adds less now than it did
            continue
        if limit is None and not any(gain):
            break  # the best left adds nothing
        covered.add(candidates[index])
        chosen.append(candidates[index])
    return chosen


@dataclass(frozen=True, slots=True)
class CanaryChoice:
    keys: set[str]  # node keys in the canary
    coverage: CanaryCoverage


def choose_canary(graph: nx.DiGraph, nodes: dict[str, PlanNode], active: list[str],
                  clusters: dict[str, ClusterFacts], size: int, requested: str) -> CanaryChoice:
    """The canary's operations for ``size`` clusters; ``active`` is the active node keys in topological
    order and ``requested`` how the user asked (``--canary 5``) for the coverage's sentences."""
    position = {key: index for index, key in enumerate(active)}
    active_set = set(active)
    shared = {key for key in active if not nodes[key].cluster_id}  # resources outside any cluster
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for key in active:
        if nodes[key].cluster_id:
            by_cluster[ids.normalize(nodes[key].cluster_id or "")].append(key)

    prerequisites: dict[str, frozenset[str]] = {}  # every active ancestor, built once along the topological order
    for key in active:
        before = [prerequisite for prerequisite in graph.predecessors(key) if prerequisite in active_set]
        prerequisites[key] = frozenset(before).union(*(prerequisites[prerequisite] for prerequisite in before))

    def with_prerequisites(keys: Iterable[str]) -> set[str]:
        return set(keys).union(*(prerequisites[key] for key in keys))

    kinds = {key: kinds_of(nodes[key]) for key in active}
    candidates = []
    for cluster in sorted(by_cluster):
        keys = with_prerequisites(by_cluster[cluster])
        candidates.append(_Candidate(
            cluster, hashlib.sha256(cluster.encode()).digest(), keys,
            {kind for key in keys if nodes[key].status is OperationStatus.PLANNED for kind in kinds[key]},
            {kind for key in keys for kind in kinds[key]}, keys & shared, spread_of(clusters.get(cluster))))
    covered = _Covered()
    chosen = _greedy(candidates, covered, size)
    canary = set().union(*(candidate.keys for candidate in chosen)) if chosen else set()
    for prerequisite in sorted(shared - canary, key=position.__getitem__):
        if prerequisite in canary:  # came in with an earlier prerequisite's first dependant
            continue
        dependants = [key for key in nx.descendants(graph, prerequisite) if key in active_set and key not in shared]
        if dependants:  # its first dependant, one taking effect now if there is one
            first = min(dependants, key=lambda key: (nodes[key].status is not OperationStatus.PLANNED, position[key]))
            canary |= with_prerequisites([first])
        else:
            canary |= with_prerequisites([prerequisite])
    # every cluster covering the rest would take, to say what --canary N would need
    picked = {candidate.cluster for candidate in chosen}
    needed = len(chosen) + len(_greedy([candidate for candidate in candidates if candidate.cluster not in picked],
                                       _copy(covered), None))
    coverage = _coverage(nodes, active, kinds, clusters, canary, chosen, shared, size, needed, requested)
    return CanaryChoice(canary, coverage)


def _copy(covered: _Covered) -> _Covered:
    return _Covered(set(covered.planned_kinds), set(covered.any_kinds), set(covered.shared), set(covered.spread))


def _coverage(nodes: dict[str, PlanNode], active: list[str], kinds_by_key: dict[str, set[Kind]],
              clusters: dict[str, ClusterFacts], canary: set[str], chosen: list[_Candidate], shared: set[str],
              size: int, needed: int, requested: str) -> CanaryCoverage:
    kinds: dict[Kind, CanaryKind] = {}
    kind_clusters: dict[Kind, set[str]] = defaultdict(set)
    planned_in_canary: set[Kind] = set()
    for key in active:
        node = nodes[key]
        for kind in kinds_by_key[key]:
            entry = kinds.get(kind)
            if entry is None:
                reason = next(reason for reason in node.reasons
                              if ids.normalize(reason.policy_assignment_id or "") == kind[0]) if node.reasons else None
                entry = kinds[kind] = CanaryKind(
                    policy_assignment_id=reason.policy_assignment_id if reason else None,
                    policy_definition_id=reason.policy_definition_id if reason else None,
                    action=node.action, resource_type=node.resource_type, operations=0, clusters=0, in_canary=0)
            entry.operations += 1
            if node.cluster_id:
                kind_clusters[kind].add(ids.normalize(node.cluster_id))
            if key in canary:
                entry.in_canary += 1
                if node.status is OperationStatus.PLANNED:
                    planned_in_canary.add(kind)
    for kind, entry in kinds.items():
        entry.clusters = len(kind_clusters[kind])
        if not entry.in_canary:
            entry.note = "not in the canary: more clusters needed"
        elif kind not in planned_in_canary:
            entry.note = "in the canary only on disconnected clusters (waiting): the canary cannot show it works"
        elif entry.operations == entry.in_canary and entry.clusters == 1:
            entry.note = "present on one cluster only: the canary is its whole rollout"
        elif entry.operations == entry.in_canary:
            entry.note = "every operation of this kind is in the canary"
    spread_clusters: dict[Spread, set[str]] = defaultdict(set)
    canary_clusters = {ids.normalize(nodes[key].cluster_id or "") for key in canary if nodes[key].cluster_id}
    planned_clusters = {ids.normalize(nodes[key].cluster_id or "") for key in active if nodes[key].cluster_id}
    for cluster in planned_clusters:
        for value in spread_of(clusters.get(cluster)):
            spread_clusters[value].add(cluster)
    spread = [CanarySpread(dimension=dimension, value=value, clusters=len(members),
                           in_canary=len(members & canary_clusters))
              for (dimension, value), members in sorted(spread_clusters.items(),
                                                        key=lambda item: (SPREAD_DIMENSIONS.index(item[0][0]),
                                                                          item[0][1]))]
    chosen_ids = [candidate.cluster for candidate in chosen]
    notes = []
    missing_kinds = [entry for entry in kinds.values() if not entry.in_canary]
    missing_spread = [entry for entry in spread if not entry.in_canary]
    if missing_kinds or missing_spread:
        what = " and ".join(part for part in (
            f"{len(missing_kinds)} of {len(kinds)} kinds of write" if missing_kinds else "",
            f"{len(missing_spread)} of {len(spread)} spread values" if missing_spread else "") if part)
        notes.append(f"{requested} is too small to cover everything: {what} are not in the canary; covering every "
                     f"kind and spread value takes {needed} clusters (--canary {needed})")
    extra = sorted(canary_clusters - set(chosen_ids))
    if extra:
        notes.append(f"{len(extra)} more clusters are in the canary as first dependants of shared prerequisites")
    return CanaryCoverage(
        requested_clusters=size, clusters=chosen_ids, prerequisite_clusters=extra,
        shared_prerequisites=len(shared & canary), operations=len(canary),
        kinds=sorted(kinds.values(), key=lambda entry: (entry.policy_assignment_id or "", entry.action.value,
                                                        entry.resource_type.lower())),
        spread=spread, clusters_to_cover_everything=needed, notes=notes)
