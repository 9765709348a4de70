"""``arcpolicy plan`` end to end: scan a generated fleet with built-ins, write plan.json and reports."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rego.opa_double import OpaServerTestDouble
from rich.console import Console

from engine.cli.main import main
from engine.cli.stage_progress import StageDisplay
from engine.inventory.generator import write_generated_fleet
from policies import LIBRARY
from remediation.plan.io import read_plan

from .builders import AZURE_POLICY, BUILTINS, DEFENDER, FLUX_EXTENSION


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    write_generated_fleet(path, 60, seed=7)
    return path


def plan_document(path: Path) -> dict:
    """plan.json as the Plan model reads it (every reason spelled out)."""
    return read_plan(path).to_json()


def policies() -> list[str]:
    return [argument for name in (DEFENDER, AZURE_POLICY, FLUX_EXTENSION) for argument in ("--policy", str(BUILTINS / name))]


def test_plan_writes_plan_json_and_reports(fleet_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan.json"
    status = main(["plan", "--inventory", str(fleet_file), *policies(), "-o", str(out), "--report",
                   str(tmp_path / "report.html"), "--markdown", str(tmp_path / "report.md"), "--workers", "1"])
    assert status == 0
    plan = plan_document(out)
    operations = plan["operations"]
    assert operations and plan["waves"] and plan["inventoryFingerprint"].startswith("sha256:")
    assert plan["policyFingerprint"].startswith("sha256:")
    definitions = {operation["reason"]["policyDefinitionId"].rsplit("/", 1)[-1] for operation in operations}
    assert len(definitions) == 3
    assert {operation["status"] for operation in operations} >= {"planned", "waiting"}
    assert not any("omsagent.secret" in key and value != "<redacted>"
                   for operation in operations
                   for key, value in ((operation.get("body") or {}).get("properties", {})
                                      .get("configurationProtectedSettings") or {}).items())
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "## arcpolicy remediation plan" in (tmp_path / "report.md").read_text()
    assert "operations" in capsys.readouterr().err


def test_bad_facts_file_is_exit_2_and_nothing_written(fleet_file: Path, tmp_path: Path, capsys) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"/subscriptions/x": {"nodeArchitectures": "arm64"}}))
    out = tmp_path / "plan.json"
    status = main(["plan", "--inventory", str(fleet_file), *policies(), "-o", str(out), "--facts", str(facts)])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "nodeArchitectures must be a list" in error[0] and str(facts) in error[0]
    assert not out.exists()


def test_facts_file_marks_arm64_clusters(fleet_file: Path, tmp_path: Path) -> None:
    arguments = ["plan", "--inventory", str(fleet_file), "--policy", str(BUILTINS / AZURE_POLICY), "--workers", "1"]
    before = tmp_path / "before.json"
    assert main([*arguments, "-o", str(before)]) == 0
    target = next(operation["clusterId"] for operation in plan_document(before)["operations"]
                  if operation["status"] == "planned")
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({target: {"nodeArchitectures": ["arm64"]}}))
    out = tmp_path / "plan.json"
    assert main([*arguments, "-o", str(out), "--facts", str(facts)]) == 0
    operations = [operation for operation in plan_document(out)["operations"]
                  if operation.get("clusterId") == target]
    assert operations and all(operation["status"] == "skipped" for operation in operations)
    assert all("arm64" in operation["reason"]["why"] for operation in operations)


def rego_plan(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The plan's inventory fingerprint and (operation id, status, definition) of each operation."""
    plan = plan_document(path)
    return plan["inventoryFingerprint"], [(operation["id"], operation["status"],
                                           operation["reason"]["policyDefinitionId"])
                                          for operation in plan["operations"]]


def test_plan_takes_the_rego_engine_and_saves_the_fleet_it_read(fleet_file: Path, tmp_path: Path) -> None:
    saved, out = tmp_path / "saved.json", tmp_path / "plan.json"
    arguments = ["plan", *("--policy", str(LIBRARY / "rego")), "--workers", "1"]
    assert main([*arguments, "-i", str(fleet_file), "--rego-engine", "regopy", "--save", str(saved),
                 "-o", str(out)]) == 0
    _, operations = rego_plan(out)
    assert {definition for _, _, definition in operations} >= {"rego:arcpolicy.flux_auto_upgrade",
                                                                "rego:arcpolicy.monitoring_required"}
    assert sorted(resource["id"] for resource in json.loads(saved.read_text())) == sorted(
        resource["id"] for resource in json.loads(fleet_file.read_text()))
    again = tmp_path / "again.json"
    assert main([*arguments, "-i", str(saved), "-o", str(again)]) == 0
    # the saved snapshot is the fleet that was planned, values under secret-looking keys masked (its inventory
    # fingerprint differs by them, e.g. a ...enableSecretRotation setting): the same operations
    assert rego_plan(again)[1] == operations


