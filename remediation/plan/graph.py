"""The plan graph: one node per target resource, edges for every "must exist first".

Nodes are keyed by the case-insensitive target id, so a workspace wanted by a thousand clusters
is one node with a thousand reasons, and two different bodies for one target are a conflict.
Edges (networkx) come from template ``dependsOn`` and nesting, parent before child (a resource
group before its resources, a cluster's extension before resources under it), the extension
prerequisite catalog, and deferred ``reference()``/``listKeys()`` of another planned target.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import orjson

from engine import ids
from engine.errors import ArcPolicyError
from remediation.plan.catalog import PREREQUISITE_EXTENSIONS, extension_type_of
from remediation.plan.merge import (
    EXISTENCE_PATH,
    FieldClash,
    leaf_paths,
    merge_actions,
    merge_body,
    merge_by_path,
)
from remediation.plan.models import (
    Action,
    Conflict,
    ConflictingValue,
    DeferredValue,
    FieldConflict,
    GeneratedValue,
    OperationStatus,
    Reason,
    SecretSource,
)
from remediation.plan.requests import WantedOperation

STATUS_RANK = {OperationStatus.PLANNED: 0, OperationStatus.WAITING: 1, OperationStatus.DEFERRED: 2,
               OperationStatus.SKIPPED: 3}


class PlanCycleError(ArcPolicyError):
    """The operations depend on each other in a circle; the message names the circle."""


@dataclass(slots=True)
class PlanNode:
    key: str
    action: Action
    resource_id: str
    resource_type: str
    api_version: str
    body: dict[str, Any] | None
    body_digest: bytes
    reasons: list[Reason]
    cluster_id: str | None
    subscription_id: str | None
    depends_on: set[str] = field(default_factory=set)  # node keys (template dependencies)
    deferred_values: list[DeferredValue] = field(default_factory=list)
    secret_sources: list[SecretSource] = field(default_factory=list)
    generated_values: list[GeneratedValue] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    status: OperationStatus = OperationStatus.PLANNED
    why: list[str] = field(default_factory=list)
    reason_keys: set[tuple[str | None, ...]] = field(default_factory=set)
    creates: bool = False  # some policy wants the target to exist (a create, or a DINE deployment)
    owners: dict[str, Reason] = field(default_factory=dict)  # merged field path -> the policy that set it

    def __post_init__(self) -> None:
        self.reason_keys = {_reason_key(reason) for reason in self.reasons}

    def escalate(self, status: OperationStatus, why: str) -> None:
        """Move to a more restrictive status (never back), recording why."""
        if STATUS_RANK[status] >= STATUS_RANK[self.status]:
            self.status = status
        if why not in self.why:
            self.why.append(why)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


def _reason_key(reason: Reason) -> tuple[str | None, ...]:
    return (reason.policy_assignment_id, reason.policy_definition_reference_id, reason.evaluated_resource_id)


def _digest(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _node(wanted: WantedOperation, existing: set[str]) -> PlanNode:
    resource = wanted.resource
    key = ids.normalize(resource.resource_id)
    action = wanted.action
    if action is Action.CREATE and key in existing:
        action = Action.UPDATE
    body = None if action is Action.DELETE else resource.body
    return PlanNode(key, action, resource.resource_id, resource.resource_type, resource.api_version, body,
                    _digest(body), [wanted.reason], wanted.cluster_id,
                    ids.parse_resource_id(resource.resource_id).subscription_id,
                    {ids.normalize(dependency) for dependency in resource.depends_on},
                    list(resource.deferred_values), list(resource.secret_sources),
                    list(resource.generated_values), creates=wanted.action is Action.CREATE)


def merge_wanted(wanted: Iterable[WantedOperation], existing: set[str]) -> tuple[dict[str, PlanNode], list[Conflict]]:
    """Deduplicate by target: what several policies want for one target merges field by field
    (:mod:`remediation.plan.merge`); two different values for one field are a conflict."""
    nodes: dict[str, PlanNode] = {}
    conflicts: dict[str, Conflict] = {}
    for item in wanted:
        node = _node(item, existing)
        merge_node(nodes, conflicts, node)
    return nodes, list(conflicts.values())


def merge_node(nodes: dict[str, PlanNode], conflicts: dict[str, Conflict], node: PlanNode) -> None:
    current = nodes.get(node.key)
    if current is None:
        nodes[node.key] = node
        return
    for reason in node.reasons:
        reason_key = _reason_key(reason)
        if reason_key not in current.reason_keys:
            current.reason_keys.add(reason_key)
            current.reasons.append(reason)
    current.depends_on |= node.depends_on
    for flag in node.flags:
        current.flag(flag)
    current.why.extend(why for why in node.why if why not in current.why)
    if current.body_digest == node.body_digest and current.action is node.action \
            and current.deferred_values == node.deferred_values and current.secret_sources == node.secret_sources:
        current.creates |= node.creates
        return
    clashes = _merge_into(current, node)
    if clashes:
        _record_conflict(conflicts, current, node.reasons[0], clashes)


def _merge_into(current: PlanNode, node: PlanNode) -> list[FieldClash]:
    """Add ``node``'s intent to ``current`` (server-side-apply style); the fields that clash."""
    reason = node.reasons[0]
    if not current.owners:  # first merge: copy the body (it may be shared) and record who set what
        owner = current.reasons[0]
        current.body = copy.deepcopy(current.body)
        current.owners = {path.lower(): owner for path in leaf_paths(current.body)}
        current.owners[EXISTENCE_PATH] = owner
    action = merge_actions(current.action, current.creates, node.action, node.creates)
    if action is None:
        return [FieldClash(EXISTENCE_PATH, _existence(current), _existence(node), current.owners[EXISTENCE_PATH])]
    if action is Action.DELETE:
        updater = current if current.action is not Action.DELETE else node
        current.why.append(f"the update wanted by {_policy(updater.reasons[0])} is moot: the target is deleted")
        if node.action is Action.DELETE:
            current.owners[EXISTENCE_PATH] = reason
        current.action, current.body, current.deferred_values, current.secret_sources = Action.DELETE, None, [], []
        current.body_digest = _digest(None)
        return []
    current.action = action
    current.creates |= node.creates
    clashes = merge_body(current.body if current.body is not None else {}, node.body or {}, current.owners, reason)
    clashes += merge_by_path(current.deferred_values, node.deferred_values, current.owners, reason, "deferred")
    clashes += merge_by_path(current.secret_sources, node.secret_sources, current.owners, reason, "secret")
    current.body_digest = _digest(current.body)
    return clashes


