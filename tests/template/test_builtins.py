"""Every shared built-in DINE definition expands offline into the writes ARM would make."""

from __future__ import annotations

import json

import pytest
from plan.builders import (
    BUILTINS,
    DEFENDER,
    FLUX_EXTENSION,
    FLUX_PUBLIC,
    FLUX_SSH,
    SUBSCRIPTION,
    cluster,
    deployment,
    managed_cluster,
)

from engine.errors import InputError
from remediation.plan.models import REDACTED
from remediation.template import DineDeployment, TemplateError

ARC = cluster("arc-1", group="rg-edge")
FLUX_PARAMETERS = {"configurationName": "baseline", "repositoryUrl": "https://github.com/contoso/baseline",
                   "keyVaultName": "kv-fleet", "keyVaultSecretName": "flux-ssh-key", "repositoryRefBranch": "main"}
DINE_FILES = sorted(path.name for path in BUILTINS.glob("*.json")
                    if "deployment" in json.dumps(json.loads(path.read_text())["properties"]["policyRule"]["then"]))


def test_every_shared_dine_builtin_expands_to_writes_on_the_cluster() -> None:
    assert len(DINE_FILES) == 5
    for file_name in DINE_FILES:
        written = deployment(file_name).expand(ARC, FLUX_PARAMETERS, "/assignments/a")
        on_cluster = [item for item in written if item.resource_id.lower().startswith(ARC["id"].lower() + "/providers/")]
        assert len(on_cluster) == 1, file_name
        assert on_cluster[0].api_version and on_cluster[0].body["properties"], file_name


def test_defender_creates_default_group_workspace_and_extension_in_order() -> None:
    written = deployment(DEFENDER).expand(ARC, {}, "/assignments/defender")
    group, workspace, extension = written
    assert group.resource_id == f"/subscriptions/{SUBSCRIPTION}/resourceGroups/DefaultResourceGroup-WEU"
    assert group.body == {"location": "westeurope"}
    assert workspace.resource_id == (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/DefaultResourceGroup-WEU/providers/"
                                     f"Microsoft.OperationalInsights/workspaces/DefaultWorkspace-{SUBSCRIPTION}-WEU")
    assert workspace.depends_on == (group.resource_id,)  # nested deployment's dependsOn, inherited
    assert workspace.deployments[-1].startswith("deployDefaultAscResourceGroup-")
    assert extension.resource_id == (f"{ARC['id']}/providers/Microsoft.KubernetesConfiguration/extensions/"
                                     "microsoft.azuredefender.kubernetes")
    assert extension.depends_on == (workspace.resource_id,)
    settings = extension.body["properties"]
    assert settings["configurationSettings"]["logAnalyticsWorkspaceResourceID"].lower() == workspace.resource_id.lower()
    assert settings["configurationProtectedSettings"] == {"omsagent.secret.wsid": REDACTED,
                                                          "omsagent.secret.key": REDACTED}
    deferred = {value.function: value for value in extension.deferred_values}
    assert deferred["listKeys"].property_path == "primarySharedKey"
    assert deferred["reference"].expression == "[reference(parameters('workspaceResourceId'), '2015-03-20').customerId]"
    assert {source.kind for source in extension.secret_sources} == {"deferred"}


def test_defender_with_a_given_workspace_skips_the_conditional_group_and_its_dependency() -> None:
    workspace_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/central"
    written = deployment(DEFENDER).expand(ARC, {"logAnalyticsWorkspaceResourceId": workspace_id}, "/assignments/d")
    assert [item.resource_type for item in written] == ["Microsoft.KubernetesConfiguration/extensions"]
    assert written[0].depends_on == ()
    assert {value.resource_id for value in written[0].deferred_values} == {workspace_id}


def test_defender_workspace_name_depends_on_region_and_subscription_only() -> None:
    first = deployment(DEFENDER).expand(cluster("a", group="rg-1"), {}, "/assignments/d")
    second = deployment(DEFENDER).expand(cluster("b", group="rg-2"), {}, "/assignments/d")
    other_region = deployment(DEFENDER).expand(cluster("c", location="eastus"), {}, "/assignments/d")
    assert first[1].resource_id == second[1].resource_id
    assert first[1].body == second[1].body
    assert other_region[1].resource_id.endswith("-EUS")


def test_flux_extension_picks_the_resource_for_the_cluster_type() -> None:
    arc = deployment(FLUX_EXTENSION).expand(ARC, {}, "/assignments/f")
    aks = deployment(FLUX_EXTENSION).expand(managed_cluster("aks-1"), {}, "/assignments/f")
    assert [item.resource_id for item in arc] == [f"{ARC['id']}/providers/Microsoft.KubernetesConfiguration/extensions/flux"]
    assert "/managedClusters/aks-1/providers/" in aks[0].resource_id
    assert "identity" in arc[0].body and "identity" not in aks[0].body
    # json('null') with autoUpgradeMinorVersion: "treat it as if the property isn't present" (template-expressions)
    assert "version" not in arc[0].body["properties"]
    pinned = deployment(FLUX_EXTENSION).expand(ARC, {"autoUpgradeMinorVersion": False, "version": "1.14.1"}, "a")
    assert pinned[0].body["properties"]["version"] == "1.14.1"


def test_flux_configuration_keys_kustomization_by_expression_and_redacts_the_key_vault_secret() -> None:
    written = deployment(FLUX_SSH).expand(ARC, FLUX_PARAMETERS, "/assignments/flux")
    body = written[0].body["properties"]
    assert written[0].resource_id.endswith("/fluxConfigurations/baseline")
    assert list(body["kustomizations"]) == ["kustomization-1"]
    assert body["gitRepository"]["repositoryRef"] == {"branch": "main"}  # the null tag, semver and commit left out
    assert body["configurationProtectedSettings"] == {"sshPrivateKey": REDACTED}
    (secret,) = written[0].secret_sources
    assert (secret.kind, secret.key_vault_id, secret.secret_name) == ("keyVault", "kv-fleet", "flux-ssh-key")
    assert secret.parameters == ["keyVaultName", "keyVaultSecretName"]
    assert secret.path == "properties.configurationProtectedSettings.sshPrivateKey"
    assert "flux-ssh-key" not in json.dumps(body)


def test_public_flux_configuration_has_no_secrets() -> None:
    written = deployment(FLUX_PUBLIC).expand(ARC, FLUX_PARAMETERS | {"keyVaultName": None}, "/assignments/flux")
    assert written[0].secret_sources == ()
    assert "configurationProtectedSettings" not in written[0].body["properties"]


def test_missing_required_assignment_parameter_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError) as caught:
        deployment(FLUX_SSH).expand(ARC, {"repositoryUrl": "https://x"}, "/assignments/flux")
    assert "configurationName" in caught.value.one_line()
    assert "policyRule.then.details.deployment.properties.parameters.configurationName" in caught.value.one_line()


def test_audit_definition_is_not_expandable() -> None:
    audit = json.loads((BUILTINS / "ArcPolicyExtension_Audit.json").read_text())
    with pytest.raises(TemplateError, match="not a deployIfNotExists definition"):
        DineDeployment.from_definition(audit, "audit.json")
