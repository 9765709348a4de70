"""Secrets apply re-derives itself: Key Vault references (read from the vault, or given in --secrets)
and secrets written in a definition's template (re-expanded from --policy). Against the sandbox,
through the real Azure SDK clients (ARM and the Key Vault SecretClient)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from azure.keyvault.secrets import SecretClient
from azure.mgmt.resource.resources import ResourceManagementClient

from engine import ids
from engine.cli.main import main
from engine.errors import InputError
from engine.inventory import load_snapshot
from engine.sandbox.protected import protected_setting_digests
from remediation.apply import Secrets
from remediation.plan.io import read_plan
from remediation.template import DineDeployment

BUILTINS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-builtins"
FLUX_SSH = BUILTINS / "Deploy-GitOps-Flux2-to-Kubernetes-cluster-SSH_DINE.json"
FLUX_EXTENSION = BUILTINS / "Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
SSH_KEY = "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0KZmx1eC1zc2gta2V5"
FAST = {"provisioning_seconds": 0}
FLUX_CONFIGURATION = "microsoft.kubernetesconfiguration/fluxconfigurations"


def _json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def _assignment(name: str, definition_id: str, parameters: dict[str, object]) -> dict:
    return {"id": f"/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/policyAssignments",
            "properties": {"scope": "/", "policyDefinitionId": definition_id,
                           "parameters": {key: {"value": value} for key, value in parameters.items()}}}


def _definition_id(path: Path) -> str:
    return json.loads(path.read_text())["id"]


def _resources(running, subscription: str) -> ResourceManagementClient:
    kwargs = running.client_kwargs()
    return ResourceManagementClient(kwargs.pop("credential"), subscription, **kwargs)


def _vault(running, subscription: str, name: str = "kv-fleet") -> tuple[str, str]:
    """A vault created through ARM in the sandbox: (its resource id, its vaultUri)."""
    group = "rg-secrets"
    vault_id = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"
    with _resources(running, subscription) as client:
        client.resource_groups.create_or_update(group, {"location": "eastus"})
        vault = client.resources.begin_create_or_update_by_id(
            vault_id, api_version="2023-07-01", parameters={"location": "eastus", "properties": {
                "tenantId": "72f9a1b0-5e0c-4a8e-9d3c-0a7c5ad0b0b0", "sku": {"family": "A", "name": "standard"}}}
        ).result()
    return vault_id, vault.properties["vaultUri"]


def _store_secret(running, vault_uri: str, name: str, value: str) -> None:
    credential = running.connection().token_credential()
    with SecretClient(vault_uri, credential, verify_challenge_resource=False,
                      connection_verify=str(running.endpoint.ca_bundle)) as client:
        client.set_secret(name, value)


def _flux_assignments(tmp_path: Path, vault_id: str, extension: bool = False) -> Path:
    """The Flux SSH built-in assigned with a Key Vault secret (and the Flux extension built-in)."""
    ssh = _assignment("flux-ssh", _definition_id(FLUX_SSH), {
        "configurationName": "baseline", "repositoryUrl": "ssh://git@github.com/contoso/baseline",
        "repositoryRefBranch": "main", "keyVaultName": vault_id, "keyVaultSecretName": "flux-ssh-key"})
    extensions = [_assignment("flux-extension", _definition_id(FLUX_EXTENSION), {})] if extension else []
    return _json(tmp_path / "assignments.json", [ssh, *extensions])


def _plan(running, tmp_path: Path, assignments: Path, *policies: Path) -> Path:
    plan_file = tmp_path / "plan.json"
    arguments = [argument for policy in policies for argument in ("--policy", str(policy))]
    assert main(["plan", "--inventory", str(running.fleet_file), *arguments, "--assignment", str(assignments),
                 "--workers", "1", "-o", str(plan_file)]) == 0
    return plan_file


def _apply(running, plan_file: Path, *extra: str) -> int:
    return main(["apply", str(plan_file), "--arm-endpoint", running.url, "--ca-bundle",
                 str(running.endpoint.ca_bundle), "--credential", "sandbox", *extra])


def _digests(running, resource_id: str) -> dict[str, str]:
    with running.server.sandbox.store.lock:
        return protected_setting_digests(running.server.sandbox, resource_id)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _written_files(tmp_path: Path) -> str:
    """Everything apply and plan left on disk: plan, result, journal (and its WAL), as text."""
    return "".join(path.read_bytes().decode("utf-8", "replace") for path in sorted(tmp_path.glob("plan.json*")) +
                   sorted(tmp_path.glob("result*.json")))


def _flux_operations(plan_file: Path, status: str = "planned") -> list[dict]:
    return [operation for operation in read_plan(plan_file).to_json()["operations"]
            if ids.normalize(operation["resourceType"]) == FLUX_CONFIGURATION and operation["status"] == status]


def _subscription(running) -> str:
    cluster = next(iter(load_snapshot(running.fleet_file).clusters()))
    return ids.parse_resource_id(cluster.id).subscription_id


def test_flux_ssh_builtin_reads_its_private_key_from_the_vault_and_records_it_nowhere(
        sandbox_factory, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    running = sandbox_factory(**FAST)
    vault_id, vault_uri = _vault(running, _subscription(running))
    assert vault_uri.startswith(f"{running.url}/keyvault/kv-fleet")
    _store_secret(running, vault_uri, "flux-ssh-key", SSH_KEY)
    assignments = _flux_assignments(tmp_path, vault_id, extension=True)
    plan_file = _plan(running, tmp_path, assignments, FLUX_SSH, FLUX_EXTENSION)
    configurations = _flux_operations(plan_file)
    assert configurations
    for operation in configurations:
        assert operation["body"]["properties"]["configurationProtectedSettings"] == {"sshPrivateKey": "<redacted>"}
        assert [(source["kind"], source["keyVaultId"], source["secretName"]) for source in operation["secretSources"]
                ] == [("keyVault", vault_id, "flux-ssh-key")]

    # the generated fleet has a flux extension stuck mid-update: its cluster's configuration is blocked
    code = _apply(running, plan_file, "--policy", str(FLUX_SSH), "--policy", str(FLUX_EXTENSION),
                  "--assignment", str(assignments), "--failure-threshold", "1", "-o", str(tmp_path / "result.json"))
    result = json.loads((tmp_path / "result.json").read_text())
    states = {operation["id"]: operation for operation in result["operations"]}
    assert code == 1
    blocked = [operation for operation in configurations if states[operation["id"]]["state"] == "blocked"]
    assert all("in progress" in states[dependency]["message"] for operation in blocked
               for dependency in operation["dependsOn"] if states[dependency]["state"] == "failed")
    configurations = [operation for operation in configurations if operation not in blocked]
    assert len(configurations) >= 10
    for operation in configurations:
        assert states[operation["id"]]["state"] == "succeeded", states[operation["id"]]
        with running.server.sandbox.store.lock:
            live = running.server.sandbox.store.get(operation["resourceId"])
        assert live["properties"]["configurationProtectedSettings"] == {"sshPrivateKey": ""}  # ARM never returns it
        assert _digests(running, operation["resourceId"]) == {"sshPrivateKey": _sha256(SSH_KEY)}
    captured = capsys.readouterr()
    for text in (_written_files(tmp_path), captured.out, captured.err, caplog.text):
        assert SSH_KEY not in text


def test_missing_vault_secret_fails_the_operation_clearly_then_secrets_file_supplies_it(
        sandbox_factory, tmp_path, capsys):
    running = sandbox_factory(**FAST)
    vault_id, vault_uri = _vault(running, _subscription(running))
    _store_secret(running, vault_uri, "another-secret", SSH_KEY)  # the vault holds secrets, not this one
    assignments = _flux_assignments(tmp_path, vault_id)
    plan_file = _plan(running, tmp_path, assignments, FLUX_SSH)
    configurations = _flux_operations(plan_file)
    writes = running.control.stats()["writes"]

    assert _apply(running, plan_file, "--failure-threshold", "1", "-o", str(tmp_path / "result-missing.json")) == 1
    result = json.loads((tmp_path / "result-missing.json").read_text())
    states = {operation["id"]: operation for operation in result["operations"]}
    for operation in configurations:
        failed = states[operation["id"]]
        assert failed["state"] == "failed" and failed["writes"] == 0
        assert failed["message"] == (f"Key Vault secret 'flux-ssh-key' of {vault_id} (for properties."
                                     "configurationProtectedSettings.sshPrivateKey): the vault has no such secret; "
                                     "add it, or supply it in --secrets (keyVaultSecrets)")
    assert running.control.stats()["writes"] == writes  # nothing written

    # a machine without vault access gives the secret itself, keyed like the reference
    supplied = "c3VwcGxpZWQtaW4tc2VjcmV0cy1maWxl"
    secrets_file = _json(tmp_path / "secrets.json", {"keyVaultSecrets": [
        {"keyVault": {"id": vault_id.upper()}, "secretName": "FLUX-SSH-KEY", "value": supplied}]})
    assert _apply(running, plan_file, "--secrets", str(secrets_file), "-o", str(tmp_path / "result.json")) == 1
    result = json.loads((tmp_path / "result.json").read_text())
    assert set(result["counts"]) <= {"succeeded", "skipped", "deferred"}  # deferred: disconnected clusters
    for operation in configurations:
        assert _digests(running, operation["resourceId"]) == {"sshPrivateKey": _sha256(supplied)}
    captured = capsys.readouterr()
    for text in (_written_files(tmp_path), captured.out, captured.err):
        assert supplied not in text and SSH_KEY not in text


def test_vault_reference_that_is_not_a_vault_id_fails_with_what_is_wrong(sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    assignments = _flux_assignments(tmp_path, "kv-fleet")  # a name where the reference needs the vault's id
    plan_file = _plan(running, tmp_path, assignments, FLUX_SSH)
    configurations = _flux_operations(plan_file)
    assert _apply(running, plan_file, "--failure-threshold", "1", "-o", str(tmp_path / "result.json")) == 1
    messages = {operation["id"]: operation.get("message", "")
                for operation in json.loads((tmp_path / "result.json").read_text())["operations"]}
    assert all("keyVault.id is not a Microsoft.KeyVault/vaults resource id" in messages[operation["id"]]
               for operation in configurations)


# ---- secrets written in the definition's template ----------------------------------------------
AGENT_DEFINITION_ID = "/providers/Microsoft.Authorization/policyDefinitions/contoso-agent"
LITERAL_KEY = "contoso-literal-api-key-7f3a"


def _agent_definition(literal: str = LITERAL_KEY) -> dict:
    """A DINE installing an extension whose protected settings the template writes itself."""
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"clusterName": {"type": "string"}, "clusterResourceType": {"type": "string"},
                       "salt": {"type": "string"}},
        "resources": [{
            "type": "Microsoft.KubernetesConfiguration/extensions", "apiVersion": "2023-05-01", "name": "contoso-agent",
            "scope": "[concat(if(contains(toLower(parameters('clusterResourceType')), 'connectedclusters'), "
                     "'Microsoft.Kubernetes/connectedClusters/', 'Microsoft.ContainerService/managedClusters/'), "
                     "parameters('clusterName'))]",
            "properties": {"extensionType": "contoso.agent", "autoUpgradeMinorVersion": True, "releaseTrain": "Stable",
                           "scope": {"cluster": {"releaseNamespace": "contoso"}},
                           "configurationProtectedSettings": {
                               "apiKey": literal,
                               "token": "[concat('tok-', toUpper(parameters('clusterName')), '-', parameters('salt'))]"}}}]}
    return {"id": AGENT_DEFINITION_ID, "name": "contoso-agent", "type": "Microsoft.Authorization/policyDefinitions",
            "properties": {
                "displayName": "Deploy the Contoso agent", "mode": "Indexed", "policyType": "Custom",
                "parameters": {"salt": {"type": "String"}},
                "policyRule": {
                    "if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                    "then": {"effect": "deployIfNotExists", "details": {
                        "type": "Microsoft.KubernetesConfiguration/extensions",
                        "existenceCondition": {"field": "Microsoft.KubernetesConfiguration/extensions/extensionType",
                                               "equals": "contoso.agent"},
                        "roleDefinitionIds": ["/providers/microsoft.authorization/roleDefinitions/"
                                              "b24988ac-6180-42a0-ab88-20f7382dd24c"],
                        "deployment": {"properties": {"mode": "incremental", "template": template, "parameters": {
                            "clusterName": {"value": "[field('name')]"},
                            "clusterResourceType": {"value": "[field('type')]"},
                            "salt": {"value": "[parameters('salt')]"}}}}}}}}}


def test_template_secrets_are_re_derived_from_the_definition_and_never_from_the_plan(
        sandbox_factory, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    running = sandbox_factory(**FAST)
    definition = _json(tmp_path / "contoso-agent.json", _agent_definition())
    assignments = _json(tmp_path / "assignment.json", [_assignment("contoso-agent", AGENT_DEFINITION_ID,
                                                                   {"salt": "pepper"})])
    plan_file = _plan(running, tmp_path, assignments, definition)
    operations = [operation for operation in read_plan(plan_file).to_json()["operations"]
                  if operation["status"] == "planned"]
    assert operations
    assert {(source["path"], source["kind"]) for source in operations[0]["secretSources"]} == {
        ("properties.configurationProtectedSettings.apiKey", "template"),
        ("properties.configurationProtectedSettings.token", "template")}

    capsys.readouterr()
    # without the definition apply cannot re-derive them: one line, exit 2, nothing written
    assert _apply(running, plan_file, "-o", str(tmp_path / "result.json")) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--policy" in error[0] and AGENT_DEFINITION_ID in error[0]
    other = _json(tmp_path / "other.json", [_assignment("elsewhere", AGENT_DEFINITION_ID, {"salt": "pepper"})])
    assert _apply(running, plan_file, "--policy", str(definition), "--assignment", str(other),
                  "-o", str(tmp_path / "result.json")) == 2
    assert "its assignment is not among" in capsys.readouterr().err
    assert running.control.stats()["writes"] == 0 and not (tmp_path / "result.json").exists()

    code = _apply(running, plan_file, "--policy", str(definition), "--assignment", str(assignments),
                  "-o", str(tmp_path / "result.json"))
    result = json.loads((tmp_path / "result.json").read_text())
    assert code == 1 and set(result["counts"]) == {"succeeded", "skipped", "deferred"}, result["counts"]
    for operation in operations:
        cluster_name = ids.parse_resource_id(operation["clusterId"]).name
        assert _digests(running, operation["resourceId"]) == {
            "apiKey": _sha256(LITERAL_KEY), "token": _sha256(f"tok-{cluster_name.upper()}-pepper")}
    captured = capsys.readouterr()
    for text in (_written_files(tmp_path), captured.out, captured.err, caplog.text):
        assert LITERAL_KEY not in text and "-PEPPER" not in text.upper()


def test_a_definition_changed_since_the_plan_gives_its_new_secret_not_the_planned_one(sandbox_factory, tmp_path):
    running = sandbox_factory(**FAST)
    assignments = _json(tmp_path / "assignment.json", [_assignment("contoso-agent", AGENT_DEFINITION_ID,
                                                                   {"salt": "pepper"})])
    plan_file = _plan(running, tmp_path, assignments, _json(tmp_path / "v1.json", _agent_definition()))
    rotated = _json(tmp_path / "v2.json", _agent_definition("contoso-rotated-api-key-91b2"))
    assert _apply(running, plan_file, "--policy", str(rotated), "--assignment", str(assignments),
                  "-o", str(tmp_path / "result.json")) == 1  # disconnected clusters' installs stay deferred
    assert "failed" not in json.loads((tmp_path / "result.json").read_text())["counts"]
    written = [operation for operation in read_plan(plan_file).to_json()["operations"]
               if operation["status"] == "planned"]
    assert written and all(_digests(running, operation["resourceId"])["apiKey"] ==
                           _sha256("contoso-rotated-api-key-91b2") for operation in written)


def test_template_secrets_api_gives_clear_values_of_one_target_only():
    deployment = DineDeployment.from_definition(_agent_definition())
    cluster = {"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/edge-1",
               "name": "edge-1", "type": "Microsoft.Kubernetes/connectedClusters", "location": "eastus"}
    target = f"{cluster['id']}/providers/Microsoft.KubernetesConfiguration/extensions/contoso-agent"
    assert deployment.template_secrets(cluster, {"salt": "pepper"}, "/a/1", target.upper()) == {
        "properties.configurationProtectedSettings.apiKey": LITERAL_KEY,
        "properties.configurationProtectedSettings.token": "tok-EDGE-1-pepper"}
    assert deployment.template_secrets(cluster, {"salt": "pepper"}, "/a/1", f"{cluster['id']}/other") is None
    expanded = deployment.expand(cluster, {"salt": "pepper"}, "/a/1")
    assert LITERAL_KEY not in json.dumps(expanded[0].body) and "pepper" not in json.dumps(expanded[0].body)


def test_secrets_file_key_vault_entries_are_checked(tmp_path):
    vault = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
    secrets = Secrets.load([_json(tmp_path / "ok.json", {
        "proxyPassword": "p", "keyVaultSecrets": [{"keyVault": {"id": vault}, "secretName": "ssh", "value": "v-1234"}]})])
    assert secrets.key_vault_secret(vault.upper(), "SSH").reveal() == "v-1234"
    assert secrets.value(None, "proxyPassword").reveal() == "p" and secrets.value(None, "keyVaultSecrets") is None
    assert secrets.scrub("got v-1234!") == "got <redacted>!"
    with pytest.raises(InputError, match=r"item 0.keyVaultSecrets\[0\]"):
        Secrets.load([_json(tmp_path / "bad.json", {"keyVaultSecrets": [{"keyVault": vault, "secretName": "ssh"}]})])
    with pytest.raises(InputError, match="keyVaultSecrets is a list"):
        Secrets.load([_json(tmp_path / "bad2.json", {"keyVaultSecrets": {"ssh": "v"}})])


def test_sandbox_vault_challenges_unauthenticated_requests_as_key_vault_does(sandbox_factory):
    import requests

    from engine.azure.connection import SANDBOX_TOKEN

    running = sandbox_factory(**FAST)
    vault_id, vault_uri = _vault(running, _subscription(running))
    session = requests.Session()
    session.trust_env = False
    session.verify = str(running.endpoint.ca_bundle)
    url, query = f"{vault_uri}secrets/flux-ssh-key", {"api-version": "7.5"}
    challenge = session.get(url, params=query, timeout=10)
    assert challenge.status_code == 401
    assert 'resource="https://vault.azure.net"' in challenge.headers["WWW-Authenticate"]
    session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
    assert session.put(url, params=query, json={"value": SSH_KEY}, timeout=10).status_code == 200
    assert session.get(url, params=query, timeout=10).json()["value"] == SSH_KEY
    assert session.get(url.replace("kv-fleet", "kv-nowhere"), params=query, timeout=10).json()["error"]["code"] \
        == "VaultNotFound"
    with running.server.sandbox.store.lock:  # ARM never shows a vault's secrets
        vault = running.server.sandbox.store.get(vault_id)
    assert SSH_KEY not in json.dumps(vault)
