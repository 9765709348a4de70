"""The cluster-extension rules of the seed document, each one registered unit.

A rule looks at one plan node and the facts of its cluster and may skip, defer or retarget it
or add a flag. Rules run in registration order: retargeting first (it changes the target),
then the rules that decide whether the write can go ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine import ids
from remediation.plan.catalog import (
    ARM64_SUPPORTED_TYPES,
    PREREQUISITE_EXTENSIONS,
    extension_scope,
    extension_type_of,
    release_namespace,
)
from remediation.plan.facts import ClusterFacts
from remediation.plan.graph import PlanNode, rekey
from remediation.plan.models import Action, Conflict, OperationStatus

FLAG_ARCHITECTURE_UNKNOWN = "node-architecture-unknown"
FLAG_RETARGETED = "retargeted-to-existing-instance"
FLAG_PROTECTED_SETTINGS_EXPIRE = "protected-settings-expire-after-48h"
FLAG_CONNECTIVITY_UNKNOWN = "connectivity-unknown"


@dataclass(slots=True)
class RuleContext:
    nodes: dict[str, PlanNode]
    conflicts: dict[str, Conflict]
    clusters: dict[str, ClusterFacts]  # normalized cluster id -> facts
    include_disconnected: bool = False
    planned_extensions: dict[str, dict[str, str]] = field(default_factory=dict)  # cluster -> {type: node key}


Rule = Callable[[PlanNode, ClusterFacts, RuleContext], None]
PLAN_RULES: list[tuple[str, Rule]] = []


def plan_rule(name: str) -> Callable[[Rule], Rule]:
    def register(rule: Rule) -> Rule:
        PLAN_RULES.append((name, rule))
        return rule

    return register


def apply_rules(context: RuleContext) -> None:
    for _, rule in PLAN_RULES:
        for node in list(context.nodes.values()):
            facts = context.clusters.get(ids.normalize(node.cluster_id or ""))
            if facts is not None and node.key in context.nodes:
                rule(node, facts, context)


def _is_extension(node: PlanNode) -> bool:
    return ids.normalize(node.resource_type) == ids.EXTENSION_TYPE


@plan_rule("cluster-scoped-uniqueness")
def one_instance_per_cluster(node: PlanNode, facts: ClusterFacts, context: RuleContext) -> None:
    """A cluster-scoped type has one instance per cluster: update the existing one, never a second."""
    if not _is_extension(node) or node.action is Action.DELETE:
        return
    extension_type = extension_type_of(node.body)
    if extension_type is None or extension_scope(extension_type, node.body) != "cluster":
        return
    existing = next((extension for extension in facts.extensions if extension.extension_type == extension_type), None)
    if existing is not None and ids.normalize(existing.resource_id) != node.key:
        wanted_namespace = release_namespace(node.body)
        if wanted_namespace and existing.release_namespace and wanted_namespace != existing.release_namespace:
            _conflict(node, context, f"{extension_type} is installed on the cluster as '{existing.name}' in "
                                     f"namespace {existing.release_namespace}; the policy wants it in "
                                     f"{wanted_namespace} (the release namespace cannot change)")
            return
        node.action = Action.UPDATE
        node.flag(FLAG_RETARGETED)
        node.why.append(f"{extension_type} is cluster-scoped and already installed as '{existing.name}': "
                        "updating that instance instead of creating a second")
        rekey(context.nodes, context.conflicts, node, existing.resource_id)
        return
    planned = context.planned_extensions.setdefault(ids.normalize(facts.cluster_id), {})
    other = planned.setdefault(extension_type, node.key)
    if other != node.key:
        _conflict(node, context, f"{extension_type} is cluster-scoped; another operation already plans it "
                                 f"as {context.nodes[other].resource_id}")


def _conflict(node: PlanNode, context: RuleContext, message: str) -> None:
    node.escalate(OperationStatus.SKIPPED, f"conflict: {message}")
    node.flag("conflict")
    context.conflicts.setdefault(node.key, Conflict(resource_id=node.resource_id, message=message,
                                                    reasons=list(node.reasons)))


@plan_rule("arm64")
def arm64_supported_extensions(node: PlanNode, facts: ClusterFacts, context: RuleContext) -> None:
    """On arm64-only clusters only Flux and Defender for Containers can be installed."""
    if not _is_extension(node) or node.action is Action.DELETE:
        return
    if facts.node_architectures is None:
        node.flag(FLAG_ARCHITECTURE_UNKNOWN)
        return
    extension_type = extension_type_of(node.body) or _installed_type(node, facts)
    if facts.arm64_only and extension_type not in ARM64_SUPPORTED_TYPES:
        node.escalate(OperationStatus.SKIPPED, f"the cluster's nodes are all arm64; {extension_type} is not "
                                               "supported there (only microsoft.flux and "
                                               "microsoft.azuredefender.kubernetes are)")


def _installed_type(node: PlanNode, facts: ClusterFacts) -> str | None:
    """The type of the installed extension an update targets (an update body may not repeat it)."""
    return next((extension.extension_type for extension in facts.extensions
                 if ids.normalize(extension.resource_id) == node.key), None)


@plan_rule("prerequisite-extensions")
def prerequisite_extensions(node: PlanNode, facts: ClusterFacts, context: RuleContext) -> None:
    """Flux configurations need the microsoft.flux extension, installed or planned on the cluster."""
    needed = PREREQUISITE_EXTENSIONS.get(ids.normalize(node.resource_type), ())
    if not needed:
        return
    installed = {extension.extension_type for extension in facts.extensions}
    planned = context.planned_extensions.get(ids.normalize(facts.cluster_id), {})
    for extension_type in needed:
        if extension_type not in installed and extension_type not in planned:
            node.escalate(OperationStatus.SKIPPED, f"needs the {extension_type} extension, which is neither "
                                                   "installed on the cluster nor planned")


@plan_rule("disconnected-cluster")
def disconnected_cluster(node: PlanNode, facts: ClusterFacts, context: RuleContext) -> None:
    """Protected settings are kept 48 hours: defer them for disconnected clusters; wait for the rest.

    A cluster whose connectivity is unknown is planned as connected, flagged."""
    if facts.connected is None:
        node.flag(FLAG_CONNECTIVITY_UNKNOWN)
        return
    if facts.connected:
        return
    has_protected = any(".configurationprotectedsettings." in f".{source.path.lower()}" for source in node.secret_sources)
    if has_protected and not context.include_disconnected:
        node.escalate(OperationStatus.DEFERRED, "the cluster is not connected and the operation carries "
                                                "configurationProtectedSettings, which are kept only 48 hours; "
                                                "use --include-disconnected to apply anyway")
        return
    if has_protected:
        node.flag(FLAG_PROTECTED_SETTINGS_EXPIRE)
    node.escalate(OperationStatus.WAITING, "the cluster is not connected: the change takes effect when it reconnects")