def _existence(node: PlanNode) -> str:
    return "deleted" if node.action is Action.DELETE else "exists"


def _policy(reason: Reason) -> str:
    """A policy as a reviewer knows it: the assignment's name and the definition."""
    assignment = (reason.policy_assignment_id or "").rsplit("/", 1)[-1] or "(no assignment)"
    definition = reason.policy_definition_id or "(no definition)"
    return f"assignment {assignment} ({definition})"


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _record_conflict(conflicts: dict[str, Conflict], node: PlanNode, wanting: Reason, clashes: list[FieldClash]) -> None:
    fields = [FieldConflict(path=clash.path, values=[
        ConflictingValue(value=clash.merged, policy_assignment_id=clash.owner.policy_assignment_id,
                         policy_definition_id=clash.owner.policy_definition_id),
        ConflictingValue(value=clash.wanted, policy_assignment_id=wanting.policy_assignment_id,
                         policy_definition_id=wanting.policy_definition_id)]) for clash in clashes]
    first = clashes[0]
    message = (f"policies want different values for {first.path} of {node.resource_id}: {_shown(first.merged)} "
               f"wanted by {_policy(first.owner)}, {_shown(first.wanted)} wanted by {_policy(wanting)}")
    if len(clashes) > 1:
        message += f" (and {len(clashes) - 1} more field{'s' if len(clashes) > 2 else ''})"
    conflict = conflicts.get(node.key)
    if conflict is None:
        conflict = conflicts[node.key] = Conflict(resource_id=node.resource_id, message=message)
    conflict.fields.extend(fields)
    conflict.reasons = list(node.reasons)
    node.escalate(OperationStatus.SKIPPED, f"conflict: {message}")
    node.flag("conflict")


