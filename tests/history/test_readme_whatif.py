"""The README's "Inventory history and what-if" commands, run as written in a work directory holding what they
name: a generated fleet, the shipped policies, and a changed copy of them (one definition added)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.inventory import write_snapshot
from engine.inventory.generator import generate_fleet
from engine.output.redact import blank_secrets

REPO = Path(__file__).resolve().parents[2]
ADDED = REPO / "examples" / "policy-repo" / "policies" / "flux-stable.json"


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Inventory history and what-if", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the section has a sh block"
    return [line for line in block.group(1).splitlines() if line.startswith("arcpolicy ")]


def test_the_readme_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    resources = list(generate_fleet(20, seed=9))
    write_snapshot(tmp_path / "fleet.json", resources)
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    shutil.copytree(REPO / "policies", tmp_path / "changed-policies")
    shutil.copy(ADDED, tmp_path / "changed-policies" / ADDED.name)
    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert [command.split()[1] for command in commands] == ["scan", "inventory", "scan", "whatif"]
    statuses = [main(shlex.split(command)[1:]) for command in commands]
    assert statuses == [1, 0, 1, 1]  # findings, the inventory, the same findings, a definition that finds some
    saved = {resource["id"]: resource for resource in json.loads((tmp_path / "past.json").read_text())}
    assert saved == {resource["id"]: resource for resource in blank_secrets(resources)}

    def verdicts(name: str) -> list[tuple[str, str, str]]:
        return sorted((state["resourceId"], state["policyAssignmentId"], state["complianceState"])
                      for state in json.loads((tmp_path / name).read_text())["value"])

    assert verdicts("again.json") == verdicts("states.json")
    report = json.loads((tmp_path / "whatif.json").read_text())
    assert [item["definitionId"] for item in report["definitionsAdded"]] == [
        "/providers/Microsoft.Authorization/policyDefinitions/contoso-flux-stable"]
    assert (tmp_path / "whatif.md").read_text().startswith("## arcpolicy what-if")
    capsys.readouterr()
