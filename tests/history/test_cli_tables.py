"""History tables never cut what users copy: scan ids whole at any width, resources by cluster name in
``diff`` (full ids in JSON), and an empty ``diff`` says "no changes"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from output.records import extension_id, fleet_states, make_state

from engine.cli.main import main
from engine.history import HistoryStore, ScanMetadata
from engine.models.results import ComplianceState

SCAN_IDS = ("20261130T092512Z-3fa2c1", "20261130T101733Z-9be044")


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "history.db")
    now = datetime.now(UTC)
    flux = make_state(extension_id("sub-a", "edge-1", "flux"), "flux-stable", ComplianceState.NON_COMPLIANT)
    with HistoryStore(path) as history:
        history.record_scan(ScanMetadata(scan_id=SCAN_IDS[0], started_at=now - timedelta(hours=1)),
                            fleet_states(frozenset({"edge-2"})))
        history.record_scan(ScanMetadata(scan_id=SCAN_IDS[1], started_at=now),
                            [*fleet_states(frozenset({"edge-3"}), clusters=("edge-1", "edge-2", "edge-3")), flux])
    return path


@pytest.mark.parametrize("columns", [None, "80", "50"])
def test_history_shows_every_scan_id_whole_at_any_width(store: str, capsys, monkeypatch, columns: str | None):
    if columns:
        monkeypatch.setenv("COLUMNS", columns)
    else:
        monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["history", "--store", store]) == 0
    out = capsys.readouterr().out
    assert all(scan_id in out for scan_id in SCAN_IDS), out
    assert "…" not in out and "..." not in out
    if columns:
        assert max(len(line) for line in out.splitlines()) <= int(columns)


def test_diff_names_resources_by_cluster_and_keeps_full_ids_in_json(store: str, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["diff", "latest~1", "latest", "--store", store]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("newly non-compliant" in line and " edge-3 " in line for line in lines), out
    assert any("fixed" in line and " edge-2 " in line for line in lines), out
    assert any("gone resource" in line and " core-1 " in line for line in lines), out
    assert any(" edge-1/flux " in line for line in lines), out
    assert "/subscriptions/" not in out and "…" not in out and "full resource ids: --format json" in out
    assert main(["diff", "latest~1", "latest", "--store", store, "--format", "json"]) == 1
    diff = json.loads(capsys.readouterr().out)
    assert extension_id("sub-a", "edge-1", "flux") in {change["resourceId"] for change in diff["newlyNonCompliant"]}


def test_an_empty_diff_says_no_changes(store: str, capsys):
    assert main(["diff", "latest", "latest", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == f"no changes between {SCAN_IDS[1]} and {SCAN_IDS[1]}"
