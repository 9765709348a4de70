"""Build a plan: wanted writes -> deduplicated nodes -> rules -> graph -> ordered operations -> waves.

This is the library API behind ``arcpolicy plan``; it is pure (no I/O), so it can be tested on
PolicyState records and wanted operations constructed by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from engine import ids
from engine.evaluate.records import gc_paused
from engine.inventory import Fleet
from remediation.plan.changes import field_changes
from remediation.plan.facts import ClusterFacts, cluster_facts
from remediation.plan.graph import PlanNode, build_graph, check_acyclic, merge_wanted, propagate_status
from remediation.plan.models import Action, Conflict, Operation, Plan
from remediation.plan.requests import WantedOperation
from remediation.plan.rules import RuleContext, apply_rules
from remediation.plan.stages import StageProgress, no_progress
from remediation.plan.waves import RolloutOptions, assign_waves


@dataclass(frozen=True, slots=True)
class PlanOptions:
    node_architectures: dict[str, tuple[str, ...]] = field(default_factory=dict)  # from --facts
    include_disconnected: bool = False
    rollout: RolloutOptions = field(default_factory=RolloutOptions)


def build_plan(wanted: Iterable[WantedOperation], fleet: Fleet, options: PlanOptions | None = None, *,
               inventory_source: str | None = None, policy_fingerprint: str | None = None,
               created_at: datetime | None = None, progress: StageProgress = no_progress) -> Plan:
    """The reviewable plan for every wanted write against ``fleet``; raises PlanCycleError on a cycle.

    ``progress`` hears the ``graph`` stage (dedup and merge, rules, edges) and the ``waves`` stage. The cyclic
    garbage collector is paused meanwhile (and while ``wanted`` expands, when it is a generator): its full
    collections over the growing heap of nodes and operations made planning grow as n^1.25."""
    with gc_paused():
        return _build_plan(list(wanted), fleet, options or PlanOptions(), inventory_source, policy_fingerprint,
                           created_at, progress)


def _build_plan(wanted: list[WantedOperation], fleet: Fleet, options: PlanOptions, inventory_source: str | None,
                policy_fingerprint: str | None, created_at: datetime | None, progress: StageProgress) -> Plan:
    progress("graph", 0, len(wanted))
    clusters = _cluster_facts(wanted, fleet, options)
    existing = _existing_ids(fleet, clusters)
    nodes, conflict_list = merge_wanted(wanted, existing)
    conflicts = {ids.normalize(conflict.resource_id): conflict for conflict in conflict_list}
    apply_rules(RuleContext(nodes, conflicts, clusters, options.include_disconnected))
    graph = build_graph(nodes)
    check_acyclic(graph, nodes)
    propagate_status(graph, nodes)
    progress("graph", len(wanted), len(wanted))
    progress("waves", 0, len(nodes))
    order = [key for generation in nx.topological_generations(graph) for key in sorted(generation)]
    operation_ids = {key: f"op-{position:0{max(4, len(str(len(order))))}d}" for position, key in enumerate(order, 1)}
    waves, canary = assign_waves(graph, nodes, order, operation_ids, options.rollout, clusters)
    wave_of = {operation: wave.number for wave in waves for operation in wave.operations}
    live = _live_resources(fleet, [node for node in nodes.values() if node.action is Action.UPDATE])
    operations = [_operation(nodes[key], graph, operation_ids, wave_of, live) for key in order]
    progress("waves", len(nodes), len(nodes))
    return Plan(created_at=created_at or datetime.now(UTC), inventory_fingerprint=fleet.fingerprint(),
                inventory_source=inventory_source, policy_fingerprint=policy_fingerprint, operations=operations,
                conflicts=[_with_operation(conflict, operation_ids) for conflict in conflicts.values()],
                waves=waves, pacing=options.rollout.pacing(), canary=canary)


def _cluster_facts(wanted: list[WantedOperation], fleet: Fleet, options: PlanOptions) -> dict[str, ClusterFacts]:
    facts: dict[str, ClusterFacts] = {}
    for item in wanted:
        if item.cluster_id is None:
            continue
        key = ids.normalize(item.cluster_id)
        if key not in facts:
            cluster = fleet.cluster(item.cluster_id)
            if cluster is not None:
                facts[key] = cluster_facts(cluster, options.node_architectures)
    return facts


def _existing_ids(fleet: Fleet, clusters: dict[str, ClusterFacts]) -> set[str]:
    """Ids that already exist: a write to one of them is an update, not a create."""
    existing = {ids.normalize(resource["id"]) for resource in fleet.other_resources()}
    for key in clusters:
        cluster = fleet.cluster(key)
        if cluster is not None:
            existing.update(ids.normalize(child["id"]) for child in (*cluster.extensions, *cluster.flux_configurations))
    return existing


def _live_resources(fleet: Fleet, updates: list[PlanNode]) -> dict[str, dict[str, Any]]:
    """The inventory's resources that updates write to, by key: what their changes are measured against."""
    wanted = {node.key for node in updates}
    found = {}
    for node in updates:
        cluster = fleet.cluster(node.cluster_id) if node.cluster_id else None
        for child in (*cluster.extensions, *cluster.flux_configurations) if cluster is not None else ():
            if ids.normalize(child["id"]) in wanted:
                found[ids.normalize(child["id"])] = child
    if len(found) < len(wanted):
        found.update({key: resource for resource in fleet.other_resources()
                      if (key := ids.normalize(resource["id"])) in wanted})
    return found


def _operation(node: PlanNode, graph: nx.DiGraph, operation_ids: dict[str, str], wave_of: dict[str, int],
               live: dict[str, dict[str, Any]]) -> Operation:
    why = "; ".join(node.why) or None
    changes = field_changes(live.get(node.key), node.body) if node.action is Action.UPDATE else []
    operation_id = operation_ids[node.key]
    return Operation(
        id=operation_id, action=node.action, resource_id=node.resource_id, resource_type=node.resource_type,
        api_version=node.api_version, body=node.body,
        depends_on=sorted(operation_ids[before] for before in graph.predecessors(node.key)),
        status=node.status, reasons=[reason.model_copy(update={"why": why}) for reason in node.reasons],
        cluster_id=node.cluster_id, subscription_id=node.subscription_id, wave=wave_of.get(operation_id),
        deferred_values=node.deferred_values, secret_sources=node.secret_sources,
        generated_values=node.generated_values, flags=node.flags, changes=changes)


def _with_operation(conflict: Conflict, operation_ids: dict[str, str]) -> Conflict:
    key = ids.normalize(conflict.resource_id)
    return conflict.model_copy(update={"operations": [operation_ids[key]] if key in operation_ids else []})
