"""After applying: re-read the touched clusters from ARM and say what is now true of them.

The re-read gives each cluster with its extensions and flux configurations; it is checked for two
instances of one cluster-scoped extension type and, when policies are given, re-evaluated so the
result shows compliance per policy before and after the apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from engine import ids
from engine.evaluate import ScanRequest, run_scan
from engine.inventory import Fleet
from remediation.apply.arm import ArmGateway
from remediation.apply.compare import provisioning_state
from remediation.apply.execute import is_cluster_scoped
from remediation.apply.models import PolicyCompliance, Verification
from remediation.plan.models import Operation

READ_PARALLELISM = 16


def touched_clusters(operations: Iterable[Operation]) -> list[str]:
    """The clusters the operations write to (once each, in plan order)."""
    seen: dict[str, str] = {}
    for operation in operations:
        cluster = operation.cluster_id or ids.owning_cluster_id(operation.resource_id)
        if cluster:
            seen.setdefault(ids.normalize(cluster), cluster)
    return list(seen.values())


def read_fleet(gateway: ArmGateway, cluster_ids: list[str]) -> Fleet:
    """The clusters as ARM has them now: each cluster, its extensions and flux configurations."""
    def read(cluster_id: str) -> list[dict]:
        cluster = gateway.read_cluster(cluster_id)
        if cluster is None:
            return []
        return [cluster, *gateway.list_children(cluster_id), *gateway.list_children(cluster_id, "fluxConfigurations")]

    with ThreadPoolExecutor(READ_PARALLELISM) as pool:
        return Fleet(resource for resources in pool.map(read, cluster_ids) for resource in resources)


def _duplicates(fleet: Fleet) -> list[str]:
    duplicated = []
    for cluster in fleet.clusters():
        kinds = Counter(str((extension.get("properties") or {}).get("extensionType") or "").lower()
                        for extension in cluster.extensions if is_cluster_scoped(extension))
        duplicated.extend(f"{cluster.id}: {kind}" for kind, count in kinds.items() if count > 1)
    return duplicated


def _policies(request: ScanRequest, before: Fleet, after: Fleet) -> list[PolicyCompliance]:
    previous = {(row.policy_assignment_id, row.policy_definition_reference_id): row
                for row in run_scan(before, request, workers=1).summary}
    rows = []
    for row in run_scan(after, request, workers=1).summary:
        earlier = previous.get((row.policy_assignment_id, row.policy_definition_reference_id))
        rows.append(PolicyCompliance(policy_assignment_id=row.policy_assignment_id,
                                     policy_definition_id=row.policy_definition_name,
                                     policy_definition_reference_id=row.policy_definition_reference_id,
                                     before_non_compliant=earlier.non_compliant if earlier else 0,
                                     after_non_compliant=row.non_compliant, after_compliant=row.compliant))
    return rows


def verify_clusters(gateway: ArmGateway, cluster_ids: list[str], *, before: Fleet | None = None,
                    request: ScanRequest | None = None) -> Verification:
    """Re-read ``cluster_ids``; with ``request`` and the ``before`` fleet, compare compliance per policy."""
    after = read_fleet(gateway, cluster_ids)
    states = Counter(provisioning_state(extension) or "unknown"
                     for cluster in after.clusters() for extension in cluster.extensions)
    policies = _policies(request, before, after) if request is not None and before is not None else None
    return Verification(clusters=len(after), extensions_by_state=dict(sorted(states.items())),
                        duplicate_instances=_duplicates(after), policies=policies)
