"""Rego policies in the same scan as Azure Policy JSON (issue 5): one result set, one record shape,
assignments with parameters, scope, notScopes and exemptions, runtime and compile errors, the OPA
engine (against OpaServerTestDouble, the one allowed test double), and the twins through ``scan()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_policy.builders import (
    NOW,
    OTHER_SUBSCRIPTION,
    SUBSCRIPTION,
    assignment,
    cluster,
    extension,
    write_json,
)
from rego.opa_double import OpaServerTestDouble

from engine.cli.main import main
from engine.evaluate import prepare_scan, run_scan, scan
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet, write_generated_fleet
from engine.models.results import PolicyState
from policies import LIBRARY

PINNED = "rego:arcpolicy.pinned_versions_allowed"
TWINS = sorted((LIBRARY / "azure").glob("*.json"))
CONFLICT = 'package probe.conflict\n\nmode := "a"\nmode := "b" if true\n\nviolation contains {"msg": mode} if true\n'
BROKEN = "package probe.broken\n\nviolation contains {\"msg\": \"x\"} if {\n\tinput.resource.name ==\n}\n"
ALWAYS = 'package probe.always\n\nviolation contains {"msg": "always"} if true\n'


def pinned_flux(name: str, group: str = "rg-a", subscription: str = SUBSCRIPTION) -> list[dict]:
    owner = cluster(name, group=group, subscription=subscription)
    return [owner, extension(owner, "flux", "microsoft.flux", autoUpgradeMinorVersion=False, version="1.13.1")]


def by_cluster(records: list[PolicyState], kind: str) -> dict[str, str]:
    """resourceId -> compliance state of the records whose definition id starts with ``kind``."""
    return {record.resource_id: record.compliance_state.value for record in records
            if record.policy_definition_id.startswith(kind)}


def test_mixed_json_and_rego_policies_give_one_result_set_of_one_shape(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.json"
    write_generated_fleet(fleet, 40, seed=3)
    out = tmp_path / "states.json"
    status = main(["scan", "-i", str(fleet), "-p", str(LIBRARY / "azure" / "monitoring_required.json"),
                   "-p", str(LIBRARY / "rego"), "--format", "json", "-o", str(out)])
    assert status == 1
    states = json.loads(out.read_text())["value"]
    rego = [state for state in states if state["policyDefinitionId"].startswith("rego:")]
    azure = [state for state in states if not state["policyDefinitionId"].startswith("rego:")]
    assert rego and azure
    assert {state["policyDefinitionName"] for state in rego} >= {"arcpolicy.monitoring_required",
                                                                 "arcpolicy.defender_required_non_aks"}
    required = {"resourceId", "resourceType", "resourceGroup", "subscriptionId", "policyAssignmentId",
                "policyAssignmentName", "policyDefinitionId", "policyDefinitionName", "policyDefinitionAction",
                "complianceState", "isCompliant", "timestamp"}
    assert all(required <= set(state) for state in states)
    assert {state["timestamp"] for state in states} == {states[0]["timestamp"]}  # one scan
    # one set, sorted by resource: a cluster's Azure and Rego records sit together
    order = [state["resourceId"].lower() for state in states]
    assert order == sorted(order)
    # the twins agree cluster by cluster inside the same scan
    rego_monitoring = {state["resourceId"]: state["complianceState"] for state in rego
                       if state["policyDefinitionName"] == "arcpolicy.monitoring_required"}
    azure_monitoring = {state["resourceId"]: state["complianceState"] for state in azure}
    assert rego_monitoring == azure_monitoring and set(rego_monitoring.values()) == {"Compliant", "NonCompliant"}


def test_rego_assignments_with_parameters_scope_not_scopes_and_exemptions(tmp_path: Path) -> None:
    fleet = Fleet([*pinned_flux("a1"), *pinned_flux("a2"), *pinned_flux("b1", group="rg-b"),
                   *pinned_flux("o1", subscription=OTHER_SUBSCRIPTION)])
    subscription = f"/subscriptions/{SUBSCRIPTION}"
    strict = assignment("strict", PINNED, subscription, {"allowedVersions": {"microsoft.flux": ["1.14.1"]}},
                        not_scopes=[f"{subscription}/resourceGroups/rg-b"])
    lenient = assignment("lenient", PINNED, f"{subscription}/resourceGroups/rg-a",
                         {"allowedVersions": {"microsoft.flux": ["1.13.1", "1.14.1"]}})
    a2 = fleet.cluster(f"{subscription}/resourceGroups/rg-a/providers/Microsoft.Kubernetes/connectedClusters/a2")
    assert a2 is not None
    waiver = {"id": f"{a2.id}/providers/Microsoft.Authorization/policyExemptions/waiver", "name": "waiver",
              "type": "Microsoft.Authorization/policyExemptions",
              "properties": {"policyAssignmentId": strict["id"], "exemptionCategory": "Waiver"}}
    request = prepare_scan([LIBRARY / "rego"], [write_json(tmp_path / "assignments.json", [strict, lenient])],
                           [write_json(tmp_path / "exemptions.json", waiver)], timestamp=NOW)
    result = run_scan(fleet, request, workers=1)
    states = {(record.resource_id.split("/")[-1], record.policy_assignment_name): record for record in result.records}
    assert {key: record.compliance_state.value for key, record in states.items()} == {
        ("a1", "strict"): "NonCompliant", ("a2", "strict"): "Exempt",  # b1: notScope; o1: outside the scope
        ("a1", "lenient"): "Compliant", ("a2", "lenient"): "Compliant"}
    flagged = states[("a1", "strict")]
    assert flagged.policy_definition_id == PINNED and flagged.policy_definition_action == "deployifnotexists"
    assert flagged.remediation == [{"name": "flux", "action": "update", "properties": {"version": "1.14.1"}}]
    assert states[("a2", "strict")].exemption_id == waiver["id"]
    assert flagged.reasons[0].path == "data.arcpolicy.pinned_versions_allowed.violation"
    assert "1.13.1" in flagged.reasons[0].message


def test_a_rego_runtime_error_is_an_error_record_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "conflict.rego").write_text(CONFLICT)
    (tmp_path / "always.rego").write_text(ALWAYS)
    fleet = Fleet([*pinned_flux("a1"), *pinned_flux("a2")])
    result = scan(fleet, [tmp_path, LIBRARY / "azure" / "flux_auto_upgrade.json"], workers=1, timestamp=NOW)
    by_policy: dict[str, set[str]] = {}
    for record in result.records:
        by_policy.setdefault(record.policy_definition_name, set()).add(record.compliance_state.value)
    assert by_policy["probe.conflict"] == {"Error"}
    assert by_policy["probe.always"] == {"NonCompliant"}
    assert len(by_policy) == 3  # the Azure Policy twin was evaluated too
    errors = [record for record in result.records if record.compliance_state.value == "Error"]
    assert len(errors) == 2
    assert errors[0].error == f"{tmp_path / 'conflict.rego'}:4:1: rule conflicts with rule at {tmp_path / 'conflict.rego'}:3:1"
    assert errors[0].policy_definition_action == "error"
    [summary] = [row for row in result.summary if row.policy_definition_name == "probe.conflict"]
    assert summary.error == 2


def test_a_rego_compile_error_names_file_and_line_and_skips_only_that_policy(tmp_path: Path, capsys) -> None:
    (tmp_path / "broken.rego").write_text(BROKEN)
    (tmp_path / "always.rego").write_text(ALWAYS)
    fleet = write_json(tmp_path / "fleet.json", pinned_flux("a1"))
    out = tmp_path / "states.json"
    status = main(["scan", "-i", str(fleet), "-p", str(tmp_path / "broken.rego"), "-p", str(tmp_path / "always.rego"),
                   "--format", "json", "-o", str(out)])
    assert status == 1
    skipped = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1 and f"{tmp_path / 'broken.rego'}:" in skipped[0]
    line = int(skipped[0].split("broken.rego:")[1].split(":")[0])
    assert 3 <= line <= 5 and skipped[0].endswith("(policy skipped)")
    [record] = json.loads(out.read_text())["value"]
    assert record["policyDefinitionName"] == "probe.always"


def test_compile_problems_are_reported_with_explicit_assignments_too(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text(BROKEN)
    (tmp_path / "always.rego").write_text(ALWAYS)
    assigned = write_json(tmp_path / "assignment.json", assignment("always", "rego:probe.always"))
    request = prepare_scan([tmp_path / "broken.rego", tmp_path / "always.rego"], [assigned])
    assert len(request.skipped) == 1 and "broken.rego:" in request.skipped[0]


def test_opa_engine_through_the_scan(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.json"
    write_generated_fleet(fleet, 12, seed=4)
    embedded_out, opa_out = tmp_path / "embedded.json", tmp_path / "opa.json"
    arguments = ["scan", "-i", str(fleet), "-p", str(LIBRARY / "rego"), "--format", "json", "--workers", "1"]
    assert main([*arguments, "-o", str(embedded_out)]) == 1
    with OpaServerTestDouble() as opa:
        assert main([*arguments, "--rego-engine", "opa", "--opa-url", opa.url, "-o", str(opa_out)]) == 1
        posts = [path for method, path in opa.requests if method == "POST"]
        puts = [path for method, path in opa.requests if method == "PUT"]
    assert posts and puts  # policies uploaded, clusters decided by the server

    def decisions(path: Path) -> list[tuple]:
        return [(state["resourceId"], state["policyDefinitionId"], state["complianceState"],
                 [reason["message"] for reason in state.get("reasons", [])])
                for state in json.loads(path.read_text())["value"]]

    assert decisions(opa_out) == decisions(embedded_out) and decisions(opa_out)


def test_an_unreachable_opa_server_is_exit_4_with_one_line(tmp_path: Path, capsys) -> None:
    fleet = write_json(tmp_path / "fleet.json", pinned_flux("a1"))
    with OpaServerTestDouble() as opa:
        url = opa.url  # stopped on leaving the block: nothing listens there any more
    out = tmp_path / "records.json"
    status = main(["scan", "-i", str(fleet), "-p", str(LIBRARY / "rego"), "--rego-engine", "opa", "--opa-url", url,
                   "-o", str(out)])
    assert status == 4
    assert capsys.readouterr().err.strip().splitlines() == [
        f"arcpolicy: error: cannot reach OPA server {url}: ConnectionError"]
    assert not out.exists()


def test_opa_url_needs_the_opa_engine(tmp_path: Path, capsys) -> None:
    fleet = write_json(tmp_path / "fleet.json", pinned_flux("a1"))
    assert main(["scan", "-i", str(fleet), "-p", str(LIBRARY / "rego"), "--opa-url", "http://127.0.0.1:1"]) == 2
    assert "--opa-url: only used with --rego-engine opa" in capsys.readouterr().err


@pytest.mark.parametrize("twin", TWINS, ids=lambda path: path.stem)
def test_twins_agree_through_the_real_scan(twin: Path) -> None:
    fleet = Fleet(generate_fleet(200, seed=9))
    package = json.loads(twin.read_text())["properties"]["metadata"]["regoTwin"]
    rego_source = LIBRARY / "rego" / f"{package.split('.')[-1]}.rego"
    result = scan(fleet, [twin, rego_source, LIBRARY / "rego" / "lib"], workers=1, timestamp=NOW)
    rego = by_cluster(result.records, package)
    assert by_cluster(result.records, "/providers/") == rego
    assert set(rego.values()) == {"Compliant", "NonCompliant"}
    # the summaries agree too, not applicable included (the rule's `if` / the policy's `applicable`)
    [azure_row] = [row for row in result.summary if not row.policy_definition_name.startswith("arcpolicy.")]
    [rego_row] = [row for row in result.summary if row.policy_definition_name == package.removeprefix("rego:")]
    assert (azure_row.compliant, azure_row.non_compliant, azure_row.not_applicable) == \
        (rego_row.compliant, rego_row.non_compliant, rego_row.not_applicable)
    assert rego_row.not_applicable > 0


def test_process_pool_with_both_kinds_gives_the_records_of_one_process() -> None:
    fleet = Fleet(generate_fleet(420, seed=6))  # above the serial limit: two workers recompile both kinds
    request = prepare_scan([LIBRARY / "azure", LIBRARY / "rego" / "monitoring_required.rego",
                            LIBRARY / "rego" / "lib"], timestamp=NOW)
    serial, pooled = run_scan(fleet, request, workers=1), run_scan(fleet, request, workers=2)
    assert [record.to_json() for record in pooled.records] == [record.to_json() for record in serial.records]
    assert pooled.summary == serial.summary and pooled.evaluations == serial.evaluations
    assert {record.policy_definition_id.startswith("rego:") for record in pooled.records} == {True, False}
