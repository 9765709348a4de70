"""The example policy repository's CI workflow: its arcpolicy commands run as written, in a copy of the repository,
against a stored baseline; the what-if it posts is the Markdown those commands write."""

from __future__ import annotations

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
    """A copy of the example repository as the working directory, and a store whose latest scan used its policies,
    in ``ARCPOLICY_STORE`` for every step (the specs must not record their scans there)."""
    repo = tmp_path / "policy-repo"
    shutil.copytree(EXAMPLE, repo)
    write_snapshot(tmp_path / "fleet.json", generate_fleet(30, seed=3))
    store = str(tmp_path / "history.db")
    assert main(["scan", "-i", str(tmp_path / "fleet.json"), "-p", str(repo / "policies"), "--store", store, "-o",
                 str(tmp_path / "states.json")]) == 1
    monkeypatch.setenv("ARCPOLICY_STORE", store)
    monkeypatch.chdir(repo)
    return repo


def test_the_workflow_runs_the_unit_tests_the_specs_and_the_whatif(policy_repo: Path, capsys) -> None:
    lines = arcpolicy_lines()
    assert list(lines) == ["Rego unit tests", "Specs", "What-if against the latest stored scan"]
    assert lines["What-if against the latest stored scan"] in (EXAMPLE / "README.md").read_text()  # as documented
    for name, line in lines.items():
        assert main(shlex.split(line)[1:]) == 0, f"{name}: {line}"
    comment = (policy_repo / "whatif.md").read_text()
    assert comment.startswith("## arcpolicy what-if")
    assert "0 records become non-compliant" in comment
    whatif = next(step for step in steps() if step.get("id") == "whatif")
    assert whatif["env"] == {"ARCPOLICY_STORE": "${{ secrets.ARCPOLICY_STORE }}"}
    posted = next(step for step in steps() if "gh pr comment" in str(step.get("run", "")))
    assert "--body-file whatif.md" in posted["run"] and "--edit-last --create-if-none" in posted["run"]
    capsys.readouterr()


def test_a_policy_added_in_the_pull_request_fails_the_job_and_is_named(policy_repo: Path, capsys) -> None:
    for name in ("monitoring_required.rego", "lib"):
        source = REPO / "policies" / "rego" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, policy_repo / "policies" / name)
    line = arcpolicy_lines()["What-if against the latest stored scan"]
    assert main(shlex.split(line)[1:]) == 1  # the step records 1; the last step fails the job with it
    comment = (policy_repo / "whatif.md").read_text()
    assert "Definitions added: `rego:arcpolicy.monitoring_required" in comment
    assert "### Newly non-compliant: `arcpolicy.monitoring_required`" in comment
    failing = steps()[-1]
    assert failing["if"] == "steps.whatif.outputs.status != '0'"
    capsys.readouterr()
