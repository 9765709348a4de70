"""What the plan rules need to know about each cluster, from the inventory and ``--facts FILE``.

Node architectures come from the facts file (``{cluster id: {"nodeArchitectures": [...]}}``) or
the cluster tag ``arcpolicy.io/node-architectures`` (comma-separated); unknown means amd64 is
assumed and the operation is flagged. Connectivity is the Arc cluster's ``connectivityStatus``;
a cluster without one (the GetCluster example of the 2024-01-01 API has none) is unknown, not
disconnected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ids
from engine.errors import InputError
from engine.inventory import ClusterInventory
from engine.jsonfiles import read_json
from engine.models.kubernetes import NODE_ARCHITECTURES_TAG


@dataclass(frozen=True, slots=True)
class ExistingExtension:
    resource_id: str
    name: str
    extension_type: str
    release_namespace: str | None


@dataclass(slots=True)
class ClusterFacts:
    cluster_id: str
    connected: bool | None  # None: unknown (an Arc cluster without connectivityStatus)
    node_architectures: tuple[str, ...] | None  # None: unknown
    extensions: list[ExistingExtension] = field(default_factory=list)
    # the fleet's spread a canary should cover (remediation.plan.canary)
    kind: str = ""  # connectedClusters, managedClusters ...: the resource type's last segment
    distribution: str = ""
    location: str = ""
    connectivity: str = ""  # Connected, Offline, Expired; "unknown" when the cluster does not say

    @property
    def arm64_only(self) -> bool:
        return bool(self.node_architectures) and all(arch == "arm64" for arch in self.node_architectures or ())


def load_facts(path: str | Path) -> dict[str, tuple[str, ...]]:
    """``--facts FILE``: cluster id (case-insensitive) -> node architectures."""
    data = read_json(path, "facts file")
    if not isinstance(data, dict):
        raise InputError(str(path), "facts are a JSON object mapping cluster id to {\"nodeArchitectures\": [...]}",
                         value=type(data).__name__)
    facts: dict[str, tuple[str, ...]] = {}
    for cluster_id, entry in data.items():
        architectures = entry.get("nodeArchitectures") if isinstance(entry, dict) else None
        if not isinstance(architectures, list) or not all(isinstance(arch, str) for arch in architectures):
            raise InputError(str(path), "nodeArchitectures must be a list of strings", location=cluster_id,
                             value=entry)
        facts[ids.normalize(cluster_id)] = tuple(arch.strip().lower() for arch in architectures)
    return facts


def cluster_facts(cluster: ClusterInventory, facts: dict[str, tuple[str, ...]]) -> ClusterFacts:
    resource = cluster.resource
    properties = resource.get("properties") or {}
    managed = ids.normalize(resource["type"]) == ids.MANAGED_CLUSTER_TYPE
    status = str(properties.get("connectivityStatus") or "").lower()
    connected = True if managed else (status == "connected" if status else None)
    architectures = facts.get(ids.normalize(resource["id"]))
    tag = (resource.get("tags") or {}).get(NODE_ARCHITECTURES_TAG)
    if architectures is None and tag:
        architectures = tuple(part.strip().lower() for part in tag.split(",") if part.strip())
    return ClusterFacts(resource["id"], connected, architectures or None,
                        [_existing(extension) for extension in cluster.extensions],
                        kind=str(resource["type"]).rsplit("/", 1)[-1],
                        distribution=str(properties.get("distribution") or ("aks" if managed else "unknown")).lower(),
                        location=str(resource.get("location") or "unknown").lower().replace(" ", ""),
                        connectivity="Connected" if managed else str(properties.get("connectivityStatus") or "unknown"))


def _existing(extension: dict[str, Any]) -> ExistingExtension:
    properties = extension.get("properties") or {}
    scope = {key.lower(): value for key, value in (properties.get("scope") or {}).items()}
    cluster_scope = scope.get("cluster") or {}
    return ExistingExtension(extension["id"], extension.get("name", ""), str(properties.get("extensionType") or "").lower(),
                             cluster_scope.get("releaseNamespace") if isinstance(cluster_scope, dict) else None)
