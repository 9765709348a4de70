"""A scheduled scan that fails because the endpoint cannot be reached is one log line with the cause (as every
command's error line), never a traceback naming arcpolicy's or the HTTP libraries' classes."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest

import engine.inventory.resource_graph as resource_graph
from engine.azure.retry import RetryPolicy
from engine.cli.main import main
from engine.cli.schedule_commands import ScanJob
from engine.config import resolve_config
from engine.scheduler import Scheduler
from engine.structured_logging import logging_configured
from tests.history.test_scheduler import FakeClock

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def _config(directory: Path, port: int) -> Path:
    config = directory / "arcpolicy.toml"
    config.write_text(f"""
[scan]
arm_endpoint = "https://127.0.0.1:{port}"
credential = "sandbox"
policies = ["{REPO / 'policies' / 'azure'}"]
""")
    return config


@pytest.fixture
def quick_retries(monkeypatch):
    """Two attempts, 10 ms apart, instead of Resource Graph's eight with backoff up to a minute."""
    monkeypatch.setattr(resource_graph, "DEFAULT_RETRY", RetryPolicy(max_attempts=2, base_delay=0.01))


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_unreachable_endpoint_is_one_log_line_with_the_cause(tmp_path, quick_retries, log_format):
    port = _closed_port()
    config = resolve_config(_config(tmp_path, port), {})
    stream = io.StringIO()
    clock = FakeClock()
    with logging_configured(log_format, "info", stream):
        status = Scheduler(ScanJob(config), "*/30 * * * *", clock=clock, max_runs=2,
                           health_file=tmp_path / "health.json").run()
    assert status.failures == 2 and status.runs == 2
    lines = stream.getvalue().splitlines()
    failed = [line for line in lines if "scheduled run failed" in line]
    assert len(failed) == 2, lines
    cause = f"cannot reach 127.0.0.1:{port}: Connection refused"
    if log_format == "json":
        records = [json.loads(line) for line in lines]  # every line one JSON object
        assert [record["level"] for record in records if "scheduled run failed" in record["message"]] == ["error"] * 2
        assert all(cause in record["message"] and "error" not in record for record in records
                   if "scheduled run failed" in record["message"])
    else:
        assert all(cause in line and " ERROR " in line for line in failed)
    text = stream.getvalue()
    assert "Traceback" not in text and "_Loopback" not in text and "ServiceRequestError" not in text
    assert cause in json.loads((tmp_path / "health.json").read_text())["last_error"]


def test_a_bug_in_a_run_is_one_line_too_and_the_scheduler_goes_on(tmp_path):
    def broken(scan_id: str) -> None:
        raise KeyError("clusters")

    stream = io.StringIO()
    with logging_configured("text", "info", stream):
        status = Scheduler(broken, "*/30 * * * *", clock=FakeClock(), max_runs=2).run()
    assert status.failures == 2
    failed = [line for line in stream.getvalue().splitlines() if "scheduled run failed" in line]
    assert len(failed) == 2 and all("internal error: KeyError: 'clusters'" in line for line in failed)
    assert "Traceback" not in stream.getvalue()


def test_scan_says_the_same_cause_in_its_one_line(tmp_path, quick_retries, capsys):
    port = _closed_port()
    assert main(["scan", "--resource-graph", "--arm-endpoint", f"https://127.0.0.1:{port}", "--credential", "sandbox",
                 "-p", str(REPO / "policies" / "azure")]) == 4
    assert capsys.readouterr().err == f"arcpolicy: error: cannot reach 127.0.0.1:{port}: Connection refused\n"
