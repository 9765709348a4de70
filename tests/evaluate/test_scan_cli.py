"""``arcpolicy scan``: output shape, exit status, bad input, and the process pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_policy.builders import BUILTINS, NOW, assignment, cluster, extension, write_json

from engine.cli.main import main
from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet, write_generated_fleet

POLICY_EXTENSION_AUDIT = BUILTINS / "ArcPolicyExtension_Audit.json"


@pytest.fixture
def healthy_fleet(tmp_path: Path) -> Path:
    owner = cluster("c1")
    return write_json(tmp_path / "fleet.json", [owner, extension(owner, "azurepolicy", "microsoft.policyinsights")])


def test_json_output_is_a_policy_states_page_and_compliant_fleet_exits_0(tmp_path: Path, healthy_fleet: Path,
                                                                         capsys) -> None:
    out = tmp_path / "states.json"
    status = main(["scan", "--inventory", str(healthy_fleet), "--policy", str(POLICY_EXTENSION_AUDIT),
                   "--format", "json", "-o", str(out)])
    assert status == 0
    [record] = json.loads(out.read_text())["value"]
    assert record["complianceState"] == "Compliant" and record["isCompliant"] is True
    assert record["policyDefinitionAction"] == "auditifnotexists"
    assert record["resourceGroup"] == "rg-a" and record["resourceLocation"] == "westeurope"
    assert "compliant" in capsys.readouterr().err  # the summary table goes to the terminal


def test_non_compliant_exits_1_unless_fail_on_never(tmp_path: Path, capsys) -> None:
    fleet = write_json(tmp_path / "fleet.json", [cluster("c1")])
    arguments = ["scan", "-i", str(fleet), "-p", str(POLICY_EXTENSION_AUDIT), "--format", "csv"]
    assert main(arguments) == 1
    assert "NonCompliant" in capsys.readouterr().out
    assert main([*arguments, "--fail-on", "never"]) == 0


@pytest.mark.parametrize(("policy", "message"), [
    ({"policyRule": {"if": {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                     "then": {"effect": "auditIfNotExists", "details": {
                         "type": "Microsoft.KubernetesConfiguration/extensions",
                         "existenceCondition": {"field": "Microsoft.Kubernetes/connectedClusters/nope", "equals": 1}}}}},
     "policyRule.then.details.existenceCondition.field: unknown field or alias"),
    ({"policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "explode"}}},
     "policyRule.then.effect: unknown effect"),
    ({"policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "audit"}},
      "mode": "Everything"}, "mode: unsupported mode"),
])
def test_bad_policy_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, healthy_fleet: Path, capsys,
                                                             policy: dict, message: str) -> None:
    bad = write_json(tmp_path / "bad.json", policy)
    out = tmp_path / "states.json"
    status = main(["scan", "-i", str(healthy_fleet), "-p", str(bad), "--format", "json", "-o", str(out)])
    error = capsys.readouterr().err
    assert status == 2
    assert f"bad.json: {message}" in error and len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_assignment_file_exits_2(tmp_path: Path, healthy_fleet: Path, capsys) -> None:
    assigned = write_json(tmp_path / "assignment.json", assignment(
        "x", "/providers/Microsoft.Authorization/policyDefinitions/6b2122c1-8120-4ff5-801b-17625a355590",
        parameters={"effect": "Deny"}))
    status = main(["scan", "-i", str(healthy_fleet), "-p", str(BUILTINS), "-a", str(assigned)])
    assert status == 2
    assert "assignment 'x': parameter 'effect' is not one of the allowedValues" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "what"), [("-a", "assignment file"), ("-e", "exemption file"),
                                              ("--attestation", "attestation file")])
def test_a_missing_assignment_exemption_or_attestation_file_is_named_for_what_it_is(healthy_fleet: Path, capsys,
                                                                                    option: str, what: str) -> None:
    assert main(["scan", "-i", str(healthy_fleet), "-p", str(POLICY_EXTENSION_AUDIT), option, "nope.json"]) == 2
    assert capsys.readouterr().err.strip() == f"arcpolicy: error: nope.json: {what} not found"


def test_missing_policy_path_exits_2(healthy_fleet: Path, capsys) -> None:
    assert main(["scan", "-i", str(healthy_fleet), "-p", "no/such/folder"]) == 2
    assert "no/such/folder: no such file or folder" in capsys.readouterr().err


def test_process_pool_gives_the_same_records_as_one_process() -> None:
    fleet = Fleet(generate_fleet(450, seed=5))  # above the serial limit, so two workers really run
    request = prepare_scan([BUILTINS], timestamp=NOW)
    serial = run_scan(fleet, request, workers=1)
    pooled = run_scan(fleet, request, workers=2)
    assert [record.to_json() for record in pooled.records] == [record.to_json() for record in serial.records]
    assert pooled.summary == serial.summary and pooled.clusters == 450


def test_scan_of_a_generated_fleet_from_the_cli(tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet.json"
    write_generated_fleet(fleet, 30, seed=2)
    out = tmp_path / "states.json"
    status = main(["scan", "-i", str(fleet), "-p", str(BUILTINS), "--format", "json", "-o", str(out)])
    states = json.loads(out.read_text())["value"]
    assert status == 1 and states
    assert {state["complianceState"] for state in states} <= {"Compliant", "NonCompliant"}
    assert "not evaluated: parameter" in capsys.readouterr().err  # the two Flux configuration built-ins


def test_a_bad_format_is_refused_before_anything_is_written_or_stored(tmp_path, capsys):
    from engine.cli.main import main
    from engine.inventory.generator import write_generated_fleet
    from policies import LIBRARY

    fleet_file = tmp_path / "fleet.json"
    write_generated_fleet(fleet_file, 5, seed=2)
    store, output = tmp_path / "history.db", tmp_path / "states.json"
    status = main(["scan", "-i", str(fleet_file), "-p", str(LIBRARY / "azure"), "--format", "bogus",
                   "-o", str(output), "--store", str(store)])
    assert status == 2
    assert "bogus" in capsys.readouterr().err
    assert not output.exists() and not store.exists()


def test_an_assignment_at_a_management_group_no_subscription_is_in_is_a_warning(healthy_fleet: Path, tmp_path: Path,
                                                                                capsys) -> None:
    definition = json.loads(POLICY_EXTENSION_AUDIT.read_text())
    assigned = write_json(tmp_path / "assignment.json", {
        "id": "/providers/Microsoft.Management/managementGroups/mg-retail/providers/Microsoft.Authorization/"
              "policyAssignments/audit", "name": "audit", "type": "Microsoft.Authorization/policyAssignments",
        "properties": {"policyDefinitionId": definition["id"],
                       "scope": "/providers/Microsoft.Management/managementGroups/mg-retail"}})
    assert main(["scan", "-i", str(healthy_fleet), "-p", str(POLICY_EXTENSION_AUDIT), "-a", str(assigned),
                 "--format", "json"]) == 0
    assert ("warning: assignment 'audit' is at management group 'mg-retail', which no subscription belongs to in "
            "the --management-groups map: it evaluates nothing") in capsys.readouterr().err
    groups = write_json(tmp_path / "groups.json", {"00000000-0000-0000-0000-000000000000": ["mg-retail"]})
    main(["scan", "-i", str(healthy_fleet), "-p", str(POLICY_EXTENSION_AUDIT), "-a", str(assigned),
          "--management-groups", str(groups), "--format", "json"])
    assert "management group" not in capsys.readouterr().err
