"""Every Microsoft built-in that names Microsoft.KubernetesConfiguration (33 in release
3.2026.0417.1: extensions, Flux v2 and GitOps v1 sourceControlConfigurations) loads, evaluates
and plans over a small fleet: Arc and AKS clusters, bare and with the Flux extension."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from template.corpus import CORPUS, parameters_of

from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet
from remediation.plan.from_scan import plan_from_scan
from remediation.plan.models import OperationStatus

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TAGS = {"placeholder": "placeholder"}  # the tag placeholder parameters name: worn by the Flux clusters only
DEFINITIONS = sorted(path for path in CORPUS.rglob("*.json") if "Microsoft.KubernetesConfiguration" in path.read_text())


def _cluster(kind: str, name: str, location: str, tags: dict[str, str]) -> dict[str, Any]:
    provider, properties = {
        "arc": ("Microsoft.Kubernetes/connectedClusters",
                {"distribution": "k3s", "connectivityStatus": "Connected", "provisioningState": "Succeeded"}),
        "aks": ("Microsoft.ContainerService/managedClusters",
                {"provisioningState": "Succeeded", "kubernetesVersion": "1.30.4"}),
    }[kind]
    return {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/{provider}/{name}", "name": name,
            "type": provider, "location": location, "tags": tags, "properties": properties}


def _flux(owner: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{owner['id']}/providers/Microsoft.KubernetesConfiguration/extensions/flux", "name": "flux",
            "type": "Microsoft.KubernetesConfiguration/extensions",
            "properties": {"extensionType": "microsoft.flux", "provisioningState": "Succeeded",
                           "autoUpgradeMinorVersion": True, "releaseTrain": "Stable",
                           "scope": {"cluster": {"releaseNamespace": "flux-system"}}}}


def fleet(location: str) -> Fleet:
    bare = [_cluster("arc", "arc-bare", location, {}), _cluster("aks", "aks-bare", location, {})]
    with_flux = [_cluster("arc", "arc-flux", location, TAGS), _cluster("aks", "aks-flux", location, TAGS)]
    return Fleet([*bare, *with_flux, *(_flux(cluster) for cluster in with_flux)])


def assignment_file(tmp_path: Path, document: dict[str, Any], location: str) -> Path:
    declared = document["properties"].get("parameters") or {}
    values = {name: value for name, value in parameters_of(document["properties"], location).items()
              if "defaultValue" not in declared[name]}
    values.update({name: ["placeholder"] for name, value in values.items() if value == []})
    path = tmp_path / "assignment.json"
    path.write_text(json.dumps({
        "id": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/corpus",
        "name": "corpus", "type": "Microsoft.Authorization/policyAssignments",
        "properties": {"scope": f"/subscriptions/{SUBSCRIPTION}", "policyDefinitionId": document["id"],
                       "parameters": {name: {"value": value} for name, value in values.items()}}}))
    return path


def test_thirty_three_definitions_name_kubernetes_configuration() -> None:
    assert len(DEFINITIONS) == 33
    assert sum("sourceControlConfigurations" in path.read_text() for path in DEFINITIONS) == 3  # GitOps v1


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda path: str(path.relative_to(CORPUS)))
def test_definition_loads_evaluates_and_plans(path: Path, tmp_path: Path) -> None:
    document = json.loads(path.read_text())
    location = "usgovvirginia" if "Azure Government" in path.parts else "westeurope"
    clusters = fleet(location)
    request = prepare_scan([path], [assignment_file(tmp_path, document, location)])
    result = run_scan(clusters, request, workers=1)
    assert result.records, "evaluated no cluster"
    plan = plan_from_scan(clusters, request, result)
    rule = json.dumps(document["properties"]["policyRule"]["then"]).lower()
    if "deployment" in rule:  # deployIfNotExists: something to write, planned on some cluster
        assert any(operation.status is OperationStatus.PLANNED for operation in plan.operations)
    else:
        assert plan.operations == []
