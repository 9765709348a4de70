"""``arcpolicy history``, ``diff`` and ``trend`` run in-process against a real SQLite store."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from output.records import fleet_states

from engine.cli.main import main
from engine.history import HistoryStore, ScanMetadata


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "history.db")
    now = datetime.now(UTC)
    with HistoryStore(path) as history:
        history.record_scan(ScanMetadata(scan_id="old", started_at=now - timedelta(days=200)), fleet_states())
        history.record_scan(ScanMetadata(scan_id="before", started_at=now - timedelta(hours=6)),
                            fleet_states(frozenset({"edge-2"})))
        history.record_scan(ScanMetadata(scan_id="after", started_at=now), fleet_states(frozenset({"edge-3"})))
    return path


def test_history_lists_scans_as_json(store, capsys):
    assert main(["history", "--store", store, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["value"]
    assert [scan["scanId"] for scan in listed] == ["after", "before", "old"]
    assert listed[0]["nonCompliant"] == 1 and listed[0]["total"] == 12


def test_history_keep_prunes_old_scans(store, capsys):
    assert main(["history", "--store", store, "--keep", "90d", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [scan["scanId"] for scan in json.loads(captured.out)["value"]] == ["after", "before"]
    assert "pruned 1 scans" in captured.err


def test_diff_exits_1_on_newly_non_compliant(store, capsys):
    assert main(["diff", "before", "latest", "--store", store, "--format", "json"]) == 1
    diff = json.loads(capsys.readouterr().out)
    assert [change["resourceId"].split("/")[-1] for change in diff["newlyNonCompliant"]] == ["edge-3"]
    assert [change["resourceId"].split("/")[-1] for change in diff["fixed"]] == ["edge-2"]
    assert main(["diff", "after", "after", "--store", store]) == 0


def test_trend_writes_html_and_svg(store, tmp_path: Path):
    html, svg = tmp_path / "trend.html", tmp_path / "trend.svg"
    assert main(["trend", "--store", store, "-o", str(html), "--svg", str(svg)]) == 0
    assert "Compliance over time" in html.read_text()
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_trend_as_json_carries_every_line_with_its_counts(store, tmp_path: Path, capsys):
    """``trend --format json``: the scans oldest first and each chart's lines, on stdout or to ``-o``; the same
    figures as ``history --format json``."""
    assert main(["trend", "--store", store, "--format", "json"]) == 0
    trend = json.loads(capsys.readouterr().out)
    assert [scan["scanId"] for scan in trend["scans"]] == ["old", "before", "after"]
    assert [point["percentage"] for point in trend["resources"]["points"]] == [62.5, 75.0, 75.0]
    overall = trend["overall"]["points"]
    assert [point["scanId"] for point in overall] == ["old", "before", "after"]
    assert all(point["total"] == 12 for point in overall)
    assert {point["compliant"] for point in overall} == {scan["compliant"] + scan["exempt"]
                                                         for scan in trend["scans"]}
    assert trend["byPolicy"] and all(line["points"] for line in trend["byPolicy"])
    assert trend["bySubscription"][0]["points"][-1]["scanId"] == "after"
    written = tmp_path / "trend.json"
    assert main(["trend", "--store", store, "-f", "json", "-o", str(written), "-n", "1"]) == 0
    assert [scan["scanId"] for scan in json.loads(written.read_text())["scans"]] == ["after"]
    assert not (tmp_path / "trend.html").exists()


def test_unknown_scan_and_bad_store_are_one_line_errors(store, capsys):
    assert main(["diff", "nope", "latest", "--store", store]) == 2
    assert "no scan with this id" in capsys.readouterr().err
    assert main(["history", "--store", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x"]) == 4  # server down: a service failure
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "hunter2" not in error and "cannot open the history store" in error


@pytest.mark.parametrize("command", [["history"], ["history", "--keep", "banana"], ["diff", "latest~1", "latest"],
                                     ["trend", "-o", "trend.html"]])
def test_readers_never_create_a_store_on_a_typo(tmp_path: Path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "histroy.db"
    assert main([*command, "--store", str(typo)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("arcpolicy: error: --") and error.count("\n") == 1
    assert not typo.exists() and not (tmp_path / "trend.html").exists()


def test_an_unreachable_database_server_is_a_service_failure(capsys):
    # nothing listens on port 9 of loopback: the server is down, the URL is fine
    assert main(["history", "--store", "postgresql+psycopg://arcpolicy:pw@127.0.0.1:9/none"]) == 4
    error = capsys.readouterr().err
    assert "cannot open the history store" in error and "pw@" not in error


def test_history_last_says_how_many_of_how_many(store, capsys, monkeypatch):
    """``-n`` / ``--last`` (as trend's) shows the newest N and says how many the store holds."""
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["history", "--store", store, "-n", "2"]) == 0
    assert "2 of 3 scans in" in capsys.readouterr().out
    assert main(["history", "--store", store, "--last", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 scans in" in out and " of 3 scans" not in out
    assert main(["history", "--store", store, "--limit", "1", "--format", "json"]) == 0
    assert [scan["scanId"] for scan in json.loads(capsys.readouterr().out)["value"]] == ["after"]


def test_history_and_trend_show_overall_resource_compliance(store, tmp_path: Path, capsys, monkeypatch):
    """Each scan of the fixture: 8 resources (4 clusters and their flux extensions), edge-1's extension an Error
    record, plus the clusters lacking Defender."""
    assert main(["history", "--store", store, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["value"]
    assert [(scan["resources"], scan["nonCompliantResources"], scan["resourceCompliancePercentage"])
            for scan in listed] == [(8, 2, 75.0), (8, 2, 75.0), (8, 3, 62.5)]
    monkeypatch.setenv("COLUMNS", "300")  # the table's headers unfolded
    assert main(["history", "--store", store]) == 0
    assert "resource compliance" in capsys.readouterr().out
    html = tmp_path / "trend.html"
    assert main(["trend", "--store", store, "-n", "2", "-o", str(html)]) == 0
    text = html.read_text()
    assert "overall resource compliance" in text and "62.5%" not in text and "75.0%" in text
