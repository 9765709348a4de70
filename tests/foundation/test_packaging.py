"""A plain install is usable: the shipped policies are reachable as ``builtin:`` (and ``arcpolicy policies
path``) from anywhere, the wheel ships every policy file, ``arcpolicy spec`` is the ``spec`` extra and says so
when it is missing, and ``make demo`` installs arcpolicy without its test tools."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet
from policies import LIBRARY

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch) -> Path:
    """A working directory with no policies/ folder in sight, holding a small fleet."""
    monkeypatch.chdir(tmp_path)
    write_generated_fleet(tmp_path / "fleet.json", 10, seed=2)
    return tmp_path


def scanned_definitions(capsys) -> set[str]:
    return {record["policyDefinitionId"] for record in json.loads(capsys.readouterr().out)["value"]}


def test_builtin_policies_are_found_from_any_directory(elsewhere: Path, capsys):
    assert main(["scan", "-i", "fleet.json", "-p", "builtin:azure", "--format", "json", "--workers", "1"]) == 1
    azure = scanned_definitions(capsys)
    assert azure and not any(definition.startswith("rego:") for definition in azure)
    assert main(["scan", "-i", "fleet.json", "-p", "builtin:rego/monitoring_required.rego", "-p", "builtin:rego/lib",
                 "--format", "json",
                 "--workers", "1"]) in (0, 1)
    assert scanned_definitions(capsys) == {"rego:arcpolicy.monitoring_required"}
    assert main(["scan", "-i", "fleet.json", "-p", "builtin:", "--format", "json", "--workers", "1"]) == 1
    default_set = scanned_definitions(capsys)
    assert all(definition.startswith("rego:") for definition in default_set) and len(default_set) == 6
    assert main(["test", "builtin:rego"]) == 0


def test_the_default_set_holds_each_shipped_rule_once_and_twins_together_are_warned(elsewhere: Path, capsys):
    """``builtin:`` has no rule twice (issue 22: each appeared as an Azure definition and as Rego, with identical
    counts); asking for both forms is allowed, and the scan says which definitions are one rule twice."""
    assert main(["scan", "-i", "fleet.json", "-p", "builtin:", "--workers", "1"]) == 1
    assert "identical verdicts" not in capsys.readouterr().err
    assert main(["scan", "-i", "fleet.json", "-p", "builtin:azure", "-p", "builtin:rego", "--workers", "1"]) == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if "identical verdicts" in line]
    twins = {path.stem for path in (LIBRARY / "azure").glob("*.json")}
    assert len(warnings) == len(twins) == 3
    for twin in twins:
        azure_name, rego_name = "arcpolicy-" + twin.replace("_", "-"), "arcpolicy." + twin
        assert any(f"'{azure_name}' and '{rego_name}' give identical verdicts on the same" in line
                   for line in warnings), (twin, warnings)


def test_builtin_policies_in_a_config_file_are_not_relative_to_it(elsewhere: Path, capsys):
    (elsewhere / "conf").mkdir()
    (elsewhere / "conf" / "arcpolicy.toml").write_text('[scan]\ninventory = "../fleet.json"\n'
                                                       'policies = ["builtin:azure"]\nworkers = 1\n')
    assert main(["scan", "--config", "conf/arcpolicy.toml", "--format", "json"]) == 1
    assert scanned_definitions(capsys)


def test_an_unknown_builtin_path_is_one_line_of_bad_input(elsewhere: Path, capsys):
    assert main(["scan", "-i", "fleet.json", "-p", "builtin:nope"]) == 2
    assert capsys.readouterr().err.strip() == "arcpolicy: error: builtin:nope: no such file or folder"


def test_policies_path_prints_the_shipped_library(capsys):
    assert main(["policies", "path"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == LIBRARY and (printed / "azure").is_dir() and list((printed / "rego").glob("*.rego"))


def test_the_wheel_ships_every_policy_file():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["policies"]
    files = [path.relative_to(LIBRARY).as_posix() for path in LIBRARY.rglob("*")
             if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts]
    assert files and all(any(fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name, pattern.removeprefix("**/"))
                             for pattern in patterns) for name in files)


def test_spec_is_an_extra_and_a_plain_install_has_no_test_tools():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {requirement.split(">")[0] for requirement in extras["spec"]} == {"pytest", "pytest-bdd"}
    assert "arcpolicy[spec]" in extras["test"]
    plain = {requirement.split(">")[0].split("[")[0] for requirement in PYPROJECT["project"]["dependencies"]}
    assert not plain & {"pytest", "pytest-bdd", "pytest-xdist", "hypothesis", "ruff"}


def test_the_cli_does_not_import_the_test_tools():
    check = ("import sys; from engine.cli.main import main; main(['policies', 'path']); "
             "print(sorted(name for name in ('pytest', 'pytest_bdd', 'hypothesis') if name in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, check=True)
    assert completed.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("arguments", [["spec", "--steps"], ["spec", "examples/policy-repo"]])
def test_spec_without_pytest_exits_2_naming_the_extra(arguments: list[str], capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name in ("pytest", "pytest_bdd") else real(name, *rest))
    monkeypatch.chdir(REPO)
    assert main(arguments) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "needs pytest and pytest-bdd" in line and "pip install 'arcpolicy[spec]'" in line


def dry_run_of_make(target: str) -> str:
    """What ``make TARGET`` would run, as a fresh shell would see it (not the nested make of ``make test``,
    whose MAKEFLAGS/MAKELEVEL add "Entering/Leaving directory" lines)."""
    environment = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-n", "-B", target], cwd=REPO, env=environment,
                          capture_output=True, text=True, check=True).stdout


def test_make_demo_installs_arcpolicy_without_the_test_extra():
    demo = dry_run_of_make("demo")
    installs = [line for line in demo.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [".venv/bin/python -m pip install --quiet -e ."], demo
    assert demo.splitlines()[-1] == ".venv/bin/python -m examples.demo"
    tests = dry_run_of_make("test")
    assert '.venv/bin/python -m pip install --quiet -e ".[test]"' in tests


def test_the_license_is_an_spdx_expression_so_installs_print_no_deprecation_warning():
    """setuptools >= 77 warns on every install (three times in ``make demo``) about a ``{text = ...}`` table."""
    assert PYPROJECT["project"]["license"] == "MIT"
    assert any(requirement.startswith("setuptools>=77") for requirement in PYPROJECT["build-system"]["requires"])
