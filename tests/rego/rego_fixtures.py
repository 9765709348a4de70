"""Small clusters for the Rego tests (ARM-shaped, one connected cluster with chosen extensions)."""

from __future__ import annotations

from typing import Any

from engine.inventory import ClusterInventory

CLUSTER_ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-edge/providers/" \
             "Microsoft.Kubernetes/connectedClusters/edge-1"


def extension(name: str, extension_type: str, **properties: Any) -> dict[str, Any]:
    return {"id": f"{CLUSTER_ID}/providers/Microsoft.KubernetesConfiguration/extensions/{name}", "name": name,
            "type": "Microsoft.KubernetesConfiguration/extensions",
            "properties": {"extensionType": extension_type, "provisioningState": "Succeeded", **properties}}


def cluster(*extensions: dict[str, Any], environment: str = "production", distribution: str = "k3s",
            flux: int = 0) -> ClusterInventory:
    resource = {"id": CLUSTER_ID, "name": "edge-1", "type": "Microsoft.Kubernetes/connectedClusters",
                "location": "eastus", "tags": {"environment": environment},
                "properties": {"distribution": distribution, "connectivityStatus": "Connected"}}
    flux_configurations = [{"id": f"{CLUSTER_ID}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/f{n}",
                            "name": f"f{n}", "type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
                            "properties": {}} for n in range(flux)]
    return ClusterInventory(resource=resource, extensions=list(extensions), flux_configurations=flux_configurations)
