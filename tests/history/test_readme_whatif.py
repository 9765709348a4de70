"""The README's "Inventory history and what-if" commands, run as written in a work directory that sees the
repository's ``examples`` (they name only files the repository has: the demo fleet, the example policy
repository's Flux definition) and the shipped library as ``builtin:``."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.output.redact import blank_secrets

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Inventory history and what-if", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the section has a sh block"
    return [line for line in block.group(1).splitlines() if line.startswith("arcpolicy ")]


def test_the_readme_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    resources = json.loads((REPO / "examples" / "demo-fleet.json").read_text())
    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert all(Path(word).exists() for command in commands for word in shlex.split(command)
               if word.startswith("examples/"))  # files the repository has
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
