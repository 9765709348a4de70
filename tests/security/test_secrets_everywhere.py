"""Planted secrets reach no output, store, log, journal or stream, in any encoding.

Distinctive values are planted where secrets come from (an assignment parameter compared with a
protected setting and fed to a ``secureString``, a nested ``secureObject`` value, a protected setting
in the inventory, a Key Vault secret, a bad parameter value) and the whole pipeline runs against the
sandbox through the real Azure SDK clients: scan in every output format into SQLite and PostgreSQL
with text and JSON logs, plan (json, html, markdown), export (ARM templates, parameters files, Terraform, manifest,
README, deploy script), apply (result, journal). Then every byte it
left is searched for every planted value: plain, JSON-escaped, HTML-escaped, URL-encoded, base64, hex.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from sqlalchemy import create_engine, text

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet
from engine.sandbox.protected import protected_setting_digests
from tests.apply.test_apply_secrets import _store_secret, _vault

PARAMETER_SECRET = 'ZqSECRET-param/7c1e+9b40 d2"q'  # compared with a protected setting, fed to a secureString
NESTED_SECRET = "ZqSECRET-nested&9f3a<2b>71"  # inside a secureObject
PROTECTED_SECRET = "ZqSECRET-protected-55e0c1d7a9"  # a protected setting in the inventory
VAULT_SECRET = "ZqSECRET-vault-a4b8c2e6f0"  # a Key Vault secret apply reads
ERROR_SECRET = "ZqSECRET-error-3d5f7b9e1c"  # a parameter value of the wrong type
PLANTED = (PARAMETER_SECRET, NESTED_SECRET, PROTECTED_SECRET, VAULT_SECRET, ERROR_SECRET)
AUDIT_ID = "/providers/Microsoft.Authorization/policyDefinitions/agent-key-audit"
DEPLOY_ID = "/providers/Microsoft.Authorization/policyDefinitions/agent-deploy"
PROTECTED_API_KEY = "Microsoft.KubernetesConfiguration/extensions/configurationProtectedSettings.apiKey"


def _encodings(value: str) -> dict[str, bytes]:
    raw = value.encode()
    return {"plain": raw, "json": json.dumps(value)[1:-1].encode(),
            "html": value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").encode(),
            "url": quote(value, safe="").encode(), "url-plus": quote_plus(value).encode(),
            "base64": base64.b64encode(raw).rstrip(b"="), "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
            "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}


def _leaks(where: str, data: bytes) -> list[str]:
    return [f"{where}: {value!r} ({name})" for value in PLANTED for name, form in _encodings(value).items()
            if form in data or (name == "plain" and form.lower() in data.lower())]


def _json(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _definition(definition_id: str, parameters: dict, rule: dict) -> dict:
    return {"id": definition_id, "name": definition_id.rsplit("/", 1)[-1],
            "type": "Microsoft.Authorization/policyDefinitions",
            "properties": {"displayName": definition_id.rsplit("/", 1)[-1], "mode": "All",
                           "parameters": parameters, "policyRule": rule}}


def _audit_definition() -> dict:
    """The audit's case: a policy comparing a protected setting with an assignment parameter."""
    return _definition(AUDIT_ID, {"apiKey": {"type": "String"}}, {
        "if": {"allOf": [{"field": "type", "equals": "Microsoft.KubernetesConfiguration/extensions"},
                         {"not": {"field": PROTECTED_API_KEY, "equals": "[parameters('apiKey')]"}}]},
        "then": {"effect": "audit"}})


