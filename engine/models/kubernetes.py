"""Typed views of the Kubernetes resources arcpolicy governs.

Each view is a :class:`Resource` whose ``properties`` are parsed into a typed model that still
keeps unknown keys, so a view can always be turned back into the exact ARM JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from engine import ids
from engine.models.resource import ArmModel, Resource

# The cluster tag that states node architectures ("arm64", "amd64,arm64") where no facts file does.
NODE_ARCHITECTURES_TAG = "arcpolicy.io/node-architectures"

ConnectivityStatus = Literal["Connecting", "Connected", "Offline", "Expired", "AgentNotInstalled"]


class ConnectedClusterProperties(ArmModel):
    """``Microsoft.Kubernetes/connectedClusters`` properties (2024-01-01 and later)."""

    distribution: str | None = None
    distribution_version: str | None = None
    infrastructure: str | None = None
    connectivity_status: str | None = None
    last_connectivity_time: str | None = None
    kubernetes_version: str | None = None
    agent_version: str | None = None
    total_node_count: int | None = None
    total_core_count: int | None = None
    provisioning_state: str | None = None
    offering: str | None = None
    private_link_state: str | None = None
    azure_hybrid_benefit: str | None = None
    agent_public_key_certificate: str | None = None
    managed_identity_certificate_expiration_time: str | None = None


class ConnectedCluster(Resource):
    properties: ConnectedClusterProperties = Field(default_factory=ConnectedClusterProperties)

    @property
    def is_connected(self) -> bool:
        return (self.properties.connectivity_status or "").lower() == "connected"


class ManagedClusterProperties(ArmModel):
    """``Microsoft.ContainerService/managedClusters`` (AKS) properties used by policies."""

    kubernetes_version: str | None = None
    current_kubernetes_version: str | None = None
    provisioning_state: str | None = None
    power_state: dict[str, Any] | None = None
    dns_prefix: str | None = None
    fqdn: str | None = None
    node_resource_group: str | None = None
    agent_pool_profiles: list[dict[str, Any]] | None = None


class ManagedCluster(Resource):
    properties: ManagedClusterProperties = Field(default_factory=ManagedClusterProperties)

    @property
    def is_connected(self) -> bool:
        """AKS clusters are always reachable from ARM."""
        return True


class ClusterScope(ArmModel):
    release_namespace: str | None = None


class NamespaceScope(ArmModel):
    target_namespace: str | None = None


class ExtensionScope(ArmModel):
    """Either ``{"cluster": {"releaseNamespace"}}`` or ``{"namespace": {"targetNamespace"}}``.

    ARM treats property names case-insensitively (built-in templates write ``"Cluster"``), so
    keys are matched without regard to case when reading.
    """

    cluster: ClusterScope | None = None
    namespace: NamespaceScope | None = None

    @model_validator(mode="before")
    @classmethod
    def _case_insensitive_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key.lower() if key.lower() in ("cluster", "namespace") else key: value
                    for key, value in data.items()}
        return data

    @property
    def kind(self) -> Literal["cluster", "namespace"]:
        return "namespace" if self.namespace is not None else "cluster"


class ExtensionProperties(ArmModel):
    """``Microsoft.KubernetesConfiguration/extensions`` properties (2023-05-01)."""

    extension_type: str | None = None
    auto_upgrade_minor_version: bool | None = None
    release_train: str | None = None
    version: str | None = None
    scope: ExtensionScope | None = None
    configuration_settings: dict[str, Any] | None = None
    # Never shown: ARM returns no values here, and snapshots that carry them must not leak them.
    configuration_protected_settings: dict[str, Any] | None = Field(default=None, repr=False)
    provisioning_state: str | None = None
    current_version: str | None = None
    statuses: list[dict[str, Any]] | None = None
    is_system_extension: bool | None = None
    error_info: dict[str, Any] | None = None
    package_uri: str | None = None


class Extension(Resource):
    properties: ExtensionProperties = Field(default_factory=ExtensionProperties)

    @property
    def cluster_id(self) -> str | None:
        return ids.owning_cluster_id(self.id)

    @property
    def extension_type(self) -> str:
        """The extension type, lower-cased (ARM compares it case-insensitively)."""
        return (self.properties.extension_type or "").lower()


class FluxConfigurationProperties(ArmModel):
    """``Microsoft.KubernetesConfiguration/fluxConfigurations`` properties (2023-05-01)."""

    scope: str | None = None
    namespace: str | None = None
    source_kind: str | None = None
    suspend: bool | None = None
    git_repository: dict[str, Any] | None = None
    bucket: dict[str, Any] | None = None
    azure_blob: dict[str, Any] | None = None
    kustomizations: dict[str, Any] | None = None
    configuration_protected_settings: dict[str, Any] | None = Field(default=None, repr=False)
    statuses: list[dict[str, Any]] | None = None
    compliance_state: str | None = None
    provisioning_state: str | None = None


class FluxConfiguration(Resource):
    properties: FluxConfigurationProperties = Field(default_factory=FluxConfigurationProperties)

    @property
    def cluster_id(self) -> str | None:
        return ids.owning_cluster_id(self.id)


_VIEWS: dict[str, type[Resource]] = {
    ids.CONNECTED_CLUSTER_TYPE: ConnectedCluster,
    ids.MANAGED_CLUSTER_TYPE: ManagedCluster,
    ids.EXTENSION_TYPE: Extension,
    ids.FLUX_CONFIGURATION_TYPE: FluxConfiguration,
}


def typed_view(raw: dict[str, Any]) -> Resource:
    """The most specific model for an ARM resource's JSON (generic :class:`Resource` otherwise)."""
    model = _VIEWS.get(ids.normalize(str(raw.get("type", ""))), Resource)
    return model.model_validate(raw)
