"""Rego records are masked by origin, not by key names that merely look secret."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet

POLICY = """package masking

violation contains {
	"msg": "key vault secrets provider settings",
	"details": {
		"enableSecretRotation": "true",
		"releaseTrains": {"microsoft.azurekeyvaultsecretsprovider": "Stable"},
		"team": input.resource.tags.owner,
		"protected": input.extensions[0].properties.configurationProtectedSettings,
	},
	"remediation": {"name": "akvsecretsprovider", "properties": {
		"extensionType": "microsoft.azurekeyvaultsecretsprovider",
		"configurationSettings": {"secrets-store-csi-driver.enableSecretRotation": "true"},
	}},
} if true
"""


SECRET = "s3cr3t-workspace-key-value"


def test_rego_details_keep_secret_looking_keys_and_mask_values_secret_by_origin(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "masking.rego").write_text(POLICY)
    fleet = tmp_path / "fleet.json"
    write_generated_fleet(fleet, 1, seed=3)
    resources = json.loads(fleet.read_text())
    resources[0]["tags"]["owner"] = SECRET  # copied from a protected setting by hand: secret by its origin
    extension = next(resource for resource in resources if resource["type"].endswith("/extensions"))
    extension["properties"]["configurationProtectedSettings"] = {"omsagent.secret.key": SECRET}
    fleet.write_text(json.dumps(resources))
    output = tmp_path / "records.json"
    assert main(["scan", "-i", str(fleet), "--policy", str(tmp_path / "policy"), "--format", "json",
                 "-o", str(output)]) in (0, 1)
    text = output.read_text()
    records = [record for record in json.loads(text)["value"] if record["policyDefinitionId"] == "rego:masking"]
    details = records[0]["details"][0]
    assert details["enableSecretRotation"] == "true"
    assert details["releaseTrains"] == {"microsoft.azurekeyvaultsecretsprovider": "Stable"}
    assert details["protected"] == {"omsagent.secret.key": ""}  # the policy never sees a protected value
    assert details["team"] == "***"  # the protected value met elsewhere is masked by its origin
    assert SECRET not in text
    [remediation] = records[0]["remediation"]
    assert remediation["name"] == "akvsecretsprovider"
    assert remediation["properties"]["configurationSettings"] == {
        "secrets-store-csi-driver.enableSecretRotation": "true"}