def _deploy_definition() -> dict:
    """A DINE whose template takes a secureString, a secureObject and a Key Vault reference."""
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"clusterName": {"type": "string"}, "apiKey": {"type": "secureString"},
                       "settings": {"type": "secureObject"}, "vaultKey": {"type": "secureString"}},
        "resources": [{
            "type": "Microsoft.KubernetesConfiguration/extensions", "apiVersion": "2023-05-01", "name": "agent",
            "scope": "[concat('Microsoft.Kubernetes/connectedClusters/', parameters('clusterName'))]",
            "properties": {"extensionType": "contoso.agent", "autoUpgradeMinorVersion": True,
                           "scope": {"cluster": {"releaseNamespace": "contoso"}},
                           "configurationProtectedSettings": {
                               "apiKey": "[parameters('apiKey')]", "nested": "[parameters('settings').nested]",
                               "vault": "[parameters('vaultKey')]"}}}]}
    return _definition(DEPLOY_ID, {"apiKey": {"type": "String"}, "settings": {"type": "Object"},
                                   "vaultId": {"type": "String"}}, {
        "if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
        "then": {"effect": "deployIfNotExists", "details": {
            "type": "Microsoft.KubernetesConfiguration/extensions",
            "existenceCondition": {"allOf": [
                {"field": "Microsoft.KubernetesConfiguration/extensions/extensionType", "equals": "contoso.agent"},
                {"field": PROTECTED_API_KEY, "equals": "[parameters('apiKey')]"}]},
            "roleDefinitionIds": ["/providers/microsoft.authorization/roleDefinitions/"
                                  "b24988ac-6180-42a0-ab88-20f7382dd24c"],
            "deployment": {"properties": {"mode": "incremental", "template": template, "parameters": {
                "clusterName": {"value": "[field('name')]"}, "apiKey": {"value": "[parameters('apiKey')]"},
                "settings": {"value": "[parameters('settings')]"},
                "vaultKey": {"reference": {"keyVault": {"id": "[parameters('vaultId')]"},
                                           "secretName": "agent-key"}}}}}}}})


def _assignment(name: str, definition_id: str, parameters: dict) -> dict:
    return {"id": f"/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/policyAssignments",
            "properties": {"scope": "/", "policyDefinitionId": definition_id,
                           "parameters": {key: {"value": value} for key, value in parameters.items()}}}


def _fleet_with_a_protected_setting(path: Path) -> tuple[Path, str]:
    """A small generated fleet whose first connected cluster's first extension holds PROTECTED_SECRET."""
    write_generated_fleet(path, 6, seed=11)
    resources = json.loads(path.read_text())
    extension = next(resource for resource in resources
                     if resource["type"] == "Microsoft.KubernetesConfiguration/extensions"
                     and "connectedClusters" in resource["id"])
    extension["properties"]["configurationProtectedSettings"] = {"apiKey": PROTECTED_SECRET}
    path.write_text(json.dumps(resources))
    subscription = extension["id"].split("/")[2]
    return path, subscription


def _scan(inputs: Path, fleet: Path, assignments: Path, *extra: str) -> int:
    return main(["scan", "-i", str(fleet), "-p", str(inputs / "policies"), "--assignment", str(assignments),
                 "--workers", "1", *extra])


