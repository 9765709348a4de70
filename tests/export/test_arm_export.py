"""The ARM export deploys on the sandbox through azure-mgmt-resource and leaves the fleet as `arcpolicy apply` does:
the same plan applied to one sandbox and its export deployed (in its manifest's order) to another sandbox loaded
with the same fleet, then both compared record by record and scanned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.deployments import DeploymentsMgmtClient

from engine import ids
from engine.cli.main import main
from engine.inventory import load_snapshot
from engine.inventory.generator import write_generated_fleet
from remediation.apply import ApplyOptions, Secrets, apply_plan
from remediation.export import export_plan
from remediation.plan.io import read_plan, write_plan
from remediation.plan.models import Action, DeferredValue, Operation, OperationStatus, SecretSource
from tests.apply.plans import API, POLICY_ASSIGNMENT, extension_body, fleet_plan

from .deploying import deploy_export, stored_resources

DEMO_FLEET = Path(__file__).resolve().parents[2] / "examples" / "demo-fleet.json"
FAST = {"provisioning_seconds": 0, "write_limit": "5000/5000", "read_limit": "20000/20000"}
KEPT_VALUE = "kept-by-the-pipeline"  # what a pipeline supplies for a protected setting it keeps


# who wrote a record and when (systemData, the times Flux reports it reconciled), and where each sandbox serves its
# vaults (its own address)
WHO_WHEN_WHERE = frozenset({"systemData", "statusUpdatedAt", "sourceUpdatedAt", "lastTransitionTime", "vaultUri"})


def comparable(value: object) -> object:
    """A stored record without what differs between any two writes of the same content."""
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items() if key not in WHO_WHEN_WHERE}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def assert_same_records(applied, deployed) -> int:
    left, right = stored_resources(applied), stored_resources(deployed)
    assert sorted(left) == sorted(right)  # same resources (deletes done, nothing more created)
    differing = [key for key in left if comparable(left[key]) != comparable(right[key])]
    assert differing == [], (differing[:3], comparable(left[differing[0]]) if differing else None,
                             comparable(right[differing[0]]) if differing else None)
    return len(left)


def scan_records(running, out: Path) -> list[dict]:
    status = main(["scan", "--resource-graph", "--arm-endpoint", running.url, "--ca-bundle",
                   str(running.endpoint.ca_bundle), "--credential", "sandbox", "-p", "builtin:", "--workers", "1",
                   "-o", str(out)])
    assert status in (0, 1)
    return sorted(({key: record[key] for key in ("resourceId", "policyDefinitionId", "complianceState")}
                   for record in json.loads(out.read_text())["value"]),
                  key=lambda record: (record["resourceId"].lower(), record["policyDefinitionId"]))


def test_demo_plan_exported_as_arm_deploys_like_apply(sandbox_factory, tmp_path):
    plan_file, export = tmp_path / "plan.json", tmp_path / "export"
    assert main(["plan", "-i", str(DEMO_FLEET), "-p", "builtin:", "--workers", "1", "-o", str(plan_file),
                 "--export", "arm", str(export)]) == 0
    plan = read_plan(plan_file)
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["planFingerprint"].startswith("sha256:") and manifest["canary"] == plan.canary.clusters
    statuses = {operation.status for operation in plan.operations}
    assert {OperationStatus.PLANNED, OperationStatus.WAITING} <= statuses
    assert any(operation.action is Action.DELETE for operation in plan.operations)
    assert any(operation.action is Action.UPDATE for operation in plan.operations)

    applied, deployed = sandbox_factory(fleet=DEMO_FLEET, **FAST), sandbox_factory(fleet=DEMO_FLEET, **FAST)
    result = apply_plan(plan, applied.connection(), ApplyOptions(), journal_path=tmp_path / "journal.sqlite")
    finished = deploy_export(deployed, export, {entry["name"]: KEPT_VALUE for entry in manifest["inputs"]})
    assert finished and all(deployment.properties.provisioning_state == "Succeeded" for deployment in finished)
    assert assert_same_records(applied, deployed) > 200
    assert deployed.control.stats()["writes"] < result.writes  # one write per deployment, not per resource

    # what apply did not write, the export did not deploy, and its README says so
    readme = (export / "README.md").read_text()
    not_written = {operation.id for operation in result.operations if operation.state.value != "succeeded"
                   and operation.state.value != "waiting"}
    exported = {operation for step in manifest["steps"] for operation in step.get("operations", [])} | {
        step["operation"] for step in manifest["steps"] if step["kind"] == "delete"}
    assert not_written.isdisjoint(exported)
    for entry in manifest["notExported"]:
        assert entry["operation"] in readme
    assert scan_records(applied, tmp_path / "a.json") == scan_records(deployed, tmp_path / "b.json")


def test_2000_cluster_plan_exported_as_arm_deploys_like_apply(sandbox_factory, tmp_path):
    fleet_file = tmp_path / "fleet.json"
    write_generated_fleet(fleet_file, 2000, seed=5)
    fleet = load_snapshot(fleet_file)
    plan = fleet_plan(fleet, canary=40)
    export = tmp_path / "export"
    export_plan(plan, "arm", export, fleet.resources())
    applied, deployed = sandbox_factory(fleet=fleet_file, **FAST), sandbox_factory(fleet=fleet_file, **FAST)
    apply_plan(plan, applied.connection(), ApplyOptions(parallel=32, write_burst=5000, write_rate=5000,
                                                          read_burst=20000, read_rate=20000),
               journal_path=tmp_path / "journal.sqlite")
    finished = deploy_export(deployed, export, validate=False)
    assert len(finished) > 20 and all(deployment.properties.provisioning_state == "Succeeded"
                                      for deployment in finished)
    assert assert_same_records(applied, deployed) > 10_000


def _plan_creating_a_resource_group(fleet_file: Path, tmp_path: Path, vault_id: str | None = None):
    """A plan that creates a resource group and a workspace in it, and an extension reading the workspace
    (``reference()`` in a setting, ``listKeys()``, an assignment's secret parameter and, given a vault, a Key Vault
    secret in protected settings)."""
    fleet = load_snapshot(fleet_file)
    cluster = next(cluster for cluster in fleet.clusters() if cluster.cluster.is_connected and not any(
        extension.extension_type == "microsoft.azuremonitor.containers" for extension in cluster.typed_extensions)
        and "arcpolicy.io/node-architectures" not in (cluster.resource.get("tags") or {}))
    subscription = ids.parse_resource_id(cluster.id).subscription_id
    group = f"/subscriptions/{subscription}/resourceGroups/rg-monitoring-new"
    workspace = f"{group}/providers/Microsoft.OperationalInsights/workspaces/law-export"
    extension = f"{cluster.id}/providers/Microsoft.KubernetesConfiguration/extensions/azuremonitor-containers"
    body = extension_body("microsoft.azuremonitor.containers", "kube-system",
                          {"logAnalyticsWorkspaceResourceID": workspace, "omsagent.workspaceId": "<deferred>"})
    body["properties"]["configurationProtectedSettings"] = {"omsagent.secret.key": "<redacted>",
                                                            "proxy.password": "<redacted>"}
    from_vault = [SecretSource(path="properties.configurationProtectedSettings.vault.key", kind="keyVault",
                               key_vault_id=vault_id, secret_name="agent-key")] if vault_id else []
    if vault_id:
        body["properties"]["configurationProtectedSettings"]["vault.key"] = "<redacted>"
    reference = DeferredValue(path="properties.configurationSettings.omsagent.workspaceId", function="reference",
                              resource_id=workspace, api_version="2022-10-01", property_path="customerId",
                              expression=f"[reference('{workspace}', '2022-10-01').customerId]")
    keys = DeferredValue(path="properties.configurationProtectedSettings.omsagent.secret.key", function="listKeys",
                         resource_id=workspace, api_version="2022-10-01", property_path="primarySharedKey",
                         expression=f"[listKeys('{workspace}', '2022-10-01').primarySharedKey]")
    common = {"subscription_id": subscription, "wave": 0}
    plan = fleet_plan(fleet).model_copy(update={"waves": [], "operations": [
        Operation(id="op-rg", action=Action.CREATE, resource_id=group, resource_type="Microsoft.Resources/"
                  "resourceGroups", api_version="2022-09-01", body={"location": "eastus"}, **common),
        Operation(id="op-law", action=Action.CREATE, resource_id=workspace, depends_on=["op-rg"],
                  resource_type="Microsoft.OperationalInsights/workspaces", api_version="2022-10-01",
                  body={"location": "eastus"}, **common),
        Operation(id="op-ext", action=Action.CREATE, resource_id=extension, depends_on=["op-law"],
                  resource_type="Microsoft.KubernetesConfiguration/extensions", api_version=API, body=body,
                  deferred_values=[reference, keys], cluster_id=cluster.id,
                  secret_sources=[SecretSource(path="properties.configurationProtectedSettings.omsagent.secret.key",
                                               kind="deferred", deferred=keys),
                                  SecretSource(path="properties.configurationProtectedSettings.proxy.password",
                                               kind="parameter", parameter="proxyPassword",
                                               policy_assignment_id=POLICY_ASSIGNMENT), *from_vault], **common)]})
    write_plan(plan, tmp_path / "plan.json")
    return read_plan(tmp_path / "plan.json"), extension, workspace


def test_a_plan_creating_a_resource_group_deploys_at_subscription_scope_with_nested_deployments(
        sandbox_factory, sandbox_fleet_file, tmp_path):
    from engine.sandbox.protected import protected_setting_digests
    from tests.apply.test_apply_secrets import _store_secret, _vault

    applied, deployed = sandbox_factory(**FAST), sandbox_factory(**FAST)
    subscription = next(load_snapshot(sandbox_fleet_file).clusters()).id.split("/")[2]
    for running in (applied, deployed):  # the same vault and secret in both
        vault_id, vault_uri = _vault(running, subscription)
        _store_secret(running, vault_uri, "agent-key", "vault-secret-1")
    plan, extension, workspace = _plan_creating_a_resource_group(sandbox_fleet_file, tmp_path, vault_id)
    export = tmp_path / "export"
    export_plan(plan, "arm", export, load_snapshot(sandbox_fleet_file).resources())
    manifest = json.loads((export / "manifest.json").read_text())
    (step,) = [step for step in manifest["steps"] if step["kind"] == "deployment"]
    template = json.loads((export / step["template"]).read_text())
    assert step["scope"] == "subscription" and "subscriptionDeploymentTemplate" in template["$schema"]
    nested = [resource for resource in template["resources"] if resource["type"] == "Microsoft.Resources/deployments"]
    assert {resource["resourceGroup"] for resource in nested} == {"rg-monitoring-new",
                                                                    ids.parse_resource_id(extension).resource_group}
    assert all(resource["properties"]["expressionEvaluationOptions"] == {"scope": "inner"} for resource in nested)
    (secret_name,) = step["pipelineParameters"]
    assert template["parameters"][secret_name]["type"] == "securestring"
    text = (export / step["template"]).read_text()
    assert f"listKeys('{workspace}', '2022-10-01').primarySharedKey" in text  # ARM reads the key when it deploys
    (vault_parameter,) = json.loads((export / step["parameters"]).read_text())["parameters"].values()
    assert vault_parameter == {"reference": {"keyVault": {"id": vault_id}, "secretName": "agent-key"}}

    secrets = Secrets.load([_json(tmp_path / "secrets.json", {"proxyPassword": "proxy-secret-1"})])
    apply_plan(plan, applied.connection(), ApplyOptions(), journal_path=tmp_path / "journal.sqlite", secrets=secrets)
    (finished,) = deploy_export(deployed, export, {secret_name: "proxy-secret-1"})
    assert finished.properties.provisioning_state == "Succeeded"
    assert assert_same_records(applied, deployed) > 0
    digests = []
    for running in (applied, deployed):
        with running.server.sandbox.store.lock:
            digests.append(protected_setting_digests(running.server.sandbox, extension))
            live = running.server.sandbox.store.get(extension)
        assert set(digests[-1]) == {"omsagent.secret.key", "proxy.password", "vault.key"}
        workspace_id = stored_resources(running)[ids.normalize(workspace)]["properties"]["customerId"]
        assert live["properties"]["configurationSettings"]["omsagent.workspaceId"] == workspace_id
    # the same values reached ARM (each sandbox derives its own workspace keys: that one differs by design)
    assert digests[0]["proxy.password"] == digests[1]["proxy.password"]
    assert digests[0]["vault.key"] == digests[1]["vault.key"]


def _json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_validate_and_what_if_of_an_exported_deployment(sandbox_factory, sandbox_fleet_file, tmp_path):
    fleet = load_snapshot(sandbox_fleet_file)
    plan = fleet_plan(fleet)
    export = tmp_path / "export"
    export_plan(plan, "arm", export, fleet.resources())
    running = sandbox_factory(**FAST)
    step = next(step for step in json.loads((export / "manifest.json").read_text())["steps"]
                if step["kind"] == "deployment" and step["wait"])
    client = DeploymentsMgmtClient(subscription_id=step["subscriptionId"], **running.client_kwargs())
    body = {"properties": {"mode": "Incremental", "template": json.loads((export / step["template"]).read_text()),
                           "parameters": {}}}
    validated = client.deployments.begin_validate(step["resourceGroup"], step["name"], body).result()
    assert {resource.id.lower() for resource in validated.properties.validated_resources} == {
        operation.resource_id.lower() for operation in plan.operations if operation.id in step["operations"]}
    before = client.deployments.begin_what_if(step["resourceGroup"], step["name"], body).result()
    assert {change.change_type for change in before.properties.changes} == {"Create"}
    stored = stored_resources(running)  # neither validate nor whatIf deploys anything
    assert not any(ids.normalize(operation.resource_id) in stored for operation in plan.operations
                   if operation.id in step["operations"])
    client.deployments.begin_create_or_update(step["resourceGroup"], step["name"], body, polling_interval=0).result()
    after = client.deployments.begin_what_if(step["resourceGroup"], step["name"], body).result()
    assert {change.change_type for change in after.properties.changes} == {"NoChange"}

    broken = json.loads(json.dumps(body))
    broken["properties"]["template"]["resources"][0]["apiVersion"] = "2001-01-01"
    with pytest.raises(HttpResponseError, match="InvalidTemplate"):
        client.deployments.begin_validate(step["resourceGroup"], "broken", broken).result()
    complete = json.loads(json.dumps(body))
    complete["properties"]["mode"] = "Complete"
    with pytest.raises(HttpResponseError, match="Incremental mode only"):
        client.deployments.begin_create_or_update(step["resourceGroup"], "complete", complete).result()


def test_export_refuses_a_used_folder_and_an_update_without_its_inventory(sandbox_fleet_file, tmp_path, capsys):
    fleet = load_snapshot(sandbox_fleet_file)
    plan = fleet_plan(fleet)
    target = next(operation for operation in plan.operations if operation.status is OperationStatus.PLANNED)
    plan.operations = [target.model_copy(update={"action": Action.UPDATE})]
    write_plan(plan, tmp_path / "plan.json")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    assert main(["export", str(tmp_path / "plan.json"), "-o", str(tmp_path / "used")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [path.name for path in (tmp_path / "used").iterdir()] == ["keep.txt"]
    assert main(["export", str(tmp_path / "plan.json"), "-o", str(tmp_path / "new"), "--format", "bicep"]) == 2
    assert main(["export", str(tmp_path / "plan.json"), "-o", str(tmp_path / "new")]) == 2  # no inventory for it
    assert "inventory" in capsys.readouterr().err and not (tmp_path / "new").exists()
    other = tmp_path / "other.json"
    write_generated_fleet(other, 3, seed=99)
    assert main(["export", str(tmp_path / "plan.json"), "-o", str(tmp_path / "new"), "-i", str(other)]) == 2
    assert "is not the inventory the plan was made from" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".new.*"))
