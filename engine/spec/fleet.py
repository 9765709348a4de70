"""A small fleet described in sentences, turned into the ARM JSON that ARM GET returns.

Specs say "a connected cluster running k3s in eastus with the Flux extension"; this module keeps
those facts as plain dataclasses and renders realistic ``connectedClusters``, ``managedClusters``
and ``extensions`` resources (the shapes of :mod:`engine.inventory.generator`), so the engine
reads a spec fleet exactly as it reads a real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from engine.models.kubernetes import NODE_ARCHITECTURES_TAG

SUBSCRIPTION_ID = "00000000-0000-0000-0000-00000000a7c0"
RESOURCE_GROUP = "rg-specs"
TIMESTAMP = "2026-11-01T12:00:00.000Z"
SYSTEM_DATA = {"createdBy": "specs@contoso.com", "createdByType": "User", "createdAt": TIMESTAMP,
               "lastModifiedBy": "specs@contoso.com", "lastModifiedByType": "User", "lastModifiedAt": TIMESTAMP}
CONNECTED_CLUSTER_TYPE = "Microsoft.Kubernetes/connectedClusters"
MANAGED_CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
EXTENSION_TYPE = "Microsoft.KubernetesConfiguration/extensions"


@cache
def _known_kinds() -> dict[str, tuple[str, str]]:
    """extension type -> (usual instance name, release namespace), from the fleet generator."""
    from engine.inventory.generator import EXTENSION_KINDS  # loaded on first use: the plugin stays light

    return {kind.extension_type: (kind.instance_name, kind.namespace) for kind in EXTENSION_KINDS}


def default_extension_name(extension_type: str) -> str:
    """The instance name fleets usually give an extension type (``microsoft.flux`` -> ``flux``)."""
    known = _known_kinds().get(extension_type.lower())
    return known[0] if known else extension_type.lower().rsplit(".", 1)[-1]


def default_namespace(extension_type: str) -> str:
    known = _known_kinds().get(extension_type.lower())
    return known[1] if known else default_extension_name(extension_type)


@dataclass
class ExtensionSpec:
    """One ``Microsoft.KubernetesConfiguration/extensions`` instance on a spec cluster."""

    extension_type: str
    name: str
    release_train: str = "Stable"
    version: str | None = None
    auto_upgrade: bool = True
    provisioning_state: str = "Succeeded"
    namespace: str | None = None
    namespace_scoped: bool = False
    settings: dict[str, str] = field(default_factory=dict)

    def to_arm(self, cluster_id: str) -> dict[str, Any]:
        namespace = self.namespace or default_namespace(self.extension_type)
        scope = ({"namespace": {"targetNamespace": namespace}} if self.namespace_scoped
                 else {"cluster": {"releaseNamespace": namespace}})
        succeeded = self.provisioning_state == "Succeeded"
        return {
            "id": f"{cluster_id}/providers/{EXTENSION_TYPE}/{self.name}",
            "name": self.name,
            "type": EXTENSION_TYPE,
            "identity": {"type": "SystemAssigned", "principalId": "11111111-2222-4333-8444-555555555555"},
            "systemData": SYSTEM_DATA,
            "properties": {
                "extensionType": self.extension_type,
                "autoUpgradeMinorVersion": self.auto_upgrade,
                "releaseTrain": self.release_train,
                "version": self.version,
                "scope": scope,
                "configurationSettings": dict(self.settings),
                "configurationProtectedSettings": {},
                "provisioningState": self.provisioning_state,
                "statuses": [],
                "currentVersion": self.version if succeeded else None,
                "isSystemExtension": False,
                "errorInfo": None if succeeded else {"code": "HelmInstallFailed",
                                                     "message": "helm install timed out"},
            },
        }


@dataclass
class ClusterSpec:
    """One cluster of a spec fleet: an Arc connected cluster, or an AKS managed cluster."""

    name: str
    region: str
    distribution: str = "k3s"
    managed: bool = False
    connectivity: str = "Connected"
    subscription_id: str = SUBSCRIPTION_ID
    resource_group: str = RESOURCE_GROUP
    kubernetes_version: str = "1.30.5"
    tags: dict[str, str] = field(default_factory=dict)
    extensions: list[ExtensionSpec] = field(default_factory=list)

    @property
    def resource_type(self) -> str:
        return MANAGED_CLUSTER_TYPE if self.managed else CONNECTED_CLUSTER_TYPE

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"{self.resource_type}/{self.name}")

    def set_architectures(self, architectures: str) -> None:
        """Record the node architectures (``arm64``, ``amd64,arm64``) the way fleets tag them."""
        self.tags[NODE_ARCHITECTURES_TAG] = architectures

    def extension(self, name_or_type: str) -> ExtensionSpec:
        """The extension with this instance name or extension type (case-insensitive)."""
        wanted = name_or_type.lower()
        for extension in self.extensions:
            if wanted in (extension.name.lower(), extension.extension_type.lower()):
                return extension
        known = ", ".join(extension.name for extension in self.extensions) or "none"
        raise KeyError(f'cluster "{self.name}" has no extension "{name_or_type}" (it has: {known})')

    def resources(self) -> list[dict[str, Any]]:
        """The cluster's ARM JSON followed by that of its extensions."""
        return [self._cluster_arm(), *(extension.to_arm(self.id) for extension in self.extensions)]

    def _cluster_arm(self) -> dict[str, Any]:
        common = {"id": self.id, "name": self.name, "type": self.resource_type, "location": self.region,
                  "tags": dict(self.tags), "systemData": SYSTEM_DATA,
                  "identity": {"type": "SystemAssigned", "principalId": "22222222-3333-4444-8555-666666666666",
                               "tenantId": "33333333-4444-4555-8666-777777777777"}}
        if self.managed:
            return {**common, "sku": {"name": "Base", "tier": "Standard"}, "properties": {
                "provisioningState": "Succeeded", "powerState": {"code": "Running"},
                "kubernetesVersion": self.kubernetes_version, "currentKubernetesVersion": self.kubernetes_version,
                "dnsPrefix": self.name, "fqdn": f"{self.name}.hcp.{self.region}.azmk8s.io",
                "nodeResourceGroup": f"MC_{self.resource_group}_{self.name}_{self.region}",
                "agentPoolProfiles": [{"name": "nodepool1", "count": 3, "vmSize": "Standard_D4s_v5",
                                       "osType": "Linux", "mode": "System"}]}}
        return {**common, "properties": {
            "agentPublicKeyCertificate": "", "kubernetesVersion": self.kubernetes_version,
            "totalNodeCount": 3, "totalCoreCount": 12, "agentVersion": "1.20.0", "provisioningState": "Succeeded",
            "distribution": self.distribution, "distributionVersion": None,
            "infrastructure": "azure_stack_hci" if self.distribution == "aks" else "generic",
            "offering": None, "connectivityStatus": self.connectivity, "lastConnectivityTime": TIMESTAMP,
            "managedIdentityCertificateExpirationTime": "2027-01-01T12:00:00.000Z",
            "privateLinkState": "Disabled", "azureHybridBenefit": "NotApplicable"}}