def test_planted_secrets_reach_no_output_store_log_journal_or_stream(sandbox_factory, tmp_path, capfd, postgres_url):
    inputs, out = tmp_path / "in", tmp_path / "out"
    fleet, subscription = _fleet_with_a_protected_setting(inputs / "fleet.json")
    running = sandbox_factory(fleet=fleet, provisioning_seconds=0)
    vault_id, vault_uri = _vault(running, subscription)
    _store_secret(running, vault_uri, "agent-key", VAULT_SECRET)
    _json(inputs / "policies" / "audit.json", _audit_definition())
    _json(inputs / "policies" / "deploy.json", _deploy_definition())
    assignments = _json(inputs / "assignments.json", [
        _assignment("agent-key-audit", AUDIT_ID, {"apiKey": PARAMETER_SECRET}),
        _assignment("agent-deploy", DEPLOY_ID, {"apiKey": PARAMETER_SECRET, "settings": {"nested": NESTED_SECRET},
                                                "vaultId": vault_id})])

    # scan: every format on stdout and in files, both stores, text and JSON logs
    files = ["-o", str(out / "states.json"), "-o", str(out / "states.csv"), "-o", f"junit:{out / 'states.xml'}",
             "-o", f"policyreport:{out / 'states.yaml'}", "-o", str(out / "states.md"),
             "-o", str(out / "states.html"), "-o", str(out / "states.txt")]
    assert _scan(inputs, fleet, assignments, *files, "--store", str(out / "history.db"), "--log-format", "json") == 1
    for output_format in ("json", "table", "csv"):
        assert _scan(inputs, fleet, assignments, "--format", output_format, "--store", postgres_url,
                     "--log-format", "text") == 1
    records = json.loads((out / "states.json").read_text())["value"]
    masked = [reason for record in records for reason in record.get("reasons", [])
              if reason.get("field") == PROTECTED_API_KEY]
    assert masked and all(reason["expected"] == "***" for reason in masked)  # the audit's case, found and masked

    # plan and its reports, then apply with the assignment as --secrets: the secrets are written
    plan = out / "plan.json"
    assert main(["plan", "-i", str(fleet), "-p", str(inputs / "policies"), "--assignment", str(assignments),
                 "--workers", "1", "-o", str(plan), "--report", str(out / "plan.html"),
                 "--markdown", str(out / "plan.md")]) == 0
    assert main(["apply", str(plan), "--arm-endpoint", running.url, "--ca-bundle", str(running.endpoint.ca_bundle),
                 "--credential", "sandbox", "--secrets", str(assignments), "--policy", str(inputs / "policies"),
                 "--assignment", str(assignments), "--failure-threshold", "1",
                 "-o", str(out / "apply.json")]) in (0, 1)
    # the plan exported as code: the secrets are inputs (Key Vault references, pipeline parameters), never values
    assert main(["export", str(plan), "--format", "arm", "-o", str(out / "export-arm"), "-i", str(fleet)]) == 0
    exported_inputs = json.loads((out / "export-arm" / "manifest.json").read_text())["inputs"]
    assert {entry["kind"] for entry in exported_inputs} == {"keyVault", "pipeline"}
    assert main(["export", str(plan), "--format", "terraform", "-o", str(out / "export-tf"), "-i", str(fleet)]) == 0
    assert "sensitive_body" in "".join(path.read_text() for path in (out / "export-tf").rglob("main.tf"))
    written = [operation for operation in json.loads((out / "apply.json").read_text())["operations"]
               if operation["state"] == "succeeded"]
    assert written
    sha256 = {value: hashlib.sha256(value.encode()).hexdigest() for value in PLANTED}
    with running.server.sandbox.store.lock:
        digests = [protected_setting_digests(running.server.sandbox, operation["resourceId"]) for operation in written]
    assert all(digest == {"apiKey": sha256[PARAMETER_SECRET], "nested": sha256[NESTED_SECRET],
                          "vault": sha256[VAULT_SECRET]} for digest in digests)

    # a bad value for a secret parameter: one line on stderr, without the value
    capfd.readouterr()
    bad = copy.deepcopy(json.loads(assignments.read_text()))
    bad[0]["properties"]["parameters"]["apiKey"]["value"] = {"nested": ERROR_SECRET}
    assert _scan(inputs, fleet, _json(inputs / "bad.json", bad), "-o", str(out / "never.json")) == 2
    error = capfd.readouterr().err
    assert error.count("\n") == 1 and "parameter 'apiKey' must be of type String" in error
    assert not (out / "never.json").exists()

    leaks = _leaks("stderr of the bad scan", error.encode())
    captured = capfd.readouterr()
    leaks += _leaks("stdout", captured.out.encode()) + _leaks("stderr", captured.err.encode())
    for path in sorted(out.rglob("*")):
        if path.is_file():
            leaks += _leaks(str(path.relative_to(out)), path.read_bytes())
    assert (out / "plan.json.journal.sqlite").is_file() and (out / "history.db").is_file()
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            for (table,) in tables.fetchall():
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).fetchall()
                leaks += _leaks(f"postgres {table}", "\n".join(str(value) for row in rows for value in row).encode())
    finally:
        engine.dispose()
    assert leaks == []
