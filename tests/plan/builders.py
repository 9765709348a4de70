"""Hand-made clusters, extensions and policy states for planning tests (small, hand-checkable)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from engine.inventory import Fleet
from engine.models.results import ComplianceState, PolicyState
from remediation.plan.requests import WantedOperation, wanted_from_dine
from remediation.template import DineDeployment

BUILTINS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-builtins"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000002"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DEFENDER = "ASC_Azure_Defender_Arc_Extension_DINE.json"
AZURE_POLICY = "ArcPolicyExtension_DINE.json"
FLUX_EXTENSION = "Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
FLUX_SSH = "Deploy-GitOps-Flux2-to-Kubernetes-cluster-SSH_DINE.json"
FLUX_PUBLIC = "Deploy-GitOps-Flux2-to-Kubernetes-cluster-no-secrets_DINE.json"


def cluster(name: str, group: str = "rg-a", subscription: str = SUBSCRIPTION, location: str = "westeurope",
            connectivity: str = "Connected", architectures: str | None = None) -> dict[str, Any]:
    tags = {"arcpolicy.io/node-architectures": architectures} if architectures else {}
    return {"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Kubernetes/"
                  f"connectedClusters/{name}",
            "name": name, "type": "Microsoft.Kubernetes/connectedClusters", "location": location, "tags": tags,
            "properties": {"distribution": "k3s", "connectivityStatus": connectivity}}


def managed_cluster(name: str, group: str = "rg-a", subscription: str = SUBSCRIPTION) -> dict[str, Any]:
    return {"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/"
                  f"managedClusters/{name}",
            "name": name, "type": "Microsoft.ContainerService/managedClusters", "location": "eastus",
            "properties": {}}


def extension(owner: dict[str, Any], name: str, extension_type: str, namespace: str = "kube-system",
              namespace_scoped: bool = False) -> dict[str, Any]:
    scope = {"namespace": {"targetNamespace": namespace}} if namespace_scoped else {
        "cluster": {"releaseNamespace": namespace}}
    return {"id": f"{owner['id']}/providers/Microsoft.KubernetesConfiguration/extensions/{name}", "name": name,
            "type": "Microsoft.KubernetesConfiguration/extensions",
            "properties": {"extensionType": extension_type, "scope": scope, "provisioningState": "Succeeded"}}


@cache
def definition(file_name: str) -> dict[str, Any]:
    return json.loads((BUILTINS / file_name).read_text())


@cache
def deployment(file_name: str) -> DineDeployment:
    return DineDeployment.from_definition(definition(file_name), file_name)


def assignment_id(name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/{name}"


def state(resource: dict[str, Any], file_name: str, assignment: str, action: str = "deployIfNotExists",
          remediation: list[dict[str, Any]] | None = None) -> PolicyState:
    found = definition(file_name) if file_name.endswith(".json") else {"id": file_name, "name": file_name}
    return PolicyState(resource_id=resource["id"], resource_type=resource["type"],
                       policy_assignment_id=assignment_id(assignment), policy_assignment_name=assignment,
                       policy_definition_id=found["id"], policy_definition_name=found["name"],
                       policy_definition_action=action, compliance_state=ComplianceState.NON_COMPLIANT,
                       is_compliant=False, timestamp=NOW, remediation=remediation)


def wanted(resource: dict[str, Any], file_name: str, assignment: str = "a1",
           parameters: dict[str, Any] | None = None) -> list[WantedOperation]:
    return wanted_from_dine(state(resource, file_name, assignment), deployment(file_name), resource, parameters)


def fleet(*resources: dict[str, Any]) -> Fleet:
    return Fleet(resources)
