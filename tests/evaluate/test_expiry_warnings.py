"""Exemptions and attestations that expired, or expire within the warning window (14 days unless
``--expiry-warning`` / ``scan.expiry_warning`` says otherwise), are named in one warning line each: an
exemption that silently stops counting turns resources non-compliant overnight (Azure lists expiring
exemptions for the same reason)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure_policy.builders import BUILTINS, cluster, write_json

from engine.cli.main import main
from engine.evaluate import prepare_scan

POLICY = BUILTINS / "ArcPolicyExtension_Audit.json"
ASSIGNMENT_ID = "/providers/Microsoft.Authorization/policyAssignments/arc-extension-audit"
CLUSTER = cluster("c1")


def exemption(name: str, expires: datetime | None) -> dict:
    return {"id": f"{CLUSTER['id']}/providers/Microsoft.Authorization/policyExemptions/{name}", "name": name,
            "type": "Microsoft.Authorization/policyExemptions",
            "properties": {"policyAssignmentId": ASSIGNMENT_ID, "exemptionCategory": "Waiver",
                           "expiresOn": expires.isoformat() if expires else None}}


def attestation(name: str, expires: datetime | None) -> dict:
    return {"id": f"{CLUSTER['id']}/providers/Microsoft.PolicyInsights/attestations/{name}", "name": name,
            "type": "Microsoft.PolicyInsights/attestations",
            "properties": {"policyAssignmentId": ASSIGNMENT_ID, "complianceState": "Compliant",
                           "expiresOn": expires.isoformat() if expires else None}}


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def documents(tmp_path: Path) -> tuple[Path, Path]:
    exemptions = write_json(tmp_path / "exemptions.json", [
        exemption("forever", None), exemption("expired", NOW - timedelta(days=3)),
        exemption("soon", NOW + timedelta(days=5)), exemption("later", NOW + timedelta(days=40)),
        exemption("tonight", NOW + timedelta(hours=6))])
    attestations = write_json(tmp_path / "attestations.json", [
        attestation("att-expired", NOW - timedelta(minutes=1)), attestation("att-soon", NOW + timedelta(days=13)),
        attestation("att-later", NOW + timedelta(days=15))])
    return exemptions, attestations


def expiry_lines(warnings: list[str]) -> list[str]:
    return [warning for warning in warnings if "expire" in warning]


def test_expired_and_expiring_within_the_window_are_named_with_their_file(documents) -> None:
    exemptions, attestations = documents
    request = prepare_scan([POLICY], [], [exemptions], None, timestamp=NOW, attestation_files=[attestations])
    lines = expiry_lines(request.warnings)
    assert lines == [
        f"exemption 'expired' ({exemptions} (item 1)) expired on 2026-05-29 12:00 UTC: it no longer applies",
        f"exemption 'soon' ({exemptions} (item 2)) expires on 2026-06-06 12:00 UTC, in 5 days",
        f"exemption 'tonight' ({exemptions} (item 4)) expires on 2026-06-01 18:00 UTC, in 6 hours",
        f"attestation 'att-expired' ({attestations} (item 0)) expired on 2026-06-01 11:59 UTC: it no longer applies",
        f"attestation 'att-soon' ({attestations} (item 1)) expires on 2026-06-14 12:00 UTC, in 13 days",
    ]


@pytest.mark.parametrize(("window", "named"), [
    (timedelta(0), {"expired", "att-expired"}),
    (timedelta(days=20), {"expired", "soon", "tonight", "att-expired", "att-soon", "att-later"}),
    (timedelta(days=60), {"expired", "soon", "later", "tonight", "att-expired", "att-soon", "att-later"}),
])
def test_the_window_is_configurable(documents, window: timedelta, named: set[str]) -> None:
    exemptions, attestations = documents
    request = prepare_scan([POLICY], [], [exemptions], None, timestamp=NOW, attestation_files=[attestations],
                           expiry_warning=window)
    assert {line.split("'")[1] for line in expiry_lines(request.warnings)} == named


def test_scan_prints_them_and_takes_the_window_from_the_command_line_or_the_config(tmp_path: Path, capsys) -> None:
    today = datetime.now(UTC)
    fleet = write_json(tmp_path / "fleet.json", [CLUSTER])
    exemptions = write_json(tmp_path / "exemptions.json", [exemption("soon", today + timedelta(days=10)),
                                                           exemption("old", today - timedelta(days=1))])
    arguments = ["scan", "-i", str(fleet), "-p", str(POLICY), "-e", str(exemptions), "--fail-on", "never"]
    assert main(arguments) == 0
    err = capsys.readouterr().err
    assert "warning: exemption 'soon'" in err and "warning: exemption 'old'" in err and "expired on" in err
    assert main([*arguments, "--expiry-warning", "2d"]) == 0
    err = capsys.readouterr().err
    assert "exemption 'soon'" not in err and "exemption 'old'" in err
    config = tmp_path / "arcpolicy.toml"
    config.write_text('[scan]\nexpiry_warning = "30d"\n')
    assert main([*arguments, "--config", str(config)]) == 0
    assert "exemption 'soon'" in capsys.readouterr().err
    assert main([*arguments, "--expiry-warning", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scan.expiry_warning" in err and "not a duration" in err
