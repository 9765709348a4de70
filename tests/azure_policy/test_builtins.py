"""Every Microsoft built-in in ../shared/azure-policy-builtins loads and evaluates as Azure would.

The fleet is crafted so that each expected state can be derived by hand from the definition's
``if`` and ``existenceCondition`` (comments give the deciding condition).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet

from .builders import (
    BUILTINS,
    NOW,
    assignment,
    cluster,
    extension,
    flux_configuration,
    managed_cluster,
    write_json,
)

POLICY_EXTENSION_AUDIT = "6b2122c1-8120-4ff5-801b-17625a355590"
POLICY_EXTENSION_DINE = "0adc5395-9169-4b9b-8687-af838d69410a"
DEFENDER_AUDIT = "8dfab9c4-fe7b-49ad-85e4-1e9be085358f"
DEFENDER_DINE = "708b60a6-d253-4fe0-9114-4be4c00f012c"
BACKUP_AUDIT = "fda9cd0b-094c-4cd5-ac2a-5e06e5277c45"
FLUX_EXTENSION_DINE = "f9175d5f-abc8-1dc3-bd3c-5d7476ada3d1"
REPOSITORY = "https://github.com/contoso/config"

GOOD = cluster("good")                      # k3s with every extension healthy
BAD = cluster("bad")                        # k3s, policy extension failed, no defender, flux on Preview
HCI = cluster("hci", distribution="aks")    # AKS on Azure Stack HCI: excluded by distribution
EKS = cluster("eks", distribution="eks")    # EKS: policy extension required, defender excluded
AKS_BACKED_UP = managed_cluster("aks-1")
AKS_BARE = managed_cluster("aks-2")

RESOURCES = [
    GOOD,
    extension(GOOD, "azurepolicy", "microsoft.policyinsights"),
    extension(GOOD, "defender", "Microsoft.AzureDefender.Kubernetes"),
    extension(GOOD, "flux", "microsoft.flux"),
    flux_configuration(GOOD),
    BAD,
    extension(BAD, "azurepolicy", "microsoft.policyinsights", state="Failed"),
    extension(BAD, "flux", "microsoft.flux", releaseTrain="Preview"),
    flux_configuration(BAD, url="https://github.com/contoso/other"),
    HCI,
    EKS,
    extension(EKS, "flux", "microsoft.flux", autoUpgradeMinorVersion=False, version="1.14.0"),
    AKS_BACKED_UP,
    extension(AKS_BACKED_UP, "backup", "microsoft.dataprotection.kubernetes"),
    extension(AKS_BACKED_UP, "flux", "microsoft.flux"),
    AKS_BARE,
]


def states(records: list, definition_name: str) -> dict[str, str]:
    return {record.resource_id.rsplit("/", 1)[-1]: record.compliance_state.value for record in records
            if record.policy_definition_name == definition_name}


@pytest.fixture(scope="module")
def default_scan():
    """Every built-in assigned at tenant scope with its default parameters."""
    request = prepare_scan([BUILTINS], timestamp=NOW)
    return run_scan(Fleet(RESOURCES), request, workers=1)


def test_every_builtin_loads_and_those_without_required_parameters_are_assigned(default_scan) -> None:
    assigned = {row.policy_definition_name for row in default_scan.summary}
    assert assigned == {POLICY_EXTENSION_AUDIT, POLICY_EXTENSION_DINE, DEFENDER_AUDIT, DEFENDER_DINE, BACKUP_AUDIT,
                        FLUX_EXTENSION_DINE}
    assert len(default_scan.skipped) == 2
    assert all("have no default" in message and "repositoryUrl" in message for message in default_scan.skipped)


@pytest.mark.parametrize("definition", [POLICY_EXTENSION_AUDIT, POLICY_EXTENSION_DINE])
def test_azure_policy_extension(default_scan, definition: str) -> None:
    # if: connectedClusters with distribution notEquals aks; exists: policyinsights extension Succeeded
    assert states(default_scan.records, definition) == {"good": "Compliant", "bad": "NonCompliant",
                                                        "eks": "NonCompliant"}


@pytest.mark.parametrize("definition", [DEFENDER_AUDIT, DEFENDER_DINE])
def test_defender_extension(default_scan, definition: str) -> None:
    # if: distribution notIn aks, aks_management, eks, gke (literal, or the excludedDistributions default)
    assert states(default_scan.records, definition) == {"good": "Compliant", "bad": "NonCompliant"}


def test_backup_extension_on_managed_clusters(default_scan) -> None:
    assert states(default_scan.records, BACKUP_AUDIT) == {"aks-1": "Compliant", "aks-2": "NonCompliant"}


def test_flux_extension_with_defaults(default_scan) -> None:
    # releaseTrain must equal 'Stable' and autoUpgradeMinorVersion equal true (the defaults)
    assert states(default_scan.records, FLUX_EXTENSION_DINE) == {
        "good": "Compliant", "bad": "NonCompliant", "hci": "NonCompliant", "eks": "NonCompliant",
        "aks-1": "Compliant", "aks-2": "NonCompliant"}


def test_summary_counts_not_applicable_resources(default_scan) -> None:
    rows = {row.policy_definition_name: row for row in default_scan.summary}
    # 6 clusters in scope, Indexed mode: extensions and flux configurations are not evaluated
    assert (rows[DEFENDER_AUDIT].compliant, rows[DEFENDER_AUDIT].non_compliant,
            rows[DEFENDER_AUDIT].not_applicable) == (1, 1, 4)
    assert rows[BACKUP_AUDIT].not_applicable == 4


def test_reasons_name_the_deciding_condition_and_the_closest_candidates(default_scan) -> None:
    record = next(record for record in default_scan.records if record.policy_definition_name == POLICY_EXTENSION_AUDIT
                  and record.resource_id.endswith("/bad"))
    assert record.policy_definition_action == "auditifnotexists"
    assert "no related Microsoft.KubernetesConfiguration/extensions satisfies" in record.reasons[0].message
    failing = [reason for reason in record.reasons[1:] if reason.message.startswith("azurepolicy:")]
    assert [(reason.field, reason.expected, reason.actual) for reason in failing] == [
        ("Microsoft.KubernetesConfiguration/extensions/provisioningState", "Succeeded", "Failed")]
    assert failing[0].path == "policyRule.then.details.existenceCondition.allOf[1]"
    missing = next(record for record in default_scan.records if record.policy_definition_name == BACKUP_AUDIT
                   and record.compliance_state.value == "NonCompliant")
    assert missing.reasons[0].message == "no related Microsoft.KubernetesConfiguration/extensions exists"


def test_flux_extension_pinned_version_through_parameters(tmp_path: Path) -> None:
    pinned = write_json(tmp_path / "assignment.json", assignment(
        "flux-pinned", f"/providers/Microsoft.Authorization/policyDefinitions/{FLUX_EXTENSION_DINE}",
        parameters={"autoUpgradeMinorVersion": False, "version": "1.14.0"}))
    result = run_scan(Fleet(RESOURCES), prepare_scan([BUILTINS], [pinned], timestamp=NOW), workers=1)
    # autoUpgradeMinorVersion equals false ('false' string form in the anyOf) and version equals 1.14.0
    assert states(result.records, FLUX_EXTENSION_DINE) == {
        "good": "NonCompliant", "bad": "NonCompliant", "hci": "NonCompliant", "eks": "Compliant",
        "aks-1": "NonCompliant", "aks-2": "NonCompliant"}


@pytest.mark.parametrize(("file_name", "extra"), [
    ("Deploy-GitOps-Flux2-to-Kubernetes-cluster-SSH_DINE", {"keyVaultSecretName": "key", "keyVaultName": "kv"}),
    ("Deploy-GitOps-Flux2-to-Kubernetes-cluster-no-secrets_DINE", {}),
])
def test_flux_configuration_policies(tmp_path: Path, file_name: str, extra: dict) -> None:
    definition = next(path for path in BUILTINS.glob("*.json") if path.stem == file_name)
    parameters = {"configurationName": "cluster-config", "repositoryUrl": REPOSITORY, "repositoryRefBranch": "main",
                  **extra}
    assigned = write_json(tmp_path / "assignment.json", assignment("flux-config", _definition_id(definition),
                                                                   parameters=parameters))
    result = run_scan(Fleet(RESOURCES), prepare_scan([definition], [assigned], timestamp=NOW), workers=1)
    # good: url, scope, namespace, timeouts, branch match; sshKnownHosts absent equals the '' default
    # bad: its configuration points at another repository; the others have no flux configuration
    assert {record.resource_id.rsplit("/", 1)[-1]: record.compliance_state.value for record in result.records} == {
        "good": "Compliant", "bad": "NonCompliant", "hci": "NonCompliant", "eks": "NonCompliant",
        "aks-1": "NonCompliant", "aks-2": "NonCompliant"}
    bad = next(record for record in result.records if record.resource_id.endswith("/bad"))
    assert any(reason.field == "Microsoft.KubernetesConfiguration/fluxConfigurations/gitRepository.url"
               and reason.actual == "https://github.com/contoso/other" for reason in bad.reasons)


def _definition_id(path: Path) -> str:
    import json

    return json.loads(path.read_text())["id"]


def test_dine_records_expose_what_the_remediation_planner_needs() -> None:
    from engine.azure_policy import AzurePolicyLibrary, load_documents
    from engine.azure_policy.documents import PolicyAssignment

    library = AzurePolicyLibrary(load_documents(sorted(BUILTINS.glob("ArcPolicyExtension_DINE.json"))))
    compiled = library.compile(PolicyAssignment(id="/providers/Microsoft.Authorization/policyAssignments/a",
                                                name="a", policy_definition_id=POLICY_EXTENSION_DINE))
    [policy] = compiled.policies
    assert policy.parameters == {"effect": "DeployIfNotExists"}
    assert policy.details["deployment"]["properties"]["parameters"]["clusterResourceId"] == {"value": "[field('id')]"}
    assert policy.details["roleDefinitionIds"] == [
        "/providers/Microsoft.Authorization/roleDefinitions/85cb6faf-e071-4c9b-8136-154b5a04f717"]
