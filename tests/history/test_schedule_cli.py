"""``arcpolicy schedule``: a real subprocess on a per-second cron, stopped by SIGTERM; --once; --remediate
against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.history import HistoryStore
from engine.inventory.generator import write_generated_fleet

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "azure"
DINE = REPO / ".." / "shared" / "azure-policy-builtins" / "ArcPolicyExtension_DINE.json"
EVERY_SECOND = "* * * * * *"  # six fields: seconds first


def write_config(directory: Path, inventory: str = "fleet.json") -> Path:
    config = directory / "arcpolicy.toml"
    config.write_text(f"""
[scan]
inventory = "{inventory}"
policies = ["{POLICIES}"]

[[outputs]]
format = "json"
path = "out/states.json"

[store]
url = "history.db"

[schedule]
health_file = "health.json"

[logging]
format = "json"
""")
    return config


@pytest.fixture
def scheduler_process(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def start(*arguments: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "engine", "schedule", *arguments], cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "ARCPOLICY_STORE": ""})
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def health_when(path: Path, process: subprocess.Popen, condition: Callable[[dict], bool]) -> dict:
    """Poll the health file until ``condition`` holds (the deadline only bounds a broken run)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if path.exists():
            health = json.loads(path.read_text())
            if condition(health):
                return health
        time.sleep(0.1)
    raise AssertionError(f"the health file never satisfied the condition: {path.read_text()}")


def test_scheduler_scans_every_slot_and_stops_on_sigterm(tmp_path: Path, scheduler_process):
    write_generated_fleet(tmp_path / "fleet.json", 8, seed=4)
    process = scheduler_process("--config", str(write_config(tmp_path)), "--cron", EVERY_SECOND)
    health_when(tmp_path / "health.json", process, lambda health: health["runs"] >= 2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    health = json.loads((tmp_path / "health.json").read_text())
    assert health["state"] == "stopped" and health["failures"] == 0
    with HistoryStore(str(tmp_path / "history.db")) as history:
        scans = history.scans()
        assert len(scans) == health["runs"] >= 2
        assert scans[0].scan_id == health["last_scan_id"] and history.states(scans[0].scan_id)
    assert json.loads((tmp_path / "out" / "states.json").read_text())["value"]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    runs = [line for line in lines if line["message"].startswith("scan finished: ")]
    assert {line["scanId"] for line in runs} == {scan.scan_id for scan in scans}
    by_id = {scan.scan_id: scan for scan in scans}
    assert all(line["records"] == by_id[line["scanId"]].total and line["clusters"] == 8 for line in runs)


def test_a_failed_scan_is_logged_and_the_next_slot_runs(tmp_path: Path, scheduler_process):
    process = scheduler_process("--config", str(write_config(tmp_path, inventory="later.json")),
                                "--cron", EVERY_SECOND)
    failed = health_when(tmp_path / "health.json", process, lambda health: health["failures"] >= 1)
    assert "later.json" in failed["last_error"]
    write_generated_fleet(tmp_path / "later.json", 4, seed=2)
    health_when(tmp_path / "health.json", process, lambda health: health["runs"] > health["failures"])
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert any(json.loads(line)["level"] == "error" for line in err.splitlines() if line.startswith("{"))
    with HistoryStore(str(tmp_path / "history.db")) as history:
        assert len(history.scans()) >= 1


def test_once_runs_one_scan_with_the_scan_exit_status(tmp_path: Path, capsys):
    write_generated_fleet(tmp_path / "fleet.json", 8, seed=4)
    assert main(["schedule", "--config", str(write_config(tmp_path)), "--once"]) == 1
    with HistoryStore(str(tmp_path / "history.db")) as history:
        assert len(history.scans()) == 1


def test_bad_schedule_input_exits_2_with_one_line(tmp_path: Path, capsys):
    write_generated_fleet(tmp_path / "fleet.json", 2, seed=4)
    config = write_config(tmp_path)
    assert main(["schedule", "--config", str(config)]) == 2  # no cron anywhere
    assert main(["schedule", "--config", str(config), "--cron", "every hour"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "--cron" in errors[0] and "schedule.cron" in errors[1]
    assert not (tmp_path / "history.db").exists() and not (tmp_path / "health.json").exists()


def test_remediate_plans_and_applies_after_the_scan(sandbox_factory, tmp_path: Path):
    running = sandbox_factory(provisioning_seconds=0)
    config = tmp_path / "arcpolicy.toml"
    config.write_text(f"""
[scan]
arm_endpoint = "{running.url}"
ca_bundle = "{running.endpoint.ca_bundle}"
credential = "sandbox"
policies = ["{DINE}"]
workers = 1

[store]
url = "history.db"

[schedule]
work_dir = "runs"
""")
    assert main(["schedule", "--config", str(config), "--once", "--remediate"]) == 1
    [run] = list((tmp_path / "runs").iterdir())
    plan = json.loads((run / "plan.json").read_text())
    applied = json.loads((run / "apply.json").read_text())
    assert plan["operations"] and applied["writes"] == running.control.stats()["writes"] > 0
    # everything is remediated: what the fleet held stuck mid-operation moved on, as the sandbox simulates it
    assert main(["scan", "--config", str(config)]) == 0
    with HistoryStore(str(tmp_path / "history.db")) as history:
        after, before = history.scans()
        assert after.non_compliant < before.non_compliant
