"""A deterministic generator of realistic Arc fleets, for demos, tests and benchmarks.

The same (clusters, seed) always gives byte-identical output. Resources are shaped exactly as
ARM GET returns them (canonical type casing, ``systemData``, the extension properties of API
version 2023-05-01), and are written one at a time so that a 100,000-cluster fleet never
has to sit in memory.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.inventory.snapshot import write_snapshot
from engine.models.kubernetes import NODE_ARCHITECTURES_TAG

GENERATED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

REGIONS = ("eastus", "eastus2", "westus2", "centralus", "westeurope", "northeurope", "uksouth",
           "southeastasia", "japaneast", "australiaeast")
BUSINESS_UNITS = ("retail", "factory", "logistics", "edge", "platform", "research")
ENVIRONMENTS = (("production", 0.55), ("staging", 0.25), ("dev", 0.20))
CONNECTIVITY = (("Connected", 0.85), ("Offline", 0.10), ("Expired", 0.05))
PROVISIONING = (("Succeeded", 0.90), ("Failed", 0.05), ("Creating", 0.03), ("Updating", 0.02))

# distribution -> (share, infrastructure, kubernetes versions)
DISTRIBUTIONS: dict[str, tuple[float, str, tuple[str, ...]]] = {
    "k3s": (0.30, "generic", ("1.29.9+k3s1", "1.30.5+k3s1", "1.31.2+k3s1")),
    "aks_edge_essentials": (0.15, "generic", ("1.29.6", "1.30.4")),
    "openshift": (0.13, "vsphere", ("1.28.11", "1.29.8")),
    "eks": (0.12, "aws", ("1.29.8-eks", "1.30.4-eks", "1.31.1-eks")),
    "gke": (0.10, "gcp", ("1.29.8-gke.1031000", "1.30.5-gke.1014001")),
    "aks": (0.15, "azure_stack_hci", ("1.29.4", "1.30.3")),
}
MANAGED_CLUSTER_SHARE = 0.05


@dataclass(frozen=True)
class ExtensionKind:
    """One extension type as it shows up in fleets: how often, where, and with what settings."""

    extension_type: str
    instance_name: str
    share: float
    namespace: str
    versions: tuple[str, ...]
    namespace_scoped: bool = False
    settings: tuple[tuple[str, str], ...] = ()
    protected_keys: tuple[str, ...] = ()


EXTENSION_KINDS: tuple[ExtensionKind, ...] = (
    ExtensionKind("microsoft.flux", "flux", 0.80, "flux-system", ("1.13.1", "1.14.0", "1.14.1"),
                  settings=(("multiTenancy.enforce", "false"),)),
    ExtensionKind("microsoft.azuremonitor.containers", "azuremonitor-containers", 0.75, "kube-system",
                  ("3.1.23", "3.1.24"), settings=(("amalogs.useAADAuth", "true"),)),
    ExtensionKind("microsoft.azuredefender.kubernetes", "microsoft.azuredefender.kubernetes", 0.60,
                  "mdc", ("0.7.10", "0.7.11"), protected_keys=("logAnalytics.key",)),
    ExtensionKind("microsoft.policyinsights", "azurepolicy", 0.65, "kube-system", ("1.8.3", "1.9.0")),
    ExtensionKind("microsoft.azurekeyvaultsecretsprovider", "akvsecretsprovider", 0.40, "kube-system",
                  ("1.6.0", "1.6.1"), settings=(("secrets-store-csi-driver.enableSecretRotation", "true"),)),
    ExtensionKind("microsoft.dapr", "dapr", 0.20, "dapr-system", ("1.13.6-msft.1", "1.14.4-msft.3")),
    ExtensionKind("microsoft.openservicemesh", "osm", 0.10, "arc-osm-system", ("1.2.10",)),
    ExtensionKind("microsoft.dataprotection.kubernetes", "azure-aks-backup", 0.15,
                  "dataprotection-microsoft", ("0.0.1040-1",),
                  protected_keys=("credentials.storageAccountKey",)),
    ExtensionKind("microsoft.azureml.kubernetes", "azureml", 0.10, "azureml", ("1.1.63",)),
    ExtensionKind("microsoft.arc.containerstorage", "containerstorage", 0.10, "acstor", ("2.2.2",)),
    ExtensionKind("microsoft.apimanagement", "apim-gateway", 0.05, "apim", ("1.8.0",), namespace_scoped=True),
)


def _choose(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random()
    for value, share in weighted:
        roll -= share
        if roll < 0:
            return value
    return weighted[-1][0]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _system_data(rng: random.Random, created: datetime) -> dict[str, Any]:
    modified = created + timedelta(hours=rng.randint(0, 2000))
    return {
        "createdBy": "fleet-automation@contoso.com",
        "createdByType": "User",
        "createdAt": _timestamp(created),
        "lastModifiedBy": "fleet-automation@contoso.com",
        "lastModifiedByType": "User",
        "lastModifiedAt": _timestamp(min(modified, GENERATED_AT)),
    }


@dataclass
class _Layout:
    subscriptions: list[str]
    resource_groups: dict[str, list[tuple[str, str]]]  # subscription -> [(group, region)]


def _layout(rng: random.Random, clusters: int) -> _Layout:
    subscription_count = max(2, min(50, clusters // 2000 + 2))
    subscriptions = [_uuid(rng) for _ in range(subscription_count)]
    groups: dict[str, list[tuple[str, str]]] = {}
    for subscription in subscriptions:
        count = rng.randint(3, 8)
        entries = []
        for index in range(count):
            region = rng.choice(REGIONS)
            entries.append((f"rg-{rng.choice(BUSINESS_UNITS)}-{region}-{index:02d}", region))
        groups[subscription] = entries
    return _Layout(subscriptions, groups)


def _cluster(rng: random.Random, layout: _Layout, index: int) -> dict[str, Any]:
    subscription = rng.choice(layout.subscriptions)
    group, region = rng.choice(layout.resource_groups[subscription])
    environment = _choose(rng, ENVIRONMENTS)
    created = GENERATED_AT - timedelta(days=rng.randint(3, 900), minutes=rng.randint(0, 1440))
    tags = {
        "environment": environment,
        "site": f"site-{rng.randint(1, max(10, index // 4 + 1)):05d}",
        "owner": f"team-{rng.choice(BUSINESS_UNITS)}",
    }
    architecture_roll = rng.random()
    if architecture_roll < 0.05:
        tags[NODE_ARCHITECTURES_TAG] = "arm64"
    elif architecture_roll < 0.10:
        tags[NODE_ARCHITECTURES_TAG] = "amd64,arm64"
    name = f"arc-{tags['site']}-{index:06d}"
    if rng.random() < MANAGED_CLUSTER_SHARE:
        return _managed_cluster(rng, subscription, group, region, name, tags, created)
    distribution = rng.choices(list(DISTRIBUTIONS), [share for share, _, _ in DISTRIBUTIONS.values()])[0]
    _, infrastructure, versions = DISTRIBUTIONS[distribution]
    connectivity = _choose(rng, CONNECTIVITY)
    offline_for = {"Connected": timedelta(minutes=rng.randint(1, 30)),
                   "Offline": timedelta(hours=rng.randint(2, 400)),
                   "Expired": timedelta(days=rng.randint(91, 200))}[connectivity]
    nodes = rng.randint(1, 12)
    return {
        "id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
              f"Microsoft.Kubernetes/connectedClusters/{name}",
        "name": name,
        "type": "Microsoft.Kubernetes/connectedClusters",
        "location": region,
        "tags": tags,
        "kind": "ProvisionedCluster" if distribution == "aks" else None,
        "identity": {"type": "SystemAssigned", "principalId": _uuid(rng), "tenantId": _uuid(rng)},
        "systemData": _system_data(rng, created),
        "properties": {
            "agentPublicKeyCertificate": "",
            "kubernetesVersion": rng.choice(versions),
            "totalNodeCount": nodes,
            "totalCoreCount": nodes * rng.choice((2, 4, 8)),
            "agentVersion": rng.choice(("1.18.3", "1.19.1", "1.20.0")),
            "provisioningState": "Succeeded",
            "distribution": distribution,
            "distributionVersion": None,
            "infrastructure": infrastructure,
            "offering": None,
            "connectivityStatus": connectivity,
            "lastConnectivityTime": _timestamp(max(created, GENERATED_AT - offline_for)),
            "managedIdentityCertificateExpirationTime": _timestamp(GENERATED_AT + timedelta(days=60)),
            "privateLinkState": "Disabled",
            "azureHybridBenefit": "NotApplicable",
        },
    }


def _managed_cluster(rng: random.Random, subscription: str, group: str, region: str, name: str,
                     tags: dict[str, str], created: datetime) -> dict[str, Any]:
    version = rng.choice(("1.29.9", "1.30.5", "1.31.1"))
    return {
        "id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
              f"Microsoft.ContainerService/managedClusters/{name.replace('arc-', 'aks-')}",
        "name": name.replace("arc-", "aks-"),
        "type": "Microsoft.ContainerService/managedClusters",
        "location": region,
        "tags": tags,
        "identity": {"type": "SystemAssigned", "principalId": _uuid(rng), "tenantId": _uuid(rng)},
        "systemData": _system_data(rng, created),
        "sku": {"name": "Base", "tier": "Standard"},
        "properties": {
            "provisioningState": "Succeeded",
            "powerState": {"code": "Running"},
            "kubernetesVersion": version,
            "currentKubernetesVersion": version,
            "dnsPrefix": name,
            "fqdn": f"{name}-{rng.getrandbits(32):08x}.hcp.{region}.azmk8s.io",
            "nodeResourceGroup": f"MC_{group}_{name}_{region}",
            "agentPoolProfiles": [{"name": "nodepool1", "count": rng.randint(1, 6), "vmSize": "Standard_D4s_v5",
                                   "osType": "Linux", "mode": "System"}],
        },
    }


def _extension(rng: random.Random, cluster: dict[str, Any], kind: ExtensionKind, name: str) -> dict[str, Any]:
    connectivity = cluster["properties"].get("connectivityStatus", "Connected")
    state = _choose(rng, PROVISIONING) if connectivity == "Connected" else rng.choice(("Succeeded", "Pending"))
    pinned = rng.random() < 0.25
    version = rng.choice(kind.versions)
    if kind.namespace_scoped:
        scope: dict[str, Any] = {"namespace": {"targetNamespace": f"{kind.namespace}-{name.rsplit('-', 1)[-1]}"}}
    else:
        scope = {"cluster": {"releaseNamespace": kind.namespace}}
    created = GENERATED_AT - timedelta(days=rng.randint(1, 300))
    return {
        "id": f"{cluster['id']}/providers/Microsoft.KubernetesConfiguration/extensions/{name}",
        "name": name,
        "type": "Microsoft.KubernetesConfiguration/extensions",
        "identity": {"type": "SystemAssigned", "principalId": _uuid(rng)},
        "systemData": _system_data(rng, created),
        "properties": {
            "extensionType": kind.extension_type,
            "autoUpgradeMinorVersion": not pinned,
            "releaseTrain": "Preview" if rng.random() < 0.15 else "Stable",
            "version": version if pinned else None,
            "scope": scope,
            "configurationSettings": dict(kind.settings),
            "configurationProtectedSettings": dict.fromkeys(kind.protected_keys, ""),
            "provisioningState": state,
            "statuses": [],
            "currentVersion": version if state == "Succeeded" else None,
            "isSystemExtension": False,
            "errorInfo": {"code": "HelmInstallFailed", "message": "helm install timed out"}
            if state == "Failed" else None,
        },
    }


def _flux_configuration(rng: random.Random, cluster: dict[str, Any], name: str) -> dict[str, Any]:
    branch = rng.choice(("main", "release"))
    return {
        "id": f"{cluster['id']}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/{name}",
        "name": name,
        "type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
        "systemData": _system_data(rng, GENERATED_AT - timedelta(days=rng.randint(1, 300))),
        "properties": {
            "scope": "cluster",
            "namespace": name,
            "sourceKind": "GitRepository",
            "suspend": False,
            "gitRepository": {
                "url": f"https://github.com/contoso/{name}",
                "timeoutInSeconds": 600,
                "syncIntervalInSeconds": 600,
                "repositoryRef": {"branch": branch},
            },
            "kustomizations": {
                "infrastructure": {"path": "./infrastructure", "dependsOn": [], "syncIntervalInSeconds": 600,
                                   "timeoutInSeconds": 600, "prune": True},
                "apps": {"path": "./apps/staging", "dependsOn": ["infrastructure"], "syncIntervalInSeconds": 600,
                         "timeoutInSeconds": 600, "prune": True},
            },
            "configurationProtectedSettings": {},
            "statuses": [],
            "complianceState": rng.choice(("Compliant", "Compliant", "Compliant", "Non-Compliant", "Pending")),
            "provisioningState": "Succeeded",
            "sourceSyncedCommitId": f"{branch}@sha1:{rng.getrandbits(160):040x}",
        },
    }


def generate_fleet(clusters: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield the resources of a generated fleet: each cluster, then its extensions and flux configs."""
    rng = random.Random(seed)
    layout = _layout(rng, clusters)
    for index in range(clusters):
        cluster = _cluster(rng, layout, index)
        if cluster.get("kind") is None:
            cluster.pop("kind", None)
        yield cluster
        has_flux = False
        for kind in EXTENSION_KINDS:
            if rng.random() >= kind.share:
                continue
            instances = rng.randint(1, 3) if kind.namespace_scoped else 1
            for number in range(instances):
                name = f"{kind.instance_name}-{number + 1}" if kind.namespace_scoped else kind.instance_name
                yield _extension(rng, cluster, kind, name)
            has_flux = has_flux or kind.extension_type == "microsoft.flux"
        if has_flux:
            for number in range(rng.choice((1, 1, 1, 2))):
                yield _flux_configuration(rng, cluster, "cluster-config" if number == 0 else f"apps-{number}")


def write_generated_fleet(path: Path, clusters: int, seed: int = 0) -> int:
    """Write a generated fleet to ``path`` (JSON list, or NDJSON for .ndjson/.jsonl); returns the count."""
    return write_snapshot(path, generate_fleet(clusters, seed))