def test_plan_passes_the_opa_engine_to_its_scan(fleet_file: Path, tmp_path: Path) -> None:
    arguments = ["plan", "-i", str(fleet_file), "--policy", str(LIBRARY / "rego"), "--workers", "1"]
    embedded, remote = tmp_path / "embedded.json", tmp_path / "opa.json"
    assert main([*arguments, "-o", str(embedded)]) == 0
    with OpaServerTestDouble() as opa:
        assert main([*arguments, "--rego-engine", "opa", "--opa-url", opa.url, "-o", str(remote)]) == 0
        posts = [path for method, path in opa.requests if method == "POST"]
    assert posts  # the clusters were decided by the OPA server
    assert rego_plan(remote) == rego_plan(embedded)


def test_plan_opa_url_without_the_opa_engine_is_exit_2_and_nothing_written(fleet_file: Path, tmp_path: Path,
                                                                             capsys) -> None:
    saved, out = tmp_path / "saved.json", tmp_path / "plan.json"
    status = main(["plan", "-i", str(fleet_file), "--policy", str(LIBRARY / "rego"), "--opa-url",
                   "http://127.0.0.1:1", "--save", str(saved), "-o", str(out)])
    assert status == 2
    assert "--opa-url: only used with --rego-engine opa" in capsys.readouterr().err
    assert not out.exists() and not saved.exists()


def test_plan_reads_resource_graph_with_the_shared_options_and_saves_it(sandbox, tmp_path: Path) -> None:
    saved, out = tmp_path / "pulled.json", tmp_path / "plan.json"
    status = main(["plan", "--resource-graph", "--arm-endpoint", sandbox.url, "--ca-bundle",
                   str(sandbox.endpoint.ca_bundle), "--credential", "sandbox", "--save", str(saved),
                   "--policy", str(LIBRARY / "rego"), "--workers", "1", "-o", str(out)])
    assert status == 0
    pulled = json.loads(saved.read_text())
    served = [resource["id"].lower() for resource in json.loads(sandbox.fleet_file.read_text())]
    # and, as in a real tenant, the subscriptions and resource groups the fleet lives in (resourcecontainers)
    containers = {scope.lower() for resource_id in served
                  for scope in ("/".join(resource_id.split("/")[:3]), "/".join(resource_id.split("/")[:5]))}
    assert {resource["id"].lower() for resource in pulled} == {*served, *containers}
    plan = json.loads(out.read_text())
    assert plan["inventorySource"] == "resource-graph" and plan["operations"]


def test_plan_shows_its_stages_off_a_terminal_one_line_as_each_ends(fleet_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan.json"
    assert main(["plan", "-i", str(fleet_file), *policies(), "-o", str(out), "--markdown", str(tmp_path / "p.md"),
                 "--workers", "1"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if " done in " in line]
    assert [line.split()[1] for line in lines] == ["scan", "expansion", "graph", "waves", "writing"]
    assert lines[0].startswith("plan: scan 60/60 clusters") and lines[-1].startswith("plan: writing 2/2 files")


def test_a_long_stage_reports_every_few_seconds_off_a_terminal_and_live_on_one() -> None:
    now = [0.0]
    plain = Console(file=io.StringIO(), force_terminal=False, width=200)
    with StageDisplay(plain, clock=lambda: now[0]) as progress:
        for done in range(0, 1001, 100):
            progress("expansion", done, 1000)
            now[0] += 2.0
    lines = plain.file.getvalue().splitlines()
    assert lines == ["plan: expansion 300/1000 records 6s so far", "plan: expansion 600/1000 records 12s so far",
                     "plan: expansion 900/1000 records 18s so far", "plan: expansion 1000/1000 records done in 20.0s"]
    live = Console(file=io.StringIO(), force_terminal=True, width=100)
    with StageDisplay(live) as progress:
        progress("graph", 5, 10)
    assert "graph" in live.file.getvalue()


def test_plan_takes_management_group_scopes_like_scan(fleet_file: Path, tmp_path: Path, capsys) -> None:
    """An assignment at a management group plans the same writes as at tenant scope once --management-groups
    places the fleet's subscriptions in that group."""
    definition = json.loads((BUILTINS / AZURE_POLICY).read_text())
    subscriptions = {resource["id"].split("/")[2] for resource in json.loads(fleet_file.read_text())}
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({subscription: ["mg-retail"] for subscription in subscriptions}))
    plans = {}
    for name, scope in (("tenant", "/"), ("group", "/providers/Microsoft.Management/managementGroups/mg-retail")):
        assignment = tmp_path / f"{name}.json"
        assignment.write_text(json.dumps({
            "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/policyAssignments/monitoring",
            "name": "monitoring", "type": "Microsoft.Authorization/policyAssignments",
            "properties": {"policyDefinitionId": definition["id"], "scope": scope}}))
        out = tmp_path / f"{name}-plan.json"
        assert main(["plan", "-i", str(fleet_file), "-p", str(BUILTINS / AZURE_POLICY), "-a", str(assignment),
                     "--management-groups", str(groups), "-o", str(out)]) == 0, capsys.readouterr().err
        plans[name] = {operation["resourceId"] for operation in plan_document(out)["operations"]}
    assert plans["group"] == plans["tenant"] and plans["group"]
