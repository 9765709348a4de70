"""Existence checks shared between policies that decide them identically (Audit/DINE built-in pairs).

A resource's existence outcome is computed once per existence key (details.type, the existence
condition and the parameter values it references) and reused: records must not change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.azure_policy import AzurePolicyLibrary, load_documents
from engine.azure_policy.documents import PolicyAssignment, PolicyDefinition
from engine.azure_policy.policy import CompiledPolicy, ExistenceOutcomes, compile_policy
from engine.evaluate import prepare_scan, run_scan
from engine.evaluate.scan import ScanEngine
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet

from .builders import BUILTINS, NOW, assignment, cluster, extension, write_json

FLUX_EXTENSION = "Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
FLUX_PARAMETERS = {"configurationName": "cluster-config", "repositoryUrl": "https://github.com/contoso/cluster-config",
                   "keyVaultSecretName": "ssh-key", "keyVaultName": "kv"}
EXTENSIONS = "microsoft.kubernetesconfiguration/extensions"


def compiled(file_name: str, **parameters: Any) -> CompiledPolicy:
    library = AzurePolicyLibrary(load_documents([BUILTINS / file_name]))
    [definition] = library.definitions
    [policy] = library.compile(PolicyAssignment(
        id=f"/providers/Microsoft.Authorization/policyAssignments/{file_name}", name=file_name,
        policy_definition_id=definition.id,
        parameters={name: {"value": value} for name, value in parameters.items()})).policies
    return policy


def test_audit_and_dine_pair_decide_a_cluster_once() -> None:
    audit, dine = compiled("ArcPolicyExtension_Audit.json"), compiled("ArcPolicyExtension_DINE.json")
    assert audit.existence_key == dine.existence_key
    owner = cluster("bad")
    related = {EXTENSIONS: [extension(owner, "azurepolicy", "microsoft.policyinsights", state="Failed")]}
    decided: ExistenceOutcomes = {}
    first, second = (policy.evaluate(owner, related, NOW, decided=decided) for policy in (audit, dine))
    assert first is not None and second is not None
    assert (first[0].action, second[0].action) == ("auditifnotexists", "deployifnotexists")
    assert second[1] is first[1] and len(decided) == 1
    alone = dine.evaluate(owner, related, NOW)
    assert alone is not None
    assert [reason.to_json() for reason in alone[1].reasons] == [reason.to_json() for reason in first[1].reasons]


def test_different_referenced_parameters_are_not_shared() -> None:
    upgrading = compiled(FLUX_EXTENSION)
    pinned = compiled(FLUX_EXTENSION, autoUpgradeMinorVersion=False, version="1.14.0")
    assert upgrading.existence_key != pinned.existence_key
    owner = cluster("c")
    related = {EXTENSIONS: [extension(owner, "flux", "microsoft.flux", autoUpgradeMinorVersion=False,
                                      version="1.14.0")]}
    decided: ExistenceOutcomes = {}
    outcomes = [policy.evaluate(owner, related, NOW, decided=decided) for policy in (upgrading, pinned)]
    assert [outcome[1].compliant for outcome in outcomes if outcome] == [False, True] and len(decided) == 2


def _audit_if_not_exists(existence_condition: dict[str, Any]) -> CompiledPolicy | None:
    definition = PolicyDefinition.model_validate({
        "id": "/providers/Microsoft.Authorization/policyDefinitions/test", "name": "test", "mode": "All",
        "parameters": {"train": {"type": "String"}},
        "policyRule": {"if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                       "then": {"effect": "auditIfNotExists",
                                "details": {"type": "Microsoft.KubernetesConfiguration/extensions",
                                            "existenceCondition": existence_condition}}},
        "source": "test.json"})
    return compile_policy(definition, {"train": "Stable"}, {"assignmentId": "/a", "definitionId": "/d",
                                                            "setDefinitionId": "", "definitionReferenceId": ""})


def test_parameters_named_by_an_expression_are_never_shared() -> None:
    computed = _audit_if_not_exists({"field": "Microsoft.KubernetesConfiguration/extensions/releaseTrain",
                                     "equals": "[parameters(concat('tr', 'ain'))]"})
    named = _audit_if_not_exists({"field": "Microsoft.KubernetesConfiguration/extensions/releaseTrain",
                                  "equals": "[parameters('train')]"})
    assert computed is not None and named is not None
    assert computed.existence_key is None
    assert named.existence_key is not None and "Stable" in str(named.existence_key)


def test_a_policy_function_in_the_existence_condition_keys_on_the_assignment() -> None:
    policy = _audit_if_not_exists({"value": "[policy().assignmentId]", "equals": "/a"})
    assert policy is not None and "/a" in str(policy.existence_key)


def test_shared_existence_checks_leave_the_records_of_a_generated_fleet_unchanged(tmp_path: Path) -> None:
    files = []
    for definition in sorted(BUILTINS.glob("*.json")):
        document = json.loads(definition.read_text())
        declared = document["properties"]["parameters"]
        files.append(write_json(tmp_path / f"{definition.stem}.assignment.json", assignment(
            document["name"], document["id"],
            parameters={name: value for name, value in FLUX_PARAMETERS.items() if name in declared})))
    fleet = Fleet(generate_fleet(150, seed=7))
    request = prepare_scan([BUILTINS], files, timestamp=NOW)
    shared = [record.to_json() for record in run_scan(fleet, request, workers=1).records]
    engine = ScanEngine(request)
    for evaluator in engine.evaluators:
        for compiled_assignment in evaluator.assignments:  # type: ignore[attr-defined]
            for policy in compiled_assignment.policies:
                policy.existence_key = None  # every policy decides on its own
    alone = [record.to_json() for record in engine.evaluate(fleet.clusters()).records(request.timestamp)]
    assert len(shared) > 500
    assert shared == alone
