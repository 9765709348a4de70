"""The example policy repository's CI workflow: its arcpolicy commands run as written, in a copy of the repository,
against a baseline the scheduled scan recorded (arcpolicy.toml: policies and assignment files); the what-if it
posts is the Markdown those commands write, and its answers are those of full scans."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cli.main import main
from engine.inventory import write_snapshot
from engine.inventory.generator import generate_fleet

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "policy-repo"
WORKFLOW = EXAMPLE / ".github" / "workflows" / "policy-preview.yml"


def steps() -> list[dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text())
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert triggers["pull_request"]["paths"]  # a pull-request workflow
    assert document["permissions"]["pull-requests"] == "write"  # it may comment
    return document["jobs"]["preview"]["steps"]


def arcpolicy_lines() -> dict[str, str]:
    """Each step's arcpolicy command line, as written (a shell `|| status=$?` suffix dropped)."""
    lines = {}
    for step in steps():
        for line in str(step.get("run", "")).splitlines():
            if line.strip().startswith("arcpolicy "):
                lines[step["name"]] = line.strip().split(" || ")[0]
    return lines


@pytest.fixture
def policy_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example repository as the working directory, and a store whose latest scan is the scheduled
    scan's (its config: the repository's policies and assignment files; the fleet from a snapshot instead of
    Resource Graph), in ``ARCPOLICY_STORE`` for every step (the specs must not record their scans there)."""
    repo = tmp_path / "policy-repo"
    shutil.copytree(EXAMPLE, repo)
    write_snapshot(tmp_path / "fleet.json", generate_fleet(30, seed=3))
    store = str(tmp_path / "history.db")
    assert main(["scan", "--config", str(repo / "arcpolicy.toml"), "-i", str(tmp_path / "fleet.json"), "--store",
                 store, "-o", str(tmp_path / "states.json")]) == 1
    monkeypatch.setenv("ARCPOLICY_STORE", store)
    monkeypatch.chdir(repo)
    return repo


def full_scan(repo: Path, output: Path) -> set[tuple[str, str]]:
    """The non-compliant (cluster, assignment) pairs of a full scan of the fleet with the repository as it is."""
    main(["scan", "--config", str(repo / "arcpolicy.toml"), "-i", str(repo.parent / "fleet.json"), "-o", str(output)])
    return {(state["resourceId"].lower(), state["policyAssignmentName"])
            for state in json.loads(output.read_text())["value"] if state["complianceState"] == "NonCompliant"}


def run_whatif() -> tuple[int, dict]:
    status = main(shlex.split(arcpolicy_lines()["What-if against the latest stored scan"])[1:])
    return status, json.loads(Path("whatif.json").read_text())


def test_the_workflow_runs_the_unit_tests_the_specs_and_the_whatif(policy_repo: Path, capsys) -> None:
    lines = arcpolicy_lines()
    assert list(lines) == ["Rego unit tests", "Specs", "What-if against the latest stored scan"]
    assert lines["What-if against the latest stored scan"] in (EXAMPLE / "README.md").read_text()  # as documented
    for name, line in lines.items():
        assert main(shlex.split(line)[1:]) == 0, f"{name}: {line}"
    comment = (policy_repo / "whatif.md").read_text()
    assert comment.startswith("## arcpolicy what-if")
    assert "0 records become non-compliant" in comment and "note:" not in comment
    report = json.loads((policy_repo / "whatif.json").read_text())
    assert report["assignmentSets"] | {"onlyInBaseline": [], "onlyInWhatif": []} == report["assignmentSets"]
    assert (report["assignmentSets"]["baseline"], report["assignmentSets"]["compared"]) == (2, 2)
    assert {impact["assignmentName"] for impact in report["assignments"]} == {"flux-stable", "flux-locked-down"}
    whatif = next(step for step in steps() if step.get("id") == "whatif")
    assert whatif["env"] == {"ARCPOLICY_STORE": "${{ secrets.ARCPOLICY_STORE }}"}
    posted = next(step for step in steps() if "gh pr comment" in str(step.get("run", "")))
    assert "--body-file whatif.md" in posted["run"] and "--edit-last --create-if-none" in posted["run"]
    capsys.readouterr()


def test_a_policy_assigned_in_the_pull_request_fails_the_job_and_is_named(policy_repo: Path, capsys) -> None:
    for name in ("monitoring_required.rego", "lib"):
        source = REPO / "policies" / "rego" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, policy_repo / "policies" / name)
    assignments = policy_repo / "assignments" / "stores.json"
    assignments.write_text(json.dumps([*json.loads(assignments.read_text()), {
        "id": "/providers/Microsoft.Authorization/policyAssignments/monitoring", "name": "monitoring",
        "type": "Microsoft.Authorization/policyAssignments",
        "properties": {"scope": "/", "policyDefinitionId": "rego:arcpolicy.monitoring_required"}}]))
    status, report = run_whatif()
    assert status == 1  # the step records 1; the last step fails the job with it
    comment = (policy_repo / "whatif.md").read_text()
    assert "Definitions added: `rego:arcpolicy.monitoring_required" in comment
    assert "### Newly non-compliant: `monitoring`" in comment
    assert [item["assignmentName"] for item in report["assignmentSets"]["onlyInWhatif"]] == ["monitoring"]
    assert "note: The assignment sets differ" in comment  # said: the baseline did not assign it
    newly = {(change["resourceId"].lower(), impact["assignmentName"]) for impact in report["assignments"]
             for change in impact["newlyNonCompliant"]}
    assert newly == full_scan(policy_repo, policy_repo.parent / "after.json") - full_scan_of_baseline(policy_repo)
    failing = steps()[-1]
    assert failing["if"] == "steps.whatif.outputs.status != '0'"
    capsys.readouterr()


def full_scan_of_baseline(repo: Path) -> set[tuple[str, str]]:
    return {(state["resourceId"].lower(), state["policyAssignmentName"])
            for state in json.loads((repo.parent / "states.json").read_text())["value"]
            if state["complianceState"] == "NonCompliant"}


def test_an_assignment_changed_in_the_pull_request_gives_what_full_scans_give(policy_repo: Path, capsys) -> None:
    """Issue 22 item 4: the pull request changes a parameter in assignments/; the what-if, run as written, reads
    the changed assignment (through arcpolicy.toml) and reports what a full scan after the change adds."""
    assignments = policy_repo / "assignments" / "stores.json"
    documents = json.loads(assignments.read_text())
    documents[0]["properties"]["parameters"]["releaseTrain"]["value"] = "Preview"
    assignments.write_text(json.dumps(documents))
    status, report = run_whatif()
    newly = {(change["resourceId"].lower(), impact["assignmentName"]) for impact in report["assignments"]
             for change in impact["newlyNonCompliant"]}
    expected = full_scan(policy_repo, policy_repo.parent / "after.json") - full_scan_of_baseline(policy_repo)
    assert newly == expected and expected and status == 1
    assert [item["assignmentName"] for item in report["assignmentSets"]["rewritten"]] == ["flux-stable"]
    assert report["assignmentSets"]["reevaluated"] == 1  # flux-locked-down's verdicts are the baseline's
    assert "Assignments changed (definition, parameters or scope): `flux-stable`." in (
        policy_repo / "whatif.md").read_text()
    capsys.readouterr()


def test_without_assignment_files_the_whatif_takes_the_baselines_and_says_when_sets_differ(policy_repo: Path,
                                                                                            capsys) -> None:
    """The workflow's old command (no assignment files) reported every assignment as new or removed; now it
    compares the baseline's own assignments. Given a different set, the report says the sets differ."""
    assert main(["whatif", "--policy", "policies", "--baseline", "latest", "-o", "whatif.json", "-o",
                 "whatif.md"]) == 0
    report = json.loads(Path("whatif.json").read_text())
    assert report["assignmentSets"]["source"] == "baseline" and report["assignmentSets"]["reevaluated"] == 0
    assert {impact["assignmentName"] for impact in report["assignments"]} == {"flux-stable", "flux-locked-down"}
    assert "note:" not in Path("whatif.md").read_text()
    capsys.readouterr()
    only_one = Path("one.json")
    only_one.write_text(json.dumps(json.loads(Path("assignments/stores.json").read_text())[:1]))
    assert main(["whatif", "--policy", "policies", "-a", str(only_one), "-o", "whatif.md"]) == 0
    assert ("note: The assignment sets differ: the baseline scan evaluated 2 assignments, this what-if 1 (the "
            "assignments given): 1 only in the baseline (`flux-locked-down`)") in " ".join(
        Path("whatif.md").read_text().split())
    assert "warning: The assignment sets differ" in capsys.readouterr().err
