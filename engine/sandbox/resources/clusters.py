"""The clusters: Arc-enabled connected clusters (the hybridkubernetes 2024-01-01 swagger) and AKS managed
clusters (served as loaded: their swagger is not kept, their api-version is checked for its form only).

A connected cluster created through ARM has no agent yet: it is ``Connecting`` until the control API
says otherwise. ``listClusterUserCredential`` answers with a kubeconfig whose token the sandbox derives and,
for a client-side proxy (``clientProxy``), the relay's ``hybridConnectionConfig`` as the spec's CSP examples show it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from engine import ids
from engine.sandbox.resources.registry import ResourceType, register
from engine.sandbox.resources.services import derived_secret
from engine.sandbox.swagger import spec_file
from engine.sandbox.validation import cleaned

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox
    from engine.sandbox.http import Request

CONNECTED_CLUSTERS_SPEC = spec_file("hybridkubernetes", "resource-manager", "Microsoft.Kubernetes", "stable", "2024-01-01",
                                    "connectedClusters.json")
# Microsoft.Kubernetes/connectedClusters api-versions (azure-rest-api-specs' hybridkubernetes folders).
CONNECTED_CLUSTER_API_VERSIONS = ("2020-01-01-preview", "2021-03-01", "2021-04-01-preview", "2021-10-01",
                                  "2022-05-01-preview", "2022-10-01-preview", "2023-11-01-preview", "2024-01-01",
                                  "2024-02-01-preview", "2024-06-01-preview", "2024-07-01-preview",
                                  "2024-07-15-preview", "2024-12-01-preview", "2025-08-01-preview",
                                  "2025-12-01-preview", "2026-02-01-preview", "2026-05-01")
CREDENTIAL_NAME = "credentialName1"
# How long a relay sender token lasts: the CSP examples' expirationTime is 3 hours after the time their
# hybridConnectionName carries (1631185383340987904 ns, expiring 1631196183).
RELAY_TOKEN_SECONDS = 3 * 3600


def _prepare_connected_cluster(sandbox: Sandbox, request: Request, resource: dict[str, Any],
                               previous: dict[str, Any] | None) -> None:
    if previous is None:
        resource.setdefault("properties", {})["connectivityStatus"] = "Connecting"


def _kubeconfig(sandbox: Sandbox, cluster: dict[str, Any]) -> str:
    name = cluster["name"]
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://{name}.arc.sandbox.invalid\n"
            f"  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: clusterUser_{name}\n"
            f"  name: {name}\ncurrent-context: {name}\nusers:\n- name: clusterUser_{name}\n  user:\n"
            f"    token: {derived_secret(sandbox, cluster, 'clusterUser')}\n")


def _user_credential(sandbox: Sandbox, request: Request, cluster: dict[str, Any], body: Any) -> dict[str, Any]:
    operation = CONNECTED_CLUSTERS.operation("POST", request.path)
    assert operation is not None and operation.body is not None
    wanted = cleaned(operation.body, body if body is not None else {})
    config = base64.b64encode(_kubeconfig(sandbox, cluster).encode()).decode()
    credential: dict[str, Any] = {"kubeconfigs": [{"name": CREDENTIAL_NAME, "value": config}]}
    if wanted.get("clientProxy"):
        credential = {"hybridConnectionConfig": _hybrid_connection(sandbox, cluster), **credential}
    return credential


def _hybrid_connection(sandbox: Sandbox, cluster: dict[str, Any]) -> dict[str, Any]:
    """The relay endpoint and sender token a client-side proxy connects through (HybridConnectionConfig)."""
    now = sandbox.now()
    cluster_hash = hashlib.sha256(ids.normalize(cluster["id"]).encode()).hexdigest()
    return {"expirationTime": int(now) + RELAY_TOKEN_SECONDS,
            "hybridConnectionName": f"microsoft.kubernetes/connectedclusters/{cluster_hash}/{int(now * 1e9)}",
            "relay": "azgnrelay-sandbox-l1",
            "token": f"SharedAccessSignature {derived_secret(sandbox, cluster, 'relaySender')}"}


CONNECTED_CLUSTERS = register(ResourceType(
    "Microsoft.Kubernetes/connectedClusters", CONNECTED_CLUSTER_API_VERSIONS, specs=(CONNECTED_CLUSTERS_SPEC,),
    tracked=True, prepare=_prepare_connected_cluster, actions={"listClusterUserCredential": _user_credential}))
MANAGED_CLUSTERS = register(ResourceType("Microsoft.ContainerService/managedClusters", (), tracked=True))
