"""``schedule --metrics-port`` / ``--metrics-file``: a real scheduler process scanning the sandbox through Resource
Graph (two queries throttled with 429, one held 3 s so that a scan is seen running) and remediating; its
``/metrics`` scraped during and after the run, parsed with prometheus-client's text-format parser, and every figure
checked against what the store, the sandbox and apply.json say happened."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.cli.main import main
from engine.history import HistoryStore
from engine.models.results import ComplianceState

REPO = Path(__file__).resolve().parents[2]
DINE = REPO / ".." / "shared" / "azure-policy-builtins" / "ArcPolicyExtension_DINE.json"
THROTTLED = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels (the parser refuses text that is not the format)."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(response.read().decode())


def once_a_minute_soon() -> str:
    """A six-field cron firing once a minute, a few seconds from now: one run within the test."""
    return f"{(datetime.now(UTC).second + 3) % 60} * * * * *"


@pytest.fixture
def scheduler(sandbox_factory, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int, object]]:
    running = sandbox_factory(provisioning_seconds=0)
    running.control.inject_fault(status=429, retryAfter=0, count=THROTTLED, target="graph")
    running.control.inject_fault(delaySeconds=3, count=1, target="graph")
    (tmp_path / "arcpolicy.toml").write_text(f"""
[scan]
arm_endpoint = "{running.url}"
ca_bundle = "{running.endpoint.ca_bundle}"
credential = "sandbox"
policies = ["{DINE}"]
workers = 1

[store]
url = "history.db"

[schedule]
health_file = "health.json"
work_dir = "runs"
remediate = true
metrics_file = "arcpolicy.prom"

[logging]
format = "json"
""")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "engine", "schedule", "--config", "arcpolicy.toml", "--cron",
                                once_a_minute_soon(), "--metrics-port", str(port), "--metrics-address", "127.0.0.1"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ARCPOLICY_STORE": ""})
    yield process, port, running
    if process.poll() is None:
        process.kill()
        process.wait()


def health_when(path: Path, process: subprocess.Popen, condition) -> dict:
    deadline = time.monotonic() + 120  # bounds a broken run only
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if path.exists():
            health = json.loads(path.read_text())
            if condition(health):
                return health
        time.sleep(0.05)
    raise AssertionError(f"the health file never satisfied the condition: {path.read_text()}")


def test_a_scrape_during_a_scheduled_run_carries_the_figures(scheduler, tmp_path: Path) -> None:
    process, port, sandbox = scheduler
    started = time.time()
    health_when(tmp_path / "health.json", process, lambda health: health["state"] == "running")
    during = scrape(port)  # the Resource Graph query is held 3 s by the sandbox: the scan is still running
    assert value(during, "arcpolicy_scan_running") == 1
    assert value(during, "arcpolicy_scans_total", result="success") == 0
    assert value(during, "arcpolicy_build_info", version=__import__("engine").__version__) == 1

    health = health_when(tmp_path / "health.json", process, lambda health: health["runs"] == 1
                         and health["state"] == "waiting")
    after = scrape(port)
    assert health["failures"] == 0
    assert value(after, "arcpolicy_scan_running") == 0
    assert value(after, "arcpolicy_scans_total", result="success") == 1
    assert value(after, "arcpolicy_scans_total", result="failure") == 0
    assert value(after, "arcpolicy_scan_duration_seconds_count") == 1
    assert value(after, "arcpolicy_scan_duration_seconds_sum") > 0
    assert started <= value(after, "arcpolicy_last_success_timestamp_seconds") <= time.time()
    assert value(after, "arcpolicy_next_scan_timestamp_seconds") == datetime.fromisoformat(
        health["next_run"]).timestamp()

    with HistoryStore(str(tmp_path / "history.db")) as history:
        [scan] = history.scans()
        states = history.states(scan.scan_id)
        clusters = sum(1 for _ in history.inventory(scan.scan_id).clusters())
    assert value(after, "arcpolicy_clusters") == clusters > 0
    for state, count in ((ComplianceState.COMPLIANT, scan.compliant), (ComplianceState.NON_COMPLIANT,
                         scan.non_compliant), (ComplianceState.EXEMPT, scan.exempt), (ComplianceState.ERROR, scan.error)):
        assert value(after, "arcpolicy_policy_states", state=state.value) == count
    assert value(after, "arcpolicy_resources", state="non_compliant") == scan.non_compliant_resources
    assert value(after, "arcpolicy_resources", state="compliant") == scan.resources - scan.non_compliant_resources
    assert value(after, "arcpolicy_resource_compliance_ratio") == pytest.approx(
        (scan.resources - scan.non_compliant_resources) / scan.resources)
    by_assignment: dict[str, list[ComplianceState]] = {}
    for state in states:
        by_assignment.setdefault(state.policy_assignment_name, []).append(state.compliance_state)
    ratios = {dict(labels)["assignment"]: figure for (name, labels), figure in after.items()
              if name == "arcpolicy_compliance_ratio"}
    assert ratios.keys() == by_assignment.keys()
    for assignment, recorded in by_assignment.items():
        compliant = sum(state in (ComplianceState.COMPLIANT, ComplianceState.EXEMPT, ComplianceState.UNKNOWN)
                        for state in recorded)
        assert ratios[assignment] == pytest.approx(compliant / len(recorded))
        assert compliant < len(recorded)  # the fleet lacks the extension the DINE policy deploys

    stats = sandbox.control.stats()
    assert value(after, "arcpolicy_resource_graph_throttled_total") == THROTTLED
    assert value(after, "arcpolicy_resource_graph_queries_total") == stats["queries"] + THROTTLED
    assert value(after, "arcpolicy_resource_graph_rows_total") == stats["rows"]
    [run] = list((tmp_path / "runs").iterdir())
    applied = json.loads((run / "apply.json").read_text())
    assert value(after, "arcpolicy_apply_writes_total") == applied["writes"] == stats["writes"] > 0
    for state, count in applied["counts"].items():
        assert value(after, "arcpolicy_apply_operations_total", state=state) == count

    # node-exporter's textfile: the same figures, written after the run
    written = parse((tmp_path / "arcpolicy.prom").read_text())
    for name, labels in (("arcpolicy_policy_states", {"state": "NonCompliant"}), ("arcpolicy_apply_writes_total", {}),
                         ("arcpolicy_resource_graph_queries_total", {})):
        assert value(written, name, **labels) == value(after, name, **labels)

    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    [finished] = [json.loads(line) for line in err.splitlines()
                  if line.startswith("{") and json.loads(line)["message"].startswith("scan finished: ")]
    assert finished["states"]["NonCompliant"] == scan.non_compliant and finished["records"] == scan.total


def test_a_metrics_port_in_use_is_one_line_before_any_scan(tmp_path: Path, capsys) -> None:
    (tmp_path / "fleet.json").write_text("[]")
    config = tmp_path / "arcpolicy.toml"
    config.write_text(f'[scan]\ninventory = "fleet.json"\npolicies = ["{DINE}"]\n[store]\nurl = "history.db"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["schedule", "--config", str(config), "--once", "--metrics-port", str(port),
                     "--metrics-address", "127.0.0.1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"--metrics-port: cannot listen on 127.0.0.1:{port}" in error
    assert not (tmp_path / "history.db").exists()
