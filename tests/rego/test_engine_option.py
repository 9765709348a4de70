"""``--rego-engine regorus|regopy|opa`` on scan, plan, apply and schedule, and ``scan.rego_engine`` in the config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opa_double import OpaServerTestDouble

from engine.cli.main import main
from engine.inventory.generator import write_generated_fleet
from policies import LIBRARY


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    write_generated_fleet(path, 12, seed=5)
    return path


def write_config(directory: Path, fleet: Path, engine: str) -> Path:
    config = directory / "arcpolicy.toml"
    config.write_text(f'[scan]\ninventory = "{fleet}"\npolicies = ["{LIBRARY / "rego"}"]\nrego_engine = "{engine}"\n'
                      f'[[outputs]]\nformat = "json"\npath = "states.json"\n')
    return config


def decisions(path: Path) -> list[tuple[str, str, str, list[str]]]:
    return sorted((state["resourceId"], state["policyDefinitionName"], state["complianceState"],
                   [reason["message"] for reason in state.get("reasons", [])])
                  for state in json.loads(path.read_text())["value"])


def stopped_opa_url() -> str:
    with OpaServerTestDouble() as opa:
        return opa.url  # stopped on leaving the block: nothing listens there any more


def test_the_config_file_chooses_the_engine_and_both_embedded_engines_agree(fleet: Path, tmp_path: Path) -> None:
    answers = {}
    for engine in ("regorus", "regopy"):
        directory = tmp_path / engine
        directory.mkdir()
        assert main(["scan", "--config", str(write_config(directory, fleet, engine))]) == 1
        answers[engine] = decisions(directory / "states.json")
    assert answers["regorus"] == answers["regopy"] and answers["regorus"]


def test_an_unknown_engine_in_the_config_file_is_exit_2_naming_the_key(fleet: Path, tmp_path: Path, capsys) -> None:
    assert main(["scan", "--config", str(write_config(tmp_path, fleet, "rego-cpp"))]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "scan.rego_engine" in line and "rego-cpp" in line
    assert not (tmp_path / "states.json").exists()


def test_the_command_line_overrides_the_config_files_engine(fleet: Path, tmp_path: Path, capsys) -> None:
    url = stopped_opa_url()
    config = write_config(tmp_path, fleet, "regorus")
    assert main(["scan", "--config", str(config), "--rego-engine", "opa", "--opa-url", url]) == 4
    assert f"cannot reach OPA server {url}" in capsys.readouterr().err


def test_schedule_takes_the_engine(fleet: Path, tmp_path: Path, capsys) -> None:
    url = stopped_opa_url()
    config = write_config(tmp_path, fleet, "regorus")
    assert main(["schedule", "--config", str(config), "--once", "--rego-engine", "opa", "--opa-url", url]) == 4
    assert f"cannot reach OPA server {url}" in capsys.readouterr().err
    assert main(["schedule", "--config", str(config), "--once", "--rego-engine", "regopy"]) == 1
    assert decisions(tmp_path / "states.json")


def test_apply_takes_the_engine_for_its_policies(fleet: Path, tmp_path: Path, capsys) -> None:
    plan = tmp_path / "plan.json"
    assert main(["plan", "-i", str(fleet), "--policy", str(LIBRARY / "rego"), "--workers", "1", "-o", str(plan)]) == 0
    url = stopped_opa_url()
    status = main(["apply", str(plan), "--arm-endpoint", "https://127.0.0.1:9", "--policy", str(LIBRARY / "rego"),
                   "--rego-engine", "opa", "--opa-url", url])
    assert status == 4
    assert f"cannot reach OPA server {url}" in capsys.readouterr().err
    assert not Path(f"{plan}.journal.sqlite").exists()  # refused before anything was journaled
