"""Plans for tests, built straight from a fleet the way the planner would (the planner is not needed).

For every cluster: create the Azure Policy extension (microsoft.policyinsights) where missing, and
the Flux extension plus a flux configuration depending on it where Flux is missing. arm64-only
clusters skip the policy extension (unsupported there); offline clusters get the extension as
"waiting" and the flux configuration "deferred".
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine import ids
from engine.inventory import ClusterInventory, Fleet
from engine.models.kubernetes import NODE_ARCHITECTURES_TAG
from remediation.plan.models import Action, Operation, OperationStatus, Plan, Reason, Wave

API = "2023-05-01"
POLICY_ASSIGNMENT = "/providers/Microsoft.Management/managementGroups/root/providers/Microsoft.Authorization/" \
                    "policyAssignments/arc-baseline"


def extension_body(kind: str, namespace: str, settings: dict[str, str] | None = None) -> dict:
    return {"properties": {"extensionType": kind, "autoUpgradeMinorVersion": True, "releaseTrain": "Stable",
                           "scope": {"cluster": {"releaseNamespace": namespace}},
                           "configurationSettings": settings or {}}}


def flux_configuration_body() -> dict:
    return {"properties": {"scope": "cluster", "namespace": "baseline", "sourceKind": "GitRepository",
                           "gitRepository": {"url": "https://github.com/contoso/baseline",
                                             "repositoryRef": {"branch": "main"}},
                           "kustomizations": {"base": {"path": "./base", "prune": True}}}}


def only_arm64(cluster: ClusterInventory) -> bool:
    return (cluster.resource.get("tags") or {}).get(NODE_ARCHITECTURES_TAG) == "arm64"


def connected(cluster: ClusterInventory) -> bool:
    return bool(cluster.cluster.is_connected)


def has_type(cluster: ClusterInventory, kind: str) -> bool:
    return any(extension.extension_type == kind for extension in cluster.typed_extensions)


def _operation(number: int, cluster: ClusterInventory, resource_id: str, resource_type: str, body: dict,
               status: OperationStatus = OperationStatus.PLANNED, depends_on: list[str] | None = None,
               why: str | None = None) -> Operation:
    return Operation(id=f"op-{number:05d}", action=Action.CREATE, resource_id=resource_id,
                     resource_type=resource_type, api_version=API, body=body, depends_on=depends_on or [],
                     status=status, cluster_id=cluster.id,
                     subscription_id=ids.parse_resource_id(cluster.id).subscription_id,
                     reasons=[Reason(policy_assignment_id=POLICY_ASSIGNMENT, evaluated_resource_id=cluster.id,
                                     why=why)])


def fleet_plan(fleet: Fleet, canary: int = 0) -> Plan:
    """The remediation plan of ``fleet``; the first ``canary`` operations form wave 0."""
    operations: list[Operation] = []
    for cluster in fleet.clusters():
        online = connected(cluster)
        if not has_type(cluster, "microsoft.policyinsights"):
            status, why = OperationStatus.PLANNED, None
            if only_arm64(cluster):
                status, why = OperationStatus.SKIPPED, "every node is arm64; microsoft.policyinsights needs amd64"
            elif not online:
                status, why = OperationStatus.WAITING, "the cluster is offline; applies when it reconnects"
            operations.append(_operation(len(operations) + 1, cluster,
                                         f"{cluster.id}/providers/Microsoft.KubernetesConfiguration/extensions/"
                                         "azurepolicy", "Microsoft.KubernetesConfiguration/extensions",
                                         extension_body("microsoft.policyinsights", "kube-system"), status, why=why))
        if not has_type(cluster, "microsoft.flux"):
            status = OperationStatus.PLANNED if online else OperationStatus.DEFERRED
            why = None if online else "the cluster is offline"
            extension = _operation(len(operations) + 1, cluster,
                                   f"{cluster.id}/providers/Microsoft.KubernetesConfiguration/extensions/flux",
                                   "Microsoft.KubernetesConfiguration/extensions",
                                   extension_body("microsoft.flux", "flux-system"), status, why=why)
            operations.append(extension)
            operations.append(_operation(len(operations) + 1, cluster,
                                         f"{cluster.id}/providers/Microsoft.KubernetesConfiguration/"
                                         "fluxConfigurations/baseline",
                                         "Microsoft.KubernetesConfiguration/fluxConfigurations",
                                         flux_configuration_body(), status, [extension.id], why=why))
    waves = []
    if canary:
        for operation in operations:
            operation.wave = 0 if int(operation.id.removeprefix("op-")) <= canary else 1
        waves = [Wave(number=0, name="canary", operations=[op.id for op in operations if op.wave == 0]),
                 Wave(number=1, name="wave-1", operations=[op.id for op in operations if op.wave == 1])]
    return Plan(created_at=datetime(2026, 11, 2, tzinfo=UTC), inventory_fingerprint=fleet.fingerprint(),
                operations=operations, waves=waves)
