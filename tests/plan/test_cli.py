"""``arcpolicy plan`` end to end: scan a generated fleet with built-ins, write plan.json and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet

from .builders import AZURE_POLICY, BUILTINS, DEFENDER, FLUX_EXTENSION


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    write_generated_fleet(path, 60, seed=7)
    return path


def policies() -> list[str]:
    return [argument for name in (DEFENDER, AZURE_POLICY, FLUX_EXTENSION) for argument in ("--policy", str(BUILTINS / name))]


def test_plan_writes_plan_json_and_reports(fleet_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan.json"
    status = main(["plan", "--inventory", str(fleet_file), *policies(), "-o", str(out), "--report",
                   str(tmp_path / "report.html"), "--markdown", str(tmp_path / "report.md"), "--workers", "1"])
    assert status == 0
    plan = json.loads(out.read_text())
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
    target = next(operation["clusterId"] for operation in json.loads(before.read_text())["operations"]
                  if operation["status"] == "planned")
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({target: {"nodeArchitectures": ["arm64"]}}))
    out = tmp_path / "plan.json"
    assert main([*arguments, "-o", str(out), "--facts", str(facts)]) == 0
    operations = [operation for operation in json.loads(out.read_text())["operations"]
                  if operation.get("clusterId") == target]
    assert operations and all(operation["status"] == "skipped" for operation in operations)
    assert all("arm64" in operation["reason"]["why"] for operation in operations)
