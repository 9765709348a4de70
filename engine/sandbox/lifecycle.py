"""How an extension or flux configuration settles, per the Arc cluster-extensions documentation.

- On a connected cluster: Creating/Updating for ``provisioning_seconds`` of simulated time, then
  Succeeded -- or Failed when every node is arm64 and the type is not one of the two that
  support arm64 (Flux and Microsoft Defender for Containers).
- On a disconnected cluster: Pending; with configurationProtectedSettings it turns Failed once
  the cluster has stayed disconnected 48 hours after the extension was created (Azure keeps
  protected settings only that long).
- What the fleet file holds mid-operation (Creating, Updating, Deleting, or Pending) moves on the
  same clock from the moment the sandbox loads it, as if that operation had just been started.
- A cluster-scoped extension type may be installed once per cluster (a second instance is a
  409 Conflict); namespace-scoped types may have several instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine import ids
from engine.inventory.generator import EXTENSION_KINDS
from engine.models.kubernetes import NODE_ARCHITECTURES_TAG

PROTECTED_SETTINGS_RETENTION_SECONDS = 48 * 3600
ARM64_SUPPORTED_TYPES = frozenset({"microsoft.flux", "microsoft.azuredefender.kubernetes"})
NAMESPACE_SCOPED_TYPES = frozenset({kind.extension_type for kind in EXTENSION_KINDS if kind.namespace_scoped}
                                   | {"microsoft.eventgrid"})
CONNECTED = "Connected"
IN_PROGRESS_STATES = {"create": "Creating", "update": "Updating", "delete": "Deleting"}
# A loaded resource in one of these states is in flight: the phase it settles as.
LOADED_PHASES = {"creating": "create", "updating": "update", "deleting": "delete", "pending": "create"}
LIFECYCLE_TYPES = frozenset({ids.EXTENSION_TYPE, ids.FLUX_CONFIGURATION_TYPE})


@dataclass(frozen=True)
class Settled:
    """Where an in-flight resource stands now: its state, an error, and whether that is final."""

    state: str
    final: bool
    error: dict[str, str] | None = None


def created_at(resource: dict[str, Any], now: float) -> float:
    """When the resource was created (``systemData.createdAt``), or ``now`` when it does not say."""
    stamp = (resource.get("systemData") or {}).get("createdAt")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if isinstance(stamp, str) else now
    except ValueError:
        return now


def loaded_phase(resource: dict[str, Any]) -> str | None:
    """The phase a resource loaded from a fleet file is in the middle of, or None when it is settled."""
    if ids.normalize(str(resource.get("type") or "")) not in LIFECYCLE_TYPES:
        return None
    state = (resource.get("properties") or {}).get("provisioningState")
    return LOADED_PHASES.get(state.lower()) if isinstance(state, str) else None


def is_connected(cluster: dict[str, Any]) -> bool:
    """Managed (AKS) clusters are always reachable; connected clusters report their connectivity."""
    if ids.normalize(cluster["type"]) == ids.MANAGED_CLUSTER_TYPE:
        return True
    return (cluster.get("properties") or {}).get("connectivityStatus") == CONNECTED


def initial_architectures(cluster: dict[str, Any]) -> str:
    return str((cluster.get("tags") or {}).get(NODE_ARCHITECTURES_TAG) or "amd64")


def only_arm64(architectures: str) -> bool:
    return {part.strip().lower() for part in architectures.split(",") if part.strip()} == {"arm64"}


def has_protected_settings(resource: dict[str, Any]) -> bool:
    return bool((resource.get("properties") or {}).get("configurationProtectedSettings"))


def extension_type(resource: dict[str, Any]) -> str:
    return str((resource.get("properties") or {}).get("extensionType") or "").lower()


def is_namespace_scoped(resource: dict[str, Any]) -> bool:
    scope = (resource.get("properties") or {}).get("scope") or {}
    return extension_type(resource) in NAMESPACE_SCOPED_TYPES or "namespace" in scope


def settle(resource: dict[str, Any], phase: str, cluster: dict[str, Any], architectures: str,
           started: float, created: float, now: float, provisioning_seconds: float) -> Settled:
    """The state of ``resource`` at simulated time ``now`` (a pure function of the facts)."""
    if phase == "delete":
        done = now >= started + provisioning_seconds
        return Settled("Deleted" if done else "Deleting", done)
    if not is_connected(cluster):
        if has_protected_settings(resource) and now >= created + PROTECTED_SETTINGS_RETENTION_SECONDS:
            return Settled("Failed", True, {
                "code": "ProtectedSettingsExpired",
                "message": "The cluster stayed disconnected for 48 hours after the extension was created; "
                           "its protected configuration settings are no longer available."})
        return Settled("Pending", False)
    if now < started + provisioning_seconds:
        return Settled(IN_PROGRESS_STATES[phase], False)
    kind = extension_type(resource)
    if ids.normalize(resource["type"]) == ids.EXTENSION_TYPE and kind not in ARM64_SUPPORTED_TYPES \
            and only_arm64(architectures):
        return Settled("Failed", True, {
            "code": "UnsupportedNodeArchitecture",
            "message": f"Extension type {kind} needs at least one linux/amd64 node; every node of the "
                       "cluster is arm64."})
    return Settled("Succeeded", True)
