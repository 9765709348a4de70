"""Microsoft.KubernetesConfiguration: cluster extensions and Flux configurations (2023-05-01 swaggers).

Both provision asynchronously on the simulated clock (:mod:`engine.sandbox.lifecycle`). An extension
type that is cluster-scoped may be installed once per cluster; a Flux configuration needs the
``microsoft.flux`` extension on its cluster, and once provisioned reports ``complianceState`` and the
``statuses`` of its source and kustomizations as the 2023-05-01 GetFluxConfiguration example shows them.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from engine import ids
from engine.sandbox import lifecycle
from engine.sandbox.resources.registry import Parent, ResourceType, register
from engine.sandbox.swagger import spec_file
from engine.sandbox.validation import Refused
from engine.sandbox.values import timestamp

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox
    from engine.sandbox.http import Request

FOLDER = ("kubernetesconfiguration", "resource-manager", "Microsoft.KubernetesConfiguration", "stable", "2023-05-01")
# The api-versions of the types' operations in azure-mgmt-kubernetesconfiguration 3.1.0 (and -extensions 1.0.0)
# and in the specification folders of Azure/azure-rest-api-specs.
EXTENSION_API_VERSIONS = ("2020-07-01-preview", "2021-05-01-preview", "2021-09-01", "2021-11-01-preview",
                          "2022-01-01-preview", "2022-03-01", "2022-04-02-preview", "2022-07-01", "2022-11-01",
                          "2023-05-01", "2024-11-01", "2024-11-02-preview", "2025-03-01")
FLUX_API_VERSIONS = ("2021-11-01-preview", "2022-01-01-preview", "2022-03-01", "2022-07-01", "2022-11-01",
                     "2023-05-01", "2024-04-01-preview", "2024-11-01", "2025-04-01", "2026-07-01-preview")
FLUX_EXTENSION_TYPE = "microsoft.flux"
REVISION_SOURCE_KINDS = {"GitRepository": "GitOperationSucceed"}  # others report "Succeeded" (the Bucket example)


def _cluster_extensions(sandbox: Sandbox, cluster_id: str) -> list[dict[str, Any]]:
    collection = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions"
    return [extension for _, extension in sandbox.store.children(collection)]


def _prepare_extension(sandbox: Sandbox, request: Request, resource: dict[str, Any],
                       previous: dict[str, Any] | None) -> None:
    properties = resource.setdefault("properties", {})
    if not properties.get("extensionType"):
        raise Refused("InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                                               "'properties.extensionType' is required.")
    properties.setdefault("currentVersion", None)
    properties.setdefault("statuses", [])
    if lifecycle.is_namespace_scoped(resource):
        return
    kind = lifecycle.extension_type(resource)
    for sibling in _cluster_extensions(sandbox, str(ids.owning_cluster_id(resource["id"]))):
        if not ids.same(sibling["id"], resource["id"]) and lifecycle.extension_type(sibling) == kind \
                and sibling["properties"].get("provisioningState") != "Deleting":
            raise Refused("Conflict", f"Extension type {kind} is cluster-scoped and already installed on this "
                                      f"cluster as '{sibling['name']}'; only one instance is allowed.", 409)


def _prepare_flux(sandbox: Sandbox, request: Request, resource: dict[str, Any],
                  previous: dict[str, Any] | None) -> None:
    properties = resource.setdefault("properties", {})
    if previous is None and not any(
            lifecycle.extension_type(extension) == FLUX_EXTENSION_TYPE
            and extension["properties"].get("provisioningState") != "Deleting"
            for extension in _cluster_extensions(sandbox, str(ids.owning_cluster_id(resource["id"])))):
        raise Refused("BadRequest", "Extension instance with name 'flux' not found: install the microsoft.flux "
                                    "cluster extension before creating a Flux configuration.")
    for name, kustomization in (properties.get("kustomizations") or {}).items():
        kustomization["name"] = name  # read-only: the key of the kustomization in the map
    properties["complianceState"] = "Pending"


def _revision(properties: dict[str, Any]) -> str:
    """The revision the simulated Flux fetched: ``branch/sha`` as the examples show it."""
    source = properties.get("gitRepository") or properties.get("bucket") or properties.get("azureBlob") or {}
    reference = (source.get("repositoryRef") or {})
    name = reference.get("branch") or reference.get("tag") or reference.get("semver") or ""
    digest = hashlib.sha1(repr((source.get("url"), name, reference.get("commit"))).encode()).hexdigest()
    return f"{name}/{reference.get('commit') or digest}" if name else reference.get("commit") or digest


def _flux_statuses(resource: dict[str, Any], state: str, moment: str) -> list[dict[str, Any]]:
    properties = resource["properties"]
    revision = _revision(properties)
    source_kind = str(properties.get("sourceKind") or "GitRepository")

    def status(name: str, kind: str, message: str, reason: str) -> dict[str, Any]:
        return {"name": name, "namespace": properties.get("namespace"), "kind": kind, "complianceState": state,
                "appliedBy": None, "helmReleaseProperties": None,
                "statusConditions": [{"lastTransitionTime": moment, "message": message, "reason": reason,
                                      "status": "True", "type": "Ready"}]}

    return [status(resource["name"], source_kind, f"'Fetched revision: {revision}'",
                   REVISION_SOURCE_KINDS.get(source_kind, "Succeeded")),
            *(status(f"{resource['name']}-{name}", "Kustomization", f"'Applied revision: {revision}'",
                     "ReconciliationSucceeded") for name in properties.get("kustomizations") or {})]


def _flux_settled(resource: dict[str, Any], state: str, now: float) -> None:
    """Flux reports on the cluster what it reconciled once the configuration is provisioned."""
    properties = resource["properties"]
    if state != "Succeeded":
        properties["complianceState"] = "Non-Compliant" if state == "Failed" else "Pending"
        properties.setdefault("statuses", [])
        return
    if properties.get("complianceState") not in ("Pending", None):
        return  # settled before: its statuses stand until the next write
    moment = timestamp(now)
    compliance = "Suspended" if properties.get("suspend") else "Compliant"
    properties.update({"complianceState": compliance, "statuses": _flux_statuses(resource, compliance, moment),
                       "sourceSyncedCommitId": _revision(properties), "sourceUpdatedAt": moment,
                       "statusUpdatedAt": moment, "errorMessage": ""})


EXTENSIONS = register(ResourceType(
    "Microsoft.KubernetesConfiguration/extensions", EXTENSION_API_VERSIONS,
    specs=(spec_file(*FOLDER, "extensions.json"),), parent=Parent.CLUSTER, lifecycle=True,
    prepare=_prepare_extension))
FLUX_CONFIGURATIONS = register(ResourceType(
    "Microsoft.KubernetesConfiguration/fluxConfigurations", FLUX_API_VERSIONS,
    specs=(spec_file(*FOLDER, "fluxconfiguration.json"),), parent=Parent.CLUSTER, lifecycle=True,
    prepare=_prepare_flux, settled=_flux_settled))
