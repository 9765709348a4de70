"""``arcpolicy scan`` with --config, repeatable -o, --store/--keep and --log-format, run in-process on a
generated fleet with the shipped Azure Policy library."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.history import HistoryStore, ScanMetadata
from engine.history.store import record_key
from engine.inventory.generator import write_generated_fleet

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "azure"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.json"
    write_generated_fleet(path, 12, seed=11)
    return path


def write_config(directory: Path, body: str) -> Path:
    path = directory / "arcpolicy.toml"
    path.write_text(body)
    return path


CONFIG = f"""
[scan]
inventory = "fleet.json"
policies = ["{POLICIES}"]
fail_on = "never"

[[outputs]]
format = "junit"
path = "out/results.xml"

[[outputs]]
format = "json"
path = "out/states.json"

[store]
url = "history.db"
keep = "90d"
"""


def test_store_records_the_scan_and_every_state(fleet: Path, tmp_path: Path, store_url: str, capsys):
    out = tmp_path / "states.json"
    status = main(["scan", "-i", str(fleet), "-p", str(POLICIES), "--store", store_url, "-o", str(out)])
    assert status == 1  # the generated fleet has non-compliant clusters
    assert capsys.readouterr().out == ""  # -o given: no records on stdout
    written = json.loads(out.read_text())["value"]
    with HistoryStore(store_url) as history:
        [scan] = history.scans()
        stored = history.states(scan.scan_id)
    assert scan.inventory_source == str(fleet) and scan.policy_fingerprint.startswith("sha256:")
    assert scan.total == len(written) == len(stored) and scan.non_compliant > 0
    assert [state.to_json() for state in stored] == written


def test_repeated_outputs_pick_their_format_by_suffix_or_prefix(fleet: Path, tmp_path: Path):
    junit, table, report = tmp_path / "results.xml", tmp_path / "states.txt", tmp_path / "report.html"
    status = main(["scan", "-i", str(fleet), "-p", str(POLICIES), "-o", str(junit), "-o", f"csv:{table}",
                   "-o", str(report)])
    assert status == 1
    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites" and len(suites) == 3  # a suite per shipped policy
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert rows and {"NonCompliant", "Compliant"} <= {row["complianceState"] for row in rows}
    assert report.read_text().lstrip().lower().startswith("<!doctype html>")


def test_config_reproduces_the_scan(fleet: Path, tmp_path: Path):
    config = write_config(tmp_path, CONFIG)
    direct = tmp_path / "direct.json"
    assert main(["scan", "-i", str(fleet), "-p", str(POLICIES), "--format", "json", "-o", str(direct)]) == 1
    assert main(["scan", "--config", str(config)]) == 0  # fail_on = "never"
    assert main(["scan", "--config", str(config)]) == 0
    expected = [record_key_of(state) for state in json.loads(direct.read_text())["value"]]
    assert [record_key_of(state) for state in json.loads((tmp_path / "out/states.json").read_text())["value"]] \
        == expected
    assert ET.parse(tmp_path / "out/results.xml").getroot().tag == "testsuites"
    with HistoryStore(str(tmp_path / "history.db")) as history:
        scans = history.scans()
        assert len(scans) == 2 and len({scan.policy_fingerprint for scan in scans}) == 1
        for scan in scans:
            assert [(record_key(state), state.compliance_state.value) for state in history.states(scan.scan_id)] \
                == expected


def record_key_of(state: dict) -> tuple[str, str]:
    return (f"{state['resourceId'].lower()}|{state['policyAssignmentId'].lower()}|"
            f"{(state.get('policyDefinitionReferenceId') or '').lower()}", state["complianceState"])


def test_command_line_options_override_the_config(fleet: Path, tmp_path: Path):
    config = write_config(tmp_path, CONFIG)
    other_fleet = tmp_path / "other.json"
    write_generated_fleet(other_fleet, 3, seed=1)
    other_store, states = tmp_path / "other.db", tmp_path / "mine.json"
    status = main(["scan", "--config", str(config), "-i", str(other_fleet), "--store", str(other_store),
                   "-o", str(states), "--fail-on", "non-compliant"])
    assert status == 1  # --fail-on beat fail_on = "never"
    assert not (tmp_path / "out").exists() and not (tmp_path / "history.db").exists()
    clusters = {state["resourceId"].split("/providers/Microsoft.KubernetesConfiguration")[0]
                for state in json.loads(states.read_text())["value"]}
    assert len(clusters) <= 3
    with HistoryStore(str(other_store)) as history:
        assert [scan.inventory_source for scan in history.scans()] == [str(other_fleet)]


def test_keep_prunes_scans_past_the_retention(fleet: Path, tmp_path: Path):
    store = str(tmp_path / "history.db")
    with HistoryStore(store) as history:
        history.record_scan(ScanMetadata(scan_id="ancient", started_at=datetime.now(UTC) - timedelta(days=120)), [])
    assert main(["scan", "-i", str(fleet), "-p", str(POLICIES), "--store", store, "--keep", "90d",
                 "--fail-on", "never", "-o", str(tmp_path / "s.json")]) == 0
    with HistoryStore(store) as history:
        assert [scan.scan_id for scan in history.scans()] != ["ancient"] and len(history.scans()) == 1


def test_store_from_the_environment(fleet: Path, tmp_path: Path, monkeypatch):
    store = tmp_path / "env.db"
    monkeypatch.setenv("ARCPOLICY_STORE", str(store))
    assert main(["scan", "-i", str(fleet), "-p", str(POLICIES), "--fail-on", "never", "--format", "csv"]) == 0
    with HistoryStore(str(store)) as history:
        assert len(history.scans()) == 1


def test_json_logs_carry_the_scan_id_on_every_line(fleet: Path, tmp_path: Path, capsys):
    store = str(tmp_path / "history.db")
    assert main(["scan", "-i", str(fleet), "-p", str(POLICIES), "--store", store, "--log-format", "json",
                 "-o", str(tmp_path / "s.json")]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    with HistoryStore(store) as history:
        [scan] = history.scans()
    messages = [line["message"] for line in lines]
    assert messages[0] == "scan started" and messages[-1].startswith("scan finished: 12 clusters, ")
    finished = lines[-1]
    assert finished["records"] == scan.total and finished["states"]["NonCompliant"] == scan.non_compliant
    assert (finished["resources"], finished["nonCompliantResources"]) == (scan.resources, scan.non_compliant_resources)
    assert f"{scan.total} policy states ({scan.compliant} compliant, {scan.non_compliant} non-compliant" in finished[
        "message"]
    assert any(message.startswith("recorded the scan") for message in messages)
    assert {line["scanId"] for line in lines} == {scan.scan_id}


@pytest.mark.parametrize(("body", "message"), [
    ("[scan]\ninventroy = 'fleet.json'\n", "scan.inventroy: Extra inputs are not permitted"),
    ("[[outputs]]\nformat = 'pdf'\npath = 'x.pdf'\n", "outputs[0].format"),
    ("[store]\nkeep = 'forever'\n", "store.keep"),
    ("[scan\n", "not valid TOML"),
    ("[scan]\ninventory = 'fleet.json'\n", "--policy"),
    ("[scan]\ninventory = 'fleet\xe9.json'\n", "arcpolicy.toml: byte 25: not UTF-8 text"),  # Latin-1: exit 3 before
    ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "arcpolicy.toml: arrays or tables nested more than 64"),
    ("x = " + "[" * 65 + "]" * 65 + "\n", "arcpolicy.toml: arrays or tables nested more than 64"),
], ids=["unknown-key", "unknown-format", "bad-duration", "bad-toml", "no-policy", "latin-1", "100000-deep",
        "65-deep"])
def test_bad_config_exits_2_with_one_line_and_writes_nothing(fleet: Path, tmp_path: Path, capsys, body: str,
                                                             message: str):
    config = tmp_path / "arcpolicy.toml"
    config.write_bytes(body.encode("latin-1" if "\xe9" in body else "utf-8"))
    assert main(["scan", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["arcpolicy.toml", "fleet.json"]


def test_missing_config_and_unknown_output_suffix_exit_2(fleet: Path, tmp_path: Path, capsys):
    assert main(["scan", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err
    assert main(["scan", "-i", str(fleet), "-p", str(POLICIES), "-o", str(tmp_path / "a.json"),
                 "-o", str(tmp_path / "states.bin")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert not (tmp_path / "a.json").exists()
