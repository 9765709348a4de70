"""A run's warnings (a resource id read twice, aliases inferred ...) are kept when the command logs: in JSON
logging they are JSON lines like every other line, under ``schedule`` as under ``scan --log-format``, and a
text log line stays one line whatever a name holds (issue 23: 12, 4)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.cli.schedule_commands import ScanJob
from engine.config import resolve_config
from engine.structured_logging import logging_configured

REPO = Path(__file__).resolve().parents[2]
NAME = "edge\nforged line\x1b[2J"
CLUSTER = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/" + NAME,
           "type": "Microsoft.Kubernetes/connectedClusters", "name": NAME, "location": "westeurope", "properties": {}}


@pytest.fixture
def twice(tmp_path: Path) -> Path:
    """A snapshot holding one cluster twice: the scan warns that the later one is kept."""
    snapshot = tmp_path / "fleet.ndjson"
    snapshot.write_text((json.dumps(CLUSTER) + "\n") * 2)
    return snapshot


def test_scan_with_json_logs_writes_its_warnings_as_json_lines(twice: Path, tmp_path: Path, capsys) -> None:
    assert main(["scan", "-i", str(twice), "-p", str(REPO / "policies" / "azure"), "--log-format", "json",
                 "-o", str(tmp_path / "states.json")]) in (0, 1)
    lines = capsys.readouterr().err.splitlines()
    assert not [line for line in lines if line.startswith("warning:")]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    warned = [record for record in records if "appears twice" in record["message"]]
    assert len(warned) == 1 and warned[0]["level"] == "warning" and warned[0]["scanId"]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_scheduled_scan_logs_its_warnings(twice: Path, tmp_path: Path, log_format: str) -> None:
    config = tmp_path / "arcpolicy.toml"
    config.write_text(f'[scan]\ninventory = "{twice}"\npolicies = ["{REPO / "policies" / "azure"}"]\n')
    stream = io.StringIO()
    with logging_configured(log_format, "info", stream):
        ScanJob(resolve_config(config, {}))("20261207T000000Z-abcdef")
    lines = stream.getvalue().splitlines()
    warned = [line for line in lines if "appears twice" in line]
    assert len(warned) == 1, lines
    if log_format == "json":
        assert json.loads(warned[0])["level"] == "warning"
    else:
        assert " WARNING " in warned[0] and "edge\\x0aforged line\\x1b[2J" in warned[0]


def test_a_text_log_line_stays_one_line(capsys) -> None:
    stream = io.StringIO()
    with logging_configured("text", "info", stream):
        logging.getLogger("engine.test").warning("cluster %s is odd", NAME)
    assert stream.getvalue().count("\n") == 1 and "\x1b" not in stream.getvalue()
