"""Template forms and functions Microsoft's deployIfNotExists built-ins use: the legacy
``{type}/providers/{extension type}`` form and its relative ``dependsOn``, ``resourceId()`` with a
trailing '/', empty names, ``utcNow()``/``newGuid()`` in parameter defaults (recorded), the date
functions, ``policy()`` and ``field('fullName')`` in the deployment parameters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan.builders import SUBSCRIPTION

from engine.cli.main import main
from engine.expressions.arm_hashes import unique_string
from remediation.template import (
    CompiledTemplate,
    DeploymentScope,
    DineDeployment,
    TemplateError,
    expand_template,
)

SUB = "00000000-0000-0000-0000-000000000001"
SCOPE = DeploymentScope(SUB, "rg-a", "westeurope")
NOW = datetime(2023, 5, 2, 15, 16, 13, tzinfo=UTC)
VM_ID = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm1"


def expand(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> list:
    return expand_template(CompiledTemplate.compile(template, "test.json"), parameters or {}, SCOPE, "deploy-1",
                           now=NOW)


def test_legacy_extension_form_and_its_relative_depends_on() -> None:
    written = expand({"resources": [
        {"type": "Microsoft.Compute/virtualMachines/providers/guestConfigurationAssignments", "apiVersion": "2018-11-20",
         "name": "vm1/Microsoft.GuestConfiguration/baseline", "properties": {}},
        {"type": "Microsoft.Compute/virtualMachines/extensions", "apiVersion": "2019-07-01", "name": "vm1/agent",
         "dependsOn": ["[concat('Microsoft.Compute/virtualMachines/', 'vm1', '/providers/Microsoft.GuestConfiguration/"
                       "guestConfigurationAssignments/', 'baseline')]"]},
    ]})
    assignment, agent = written
    assert assignment.resource_id == f"{VM_ID}/providers/Microsoft.GuestConfiguration/guestConfigurationAssignments/baseline"
    assert assignment.resource_type == "Microsoft.GuestConfiguration/guestConfigurationAssignments"
    assert agent.depends_on == (assignment.resource_id,)


def test_legacy_form_of_a_child_resource_with_diagnostic_settings() -> None:
    (setting,) = expand({"resources": [
        {"type": "Microsoft.Sql/servers/databases/providers/diagnosticSettings", "apiVersion": "2021-05-01-preview",
         "name": "server/master/Microsoft.Insights/to-workspace", "properties": {}}]})
    assert setting.resource_id == (f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Sql/servers/server/"
                                   "databases/master/providers/Microsoft.Insights/diagnosticSettings/to-workspace")


def test_resource_id_with_a_trailing_slash_in_the_type() -> None:
    (written,) = expand({"resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                                        "name": "st", "properties": {
                                            "workspace": "[resourceId('Microsoft.OperationalInsights/workspaces/', 'w')]",
                                            "group": "[resourceId('Microsoft.Resources/resourceGroups/', 'rg-b')]"}}]})
    assert written.body["properties"]["workspace"].endswith("/providers/Microsoft.OperationalInsights/workspaces/w")
    assert written.body["properties"]["group"].endswith(f"/subscriptions/{SUB}/resourceGroups/rg-b")


def test_empty_name_in_resource_id_inside_depends_on_is_an_input_error_naming_the_expression() -> None:
    template = {"parameters": {"group": {"type": "string", "defaultValue": ""}}, "resources": [
        {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "st",
         "dependsOn": ["[resourceId('Microsoft.Resources/resourceGroups', parameters('group'))]"]}]}
    with pytest.raises(TemplateError) as caught:
        expand(template)
    line = caught.value.one_line()
    assert "dependsOn[0]" in line and "resourceId('Microsoft.Resources/resourceGroups', parameters('group'))" in line


def test_utc_now_and_new_guid_in_parameter_defaults_are_recorded() -> None:
    template = {"parameters": {
        "epoch": {"type": "int", "defaultValue": "[dateTimeToEpoch(utcNow())]"},
        "stamp": {"type": "string", "defaultValue": "[utcNow('u')]"},
        "guidValue": {"type": "string", "defaultValue": "[newGuid()]"}},
        "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                       "name": "[concat('st', take(parameters('guidValue'), 8))]", "properties": {
                           "epoch": "[parameters('epoch')]", "stamp": "[parameters('stamp')]",
                           "back": "[dateTimeFromEpoch(parameters('epoch'))]"}}]}
    (written,) = expand(template)
    assert written.body["properties"] == {"epoch": 1683040573, "stamp": "2023-05-02 15:16:13Z",
                                          "back": "2023-05-02T15:16:13Z"}
    recorded = {value.parameter: value for value in written.generated_values}
    assert recorded["epoch"].function == "utcNow" and recorded["epoch"].value == "20230502T151613Z"
    assert recorded["stamp"].value == "2023-05-02 15:16:13Z"
    assert written.resource_id.endswith("/storageAccounts/st" + recorded["guidValue"].value[:8])
    assert expand(template)[0].resource_id == written.resource_id  # re-expansion names the same resource


@pytest.mark.parametrize("expression", ["[utcNow()]", "[newGuid()]"])
def test_utc_now_and_new_guid_elsewhere_are_refused_as_arm_does(expression: str) -> None:
    template = {"resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                               "name": "st", "properties": {"value": expression}}]}
    with pytest.raises(TemplateError, match="only allowed in a template parameter's defaultValue"):
        expand(template)


def _dine(parameters: dict[str, Any], template_parameters: dict[str, Any], name: str) -> DineDeployment:
    return DineDeployment.from_details({"type": "Microsoft.Sql/servers/databases/extensions", "deployment": {
        "properties": {"mode": "incremental", "parameters": parameters, "template": {
            "parameters": template_parameters,
            "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": name}]}}}},
        "/providers/Microsoft.Authorization/policyDefinitions/d1", "d1.json")


def test_policy_and_full_name_in_deployment_parameters() -> None:
    deployment = _dine({"reference": {"value": "[uniqueString(policy().assignmentId, policy().definitionReferenceId)]"},
                        "full": {"value": "[replace(field('fullName'), '/', '-')]"}},
                       {"reference": {"type": "string"}, "full": {"type": "string"}},
                       "[concat(parameters('full'), '-', parameters('reference'))]")
    database = {"id": f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Sql/servers/srv/databases/db",
                "name": "db", "type": "Microsoft.Sql/servers/databases", "location": "westeurope"}
    (written,) = deployment.expand(database, {}, "/assignments/a1", reference_id="member-1")
    assert written.resource_id.endswith(f"/storageAccounts/srv-db-{unique_string('/assignments/a1', 'member-1')}")


def test_plan_records_the_generated_values(tmp_path: Any) -> None:
    definition = {"id": "/providers/Microsoft.Authorization/policyDefinitions/tag-guid", "name": "tag-guid",
                  "properties": {"mode": "All", "policyRule": {
                      "if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                      "then": {"effect": "deployIfNotExists", "details": {
                          "type": "Microsoft.KubernetesConfiguration/extensions", "deployment": {"properties": {
                              "mode": "incremental", "parameters": {"clusterName": {"value": "[field('name')]"}},
                              "template": {"parameters": {"clusterName": {"type": "string"},
                                                          "suffix": {"type": "string", "defaultValue": "[newGuid()]"}},
                                           "resources": [{
                                               "type": "Microsoft.Kubernetes/connectedClusters/providers/extensions",
                                               "apiVersion": "2023-05-01",
                                               "name": "[concat(parameters('clusterName'), "
                                                       "'/Microsoft.KubernetesConfiguration/ext-', "
                                                       "take(parameters('suffix'), 8))]",
                                               "properties": {"extensionType": "microsoft.flux"}}]}}}}}}}}
    cluster = {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/Microsoft.Kubernetes/"
                     "connectedClusters/c1", "name": "c1", "type": "Microsoft.Kubernetes/connectedClusters",
               "location": "westeurope", "tags": {}, "properties": {"connectivityStatus": "Connected"}}
    (tmp_path / "policy.json").write_text(json.dumps(definition))
    (tmp_path / "fleet.json").write_text(json.dumps({"value": [cluster]}))
    plan_file = tmp_path / "plan.json"
    assert main(["plan", "--inventory", str(tmp_path / "fleet.json"), "--policy", str(tmp_path / "policy.json"),
                 "--output", str(plan_file)]) in (0, 1)
    (operation,) = json.loads(plan_file.read_text())["operations"]
    (generated,) = operation["generatedValues"]
    assert generated["function"] == "newGuid" and generated["parameter"] == "suffix"
    assert operation["resourceId"].endswith("/extensions/ext-" + generated["value"][:8])
    assert operation["resourceType"] == "Microsoft.KubernetesConfiguration/extensions"


def test_field_in_the_template_reads_the_evaluated_resource() -> None:
    deployment = DineDeployment.from_details({"type": "Microsoft.Network/networkWatchers", "deployment": {
        "properties": {"mode": "incremental", "parameters": {}, "template": {
            "variables": {"account": "[toLower(concat('nwtasa', uniqueString(field('location'))))]"},
            "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                           "name": "[variables('account')]"}]}}}},
        "/providers/Microsoft.Authorization/policyDefinitions/d2", "d2.json")
    network = {"id": f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/v",
               "name": "v", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope"}
    (written,) = deployment.expand(network, {}, "/assignments/a1")
    assert written.resource_id.endswith("/storageAccounts/nwtasa" + unique_string("westeurope"))


def test_field_outside_a_policy_deployment_is_an_input_error() -> None:
    with pytest.raises(TemplateError, match="field\\(\\) reads the resource a policy evaluates"):
        expand({"resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                               "name": "[field('name')]"}]})


def test_legacy_two_segment_alias_in_deployment_parameters_reads_the_type_path() -> None:
    deployment = _dine({"publisher": {"value": "[toLower(field('Microsoft.Compute/imagePublisher'))]"}},
                       {"publisher": {"type": "string"}}, "[concat('st', parameters('publisher'))]")
    vm = {"id": f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm1",
          "name": "vm1", "type": "Microsoft.Compute/virtualMachines", "location": "westeurope",
          "properties": {"storageProfile": {"imageReference": {"publisher": "Canonical"}}}}
    (written,) = deployment.expand(vm, {}, "/assignments/a1")
    assert written.resource_id.endswith("/storageAccounts/stcanonical")


def test_to_lower_of_a_missing_alias_is_empty_as_in_azure_policy() -> None:
    deployment = _dine({"publisher": {"value": "[toLower(field('Microsoft.Compute/imagePublisher'))]"}},
                       {"publisher": {"type": "string"}}, "[concat('st', parameters('publisher'))]")
    machine = {"id": f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.HybridCompute/machines/m",
               "name": "m", "type": "Microsoft.HybridCompute/machines", "location": "westeurope", "properties": {}}
    (written,) = deployment.expand(machine, {}, "/assignments/a1")
    assert written.resource_id.endswith("/storageAccounts/st")


@settings(max_examples=200, derandomize=True, deadline=None)
@given(text=st.text(max_size=40), number=st.integers(min_value=-(2 ** 70), max_value=2 ** 70))
def test_date_hash_and_generated_functions_never_crash(text: str, number: int) -> None:
    """Whatever they are given, these functions answer or raise an input error naming the expression."""
    quoted = json.dumps(text).replace("'", "''")[1:-1]
    for expression in (f"[utcNow('{quoted}')]", f"[dateTimeToEpoch('{quoted}')]", f"[dateTimeFromEpoch({number})]",
                       f"[concat(uniqueString('{quoted}'), guid('{quoted}'))]"):
        template = {"parameters": {"value": {"type": "string", "defaultValue": expression}},
                    "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
                                   "name": "st", "properties": {"value": "[parameters('value')]"}}]}
        try:
            (written,) = expand(template)
        except TemplateError as error:
            assert "\n" not in error.one_line() and "defaultValue" in error.one_line()
            continue
        assert written.body["properties"]["value"] is not None


def test_the_deployment_goes_to_the_resource_group_details_name() -> None:
    """effect-deploy-if-not-exists, resourceGroupName: "If a template deployment is executed, it's deployed in the
    resource group of this value" (the built-ins name Network Watcher's group so: ``[parameters('resourceGroupName')]``);
    without it, to the evaluated resource's group."""
    def deployment(group: Any) -> DineDeployment:
        details = {"type": "Microsoft.Network/networkWatchers", "deployment": {"properties": {
            "mode": "incremental", "parameters": {}, "template": {"resources": [
                {"type": "Microsoft.Network/networkWatchers", "apiVersion": "2023-04-01",
                 "name": "[concat('watcher-', resourceGroup().name)]", "location": "westeurope"}]}}}}
        if group is not None:
            details["resourceGroupName"] = group
        return DineDeployment.from_details(details, "/providers/Microsoft.Authorization/policyDefinitions/d3", "d3.json")

    network = {"id": f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/v",
               "name": "v", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope"}
    watchers = f"/subscriptions/{SUB}/resourceGroups/%s/providers/Microsoft.Network/networkWatchers/watcher-%s"
    (written,) = deployment("[parameters('resourceGroupName')]").expand(network, {"resourceGroupName": "NetworkWatcherRG"},
                                                                        "/assignments/a1")
    assert written.resource_id == watchers % ("NetworkWatcherRG", "NetworkWatcherRG")
    (written,) = deployment("networkWatcherRG").expand(network, {}, "/assignments/a1")
    assert written.resource_id == watchers % ("networkWatcherRG", "networkWatcherRG")
    (written,) = deployment(None).expand(network, {}, "/assignments/a1")
    assert written.resource_id == watchers % ("rg-a", "rg-a")
    with pytest.raises(TemplateError, match="resourceGroupName must name a resource group"):
        deployment("[parameters('missing')]").expand(network, {"missing": ""}, "/assignments/a1")
