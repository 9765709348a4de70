"""Outputs never overwrite the command's inputs nor each other, refused before any work; a fleet ``--save`` d by
any command holds no secret and is its owner's only (issue 23: 9, 10)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet

REPO = Path(__file__).resolve().parents[2]
POLICIES = str(REPO / "policies")
SECRET = "s3cr3t-workspace-key-0451"


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    """A generated fleet whose extensions' protected settings hold a value."""
    path = tmp_path / "fleet.json"
    write_generated_fleet(path, 3)
    resources = json.loads(path.read_text())
    protected = [resource for resource in resources if "configurationProtectedSettings" in resource["properties"]]
    for resource in protected:
        resource["properties"]["configurationProtectedSettings"] = {"omsagent.secret.key": SECRET}
    assert protected
    path.write_text(json.dumps(resources))
    return path


def unchanged(path: Path) -> tuple[bytes, float]:
    return path.read_bytes(), path.stat().st_mtime


@pytest.mark.parametrize("arguments", [
    ["scan", "-i", "{fleet}", "-p", POLICIES, "-o", "{fleet}"],
    ["scan", "-i", "{fleet}", "-p", POLICIES, "-o", "{link}"],
    ["scan", "-i", "{fleet}", "-p", POLICIES, "-o", "{out}", "-o", "csv:{dot_out}"],
    ["scan", "-i", "{fleet}", "-p", POLICIES, "-o", "{out}", "--save", "{out}"],
    ["plan", "-i", "{fleet}", "-p", POLICIES, "-o", "{fleet}"],
    ["plan", "-i", "{fleet}", "-p", POLICIES, "-o", "{out}", "--report", "{dot_out}"],
    ["plan", "-i", "{fleet}", "-p", POLICIES, "-o", "{out}", "--save", "{fleet}"],
], ids=["scan -o input", "scan -o link to input", "scan -o twice", "scan --save = -o", "plan -o input",
        "plan --report = -o", "plan --save input"])
def test_an_output_that_is_an_input_or_another_output_is_refused_before_any_work(fleet_file: Path, tmp_path: Path,
                                                                                 arguments: list[str], capsys) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(fleet_file)
    out = tmp_path / "out.json"
    names = {"fleet": str(fleet_file), "link": str(link), "out": str(out), "dot_out": f"{tmp_path}/./out.json"}
    before = unchanged(fleet_file)
    assert main([argument.format(**names) for argument in arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("arcpolicy: error: ") and "\n" not in error
    assert "of this command" in error
    assert unchanged(fleet_file) == before and not out.exists()


def test_an_assignment_file_is_never_an_output(fleet_file: Path, tmp_path: Path, capsys) -> None:
    assignments = tmp_path / "assignments.json"
    assignments.write_text(json.dumps([]))
    assert main(["scan", "-i", str(fleet_file), "-p", POLICIES, "-a", str(assignments), "-o", str(assignments)]) == 2
    assert "is also an input of this command (--assignment)" in capsys.readouterr().err
    assert json.loads(assignments.read_text()) == []


@pytest.mark.parametrize("command", [["inventory"], ["scan", "-p", POLICIES, "-o", "{out}"],
                                     ["plan", "-p", POLICIES, "-o", "{out}"]], ids=lambda command: command[0])
def test_a_saved_fleet_blanks_protected_settings_and_is_private(fleet_file: Path, tmp_path: Path,
                                                                command: list[str]) -> None:
    saved = tmp_path / "saved.json"
    arguments = [argument.format(out=tmp_path / "out.json") for argument in command]
    assert main([*arguments, "-i", str(fleet_file), "--save", str(saved)]) in (0, 1)
    text = saved.read_text()
    assert SECRET not in text
    resources = json.loads(text)
    blanked = [resource["properties"]["configurationProtectedSettings"] for resource in resources
               if "configurationProtectedSettings" in resource["properties"]]
    assert blanked and all(settings == {"omsagent.secret.key": "***"} for settings in blanked)
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