def rekey(nodes: dict[str, PlanNode], conflicts: dict[str, Conflict], node: PlanNode, resource_id: str) -> None:
    """Retarget a node to another resource id (an existing instance), merging with any node there."""
    del nodes[node.key]
    node.key = ids.normalize(resource_id)
    node.resource_id = resource_id
    merge_node(nodes, conflicts, node)


def build_graph(nodes: dict[str, PlanNode]) -> nx.DiGraph:
    """Edges point from prerequisite to dependent; only between planned targets."""
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    extensions_by_cluster: dict[str, dict[str, str]] = {}
    for key, node in nodes.items():
        extension_type = extension_type_of(node.body) if ids.normalize(node.resource_type) == ids.EXTENSION_TYPE else None
        if extension_type and node.cluster_id:
            extensions_by_cluster.setdefault(ids.normalize(node.cluster_id), {})[extension_type] = key
    for key, node in nodes.items():
        prerequisites = set(node.depends_on)
        prerequisites.update(_ancestors(node.resource_id))
        prerequisites.update(ids.normalize(read) for value in node.deferred_values
                             for read in (value.reads or [value.resource_id]))
        cluster_extensions = extensions_by_cluster.get(ids.normalize(node.cluster_id or ""), {})
        for extension_type in PREREQUISITE_EXTENSIONS.get(ids.normalize(node.resource_type), ()):
            if extension_type in cluster_extensions:
                prerequisites.add(cluster_extensions[extension_type])
        for prerequisite in prerequisites:
            if prerequisite in nodes and prerequisite != key:
                if node.action is Action.DELETE:
                    graph.add_edge(key, prerequisite)  # delete dependents before what they depend on
                else:
                    graph.add_edge(prerequisite, key)
    return graph


def _ancestors(resource_id: str) -> list[str]:
    """Keys of every resource that must exist before ``resource_id``: parents and its resource group."""
    found = []
    parsed = ids.parse_resource_id(resource_id)
    while True:
        if len(parsed.segments) > 1:
            trimmed = resource_id.rsplit("/", 2)[0]
        elif parsed.parent is not None:
            trimmed = parsed.parent.raw
        else:
            break
        found.append(ids.normalize(trimmed))
        resource_id, parsed = trimmed, ids.parse_resource_id(trimmed)
    group = ids.resource_group_id(resource_id)
    if group is not None and ids.normalize(group) != ids.normalize(resource_id):
        found.append(ids.normalize(group))
    return found


def check_acyclic(graph: nx.DiGraph, nodes: dict[str, PlanNode]) -> None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = [nodes[edge[0]].resource_id for edge in cycle] + [nodes[cycle[0][0]].resource_id]
    raise PlanCycleError("dependency cycle in the plan: " + " -> ".join(names))


def propagate_status(graph: nx.DiGraph, nodes: dict[str, PlanNode]) -> None:
    """An operation whose prerequisite is skipped or deferred cannot go ahead either."""
    for key in nx.topological_sort(graph):
        node = nodes[key]
        for prerequisite in graph.predecessors(key):
            before = nodes[prerequisite]
            if before.status in (OperationStatus.SKIPPED, OperationStatus.DEFERRED):
                node.escalate(before.status, f"prerequisite {before.resource_id} is {before.status.value}")
