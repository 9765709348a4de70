"""Effects evaluated offline as the effect docs say: Manual (defaultState, attestations), and the effects
that act only on requests or in a cluster, refused per definition with their reason (never the scan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.evaluate import prepare_scan, run_scan
from engine.expressions import COMMON_FUNCTIONS, compile_value
from engine.inventory import Fleet

from .builders import NOW, assignment, cluster, write_json

CONNECTED = "Microsoft.Kubernetes/connectedClusters"
C1, C2, C3 = cluster("c1"), cluster("c2"), cluster("c3", distribution="eks")


def manual(default_state: str | None = None) -> dict:
    details = {"defaultState": default_state} if default_state else {}
    return {"name": "attest-backup", "properties": {
        "displayName": "Attest the backup procedure", "mode": "All",
        "policyRule": {"if": {"allOf": [{"field": "type", "equals": CONNECTED},
                                        {"field": f"{CONNECTED}/distribution", "equals": "k3s"}]},
                       "then": {"effect": "manual", "details": details}}}}


def attestation(resource: dict, state: str, name: str = "a1", **extra: object) -> dict:
    return {"id": f"{resource['id']}/providers/Microsoft.PolicyInsights/attestations/{name}", "name": name,
            "type": "Microsoft.PolicyInsights/attestations",
            "properties": {"policyAssignmentId": "/providers/Microsoft.Authorization/policyAssignments/attest",
                           "complianceState": state, "comments": "runbook reviewed", **extra}}


def scan_states(tmp_path: Path, definition: dict, attestations: list[dict] = ()) -> dict[str, str]:
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    write_json(folder / "manual.json", definition)
    assigned = write_json(tmp_path / "a.json", assignment("attest", "attest-backup"))
    files = [write_json(tmp_path / "attestations.json", list(attestations))] if attestations else []
    request = prepare_scan([folder], [assigned], timestamp=NOW, attestation_files=files)
    result = run_scan(Fleet([C1, C2, C3]), request, workers=1)
    return {record.resource_id.rsplit("/", 1)[-1]: record.compliance_state.value for record in result.records}


@pytest.mark.parametrize(("default_state", "expected"), [(None, "Unknown"), ("Compliant", "Compliant"),
                                                         ("NonCompliant", "NonCompliant")])
def test_manual_reports_its_default_state_on_applicable_resources(tmp_path: Path, default_state: str | None,
                                                                  expected: str) -> None:
    states = scan_states(tmp_path, manual(default_state))
    assert states == {"c1": expected, "c2": expected, "c3": "Compliant"}  # c3: applicable, if false


def test_attestations_set_the_state_until_they_expire(tmp_path: Path) -> None:
    states = scan_states(tmp_path, manual(), [
        attestation(C1, "Compliant"),
        attestation(C2, "NonCompliant", "old", expiresOn="2020-01-01T00:00:00Z")])  # expired: default again
    assert states == {"c1": "Compliant", "c2": "Unknown", "c3": "Compliant"}


def test_scan_takes_attestation_files_and_counts_unknown_as_azure_does(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "manual.json", manual())
    fleet = write_json(tmp_path / "fleet.json", [C1, C2])
    attested = write_json(tmp_path / "att.json", attestation(C1, "NonCompliant"))
    assigned = write_json(tmp_path / "a.json", assignment("attest", "attest-backup"))
    out = tmp_path / "states.json"
    table = tmp_path / "table.txt"
    assert main(["scan", "-i", str(fleet), "-p", str(folder), "-a", str(assigned), "--attestation", str(attested),
                 "-o", str(out), "-o", str(table)]) == 1
    # one NonCompliant (attested), one Unknown: Azure counts Unknown with the compliant ones (50%)
    assert table.read_text().startswith("Scan ") and "50.0% compliant" in table.read_text()
    assert "unknown 1  total 2" in table.read_text()
    text = out.read_text()
    assert '"complianceState": "NonCompliant"' in text and '"complianceState": "Unknown"' in text
    assert "attested NonCompliant: runbook reviewed" in text
    bad = write_json(tmp_path / "bad.json", {**attestation(C1, "Maybe")})
    assert main(["scan", "-i", str(fleet), "-p", str(folder), "-a", str(assigned), "--attestation", str(bad),
                 "-o", str(tmp_path / "x.json")]) == 2
    assert "bad.json" in capsys.readouterr().err and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(("effect", "why"), [("AuditAction", "DELETE requests"),
                                             ("addToNetworkGroup", "Virtual Network Manager"),
                                             ("mutate", "inside the cluster")])
def test_effects_without_an_offline_state_are_listed_not_evaluated(tmp_path: Path, effect: str, why: str) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "request-time.json", {"name": "request-time", "properties": {"mode": "All", "policyRule": {
        "if": {"field": "type", "equals": CONNECTED}, "then": {"effect": effect}}}})
    write_json(folder / "k3s.json", manual("NonCompliant"))
    result = run_scan(Fleet([C1]), prepare_scan([folder], timestamp=NOW), workers=1)
    [refused] = result.not_evaluated
    assert refused.key.definition_name == "request-time" and why in refused.reason
    assert [record.policy_definition_name for record in result.records] == ["attest-backup"]


def test_try_get_returns_null_for_a_missing_key_or_index() -> None:
    def value(text: str) -> object:
        return compile_value(text, COMMON_FUNCTIONS)(None)

    assert value("[tryGet(createObject('A', 1), 'a')]") == 1
    assert value("[tryGet(createObject('a', 1), 'b')]") is None
    assert value("[tryGet(createArray(1, 2), 5)]") is None
    assert value("[coalesce(tryGet(createObject('a', createObject('b', 'x')), 'a', 'b'), 'none')]") == "x"
