"""What ``arcpolicy scan`` shows on the terminal: the per-policy summary (records only with ``--format``),
policies that applied to nothing said as such, and one line naming the files written and the scan id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.history import HistoryStore
from engine.inventory.generator import write_generated_fleet

LIBRARY = Path(__file__).resolve().parents[2] / "policies" / "azure"
NEVER_APPLIES = {"name": "never-applies", "properties": {
    "displayName": "Virtual machines only", "mode": "All",
    "policyRule": {"if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
                   "then": {"effect": "audit"}}}}


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.json"
    write_generated_fleet(path, 12, seed=3)
    return path


@pytest.fixture
def never_applies(tmp_path: Path) -> Path:
    path = tmp_path / "never.json"
    path.write_text(json.dumps(NEVER_APPLIES))
    return path


def test_the_terminal_gets_the_per_policy_summary_and_stdout_the_table_with_or_without_format(fleet: Path, capsys):
    """stdout does not depend on whether the documented default ``--format table`` is given (issue 22)."""
    assert main(["scan", "-i", str(fleet), "-p", str(LIBRARY), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert main(["scan", "-i", str(fleet), "-p", str(LIBRARY), "--workers", "1", "--format", "table"]) == 1
    scan_id = re.compile(r"^Scan \S+:")
    assert scan_id.sub("", capsys.readouterr().out) == scan_id.sub("", captured.out)  # the same, but the scan id
    assert re.match(r"Scan \S+: overall resource compliance", captured.out)
    assert "Azure Monitor container insights on" in captured.err and "non-compliant" in captured.err
    assert "NonCompliant" not in captured.err  # records are not listed on the terminal summary, only counted
    # both figures, named as Azure names them
    assert re.search(r"overall resource compliance [\d.]+% \(\d+ of \d+ resources compliant with every assignment",
                     captured.err)
    assert re.search(r"policy states [\d.]+% compliant", captured.err)


def test_with_format_the_records_go_to_stdout(fleet: Path, capsys):
    assert main(["scan", "-i", str(fleet), "-p", str(LIBRARY), "--workers", "1", "--format", "json"]) == 1
    records = json.loads(capsys.readouterr().out)["value"]
    assert {record["complianceState"] for record in records} >= {"Compliant", "NonCompliant"}


def test_a_policy_that_applies_to_nothing_is_said_so_not_counted_as_compliant(fleet: Path, never_applies: Path,
                                                                               capsys):
    assert main(["scan", "-i", str(fleet), "-p", str(never_applies), "-p", str(LIBRARY), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "nothing was applicable to 'Virtual machines only' (assignment never-applies)" in err
    assert "nothing was applicable to 'Azure Monitor" not in err  # the others did apply


def test_a_scan_where_nothing_applies_says_so_in_every_terminal_view(fleet: Path, never_applies: Path, capsys):
    assert main(["scan", "-i", str(fleet), "-p", str(never_applies), "--format", "table"]) == 0
    captured = capsys.readouterr()
    assert "nothing was applicable: no resource of the 12 clusters matched any policy's 'if'" in captured.err
    assert "100.0% compliant" not in captured.out + captured.err
    assert "nothing was applicable" in captured.out  # the table format's title


def test_after_writing_one_line_names_each_file_and_the_scan_id(fleet: Path, tmp_path: Path, capsys):
    store = tmp_path / "history.db"
    assert main(["scan", "-i", str(fleet), "-p", str(LIBRARY), "--workers", "1", "--store", str(store),
                 "-o", str(tmp_path / "states.json"), "-o", f"junit:{tmp_path / 'results.xml'}"]) == 1
    captured = capsys.readouterr()
    [line] = [line for line in captured.err.splitlines() if line.startswith("scan ")]
    match = re.fullmatch(r"scan (\S+): wrote (.+), (.+); recorded in (.+)", line)
    assert match, line
    assert match.group(2, 3) == (str(tmp_path / "states.json"), str(tmp_path / "results.xml"))
    assert match[4].endswith("history.db") and captured.out == ""
    with HistoryStore(str(store), create=False) as history:
        assert [scan.scan_id for scan in history.scans()] == [match[1]]


def test_an_assignment_whose_scope_holds_nothing_stays_in_the_summary_with_a_warning(fleet: Path, tmp_path: Path,
                                                                                       capsys, monkeypatch):
    """Issue 22: an assignment scoped where the fleet has nothing used to vanish from the summary."""
    monkeypatch.setenv("COLUMNS", "250")
    definition = json.loads((LIBRARY / "monitoring_required.json").read_text())
    assignments = tmp_path / "assignments.json"
    assignments.write_text(json.dumps([
        {"id": "/providers/Microsoft.Authorization/policyAssignments/everywhere", "name": "everywhere",
         "properties": {"scope": "/", "policyDefinitionId": definition["id"]}},
        {"id": "/subscriptions/0000dead-0000-0000-0000-000000000000/providers/Microsoft.Authorization/"
               "policyAssignments/elsewhere", "name": "elsewhere",
         "properties": {"scope": "/subscriptions/0000dead-0000-0000-0000-000000000000",
                        "policyDefinitionId": definition["id"]}}]))
    assert main(["scan", "-i", str(fleet), "-p", str(LIBRARY), "-a", str(assignments), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert ("warning: assignment 'elsewhere': its scope holds no resource of the fleet, so it evaluated nothing"
            in err)
    [row] = [line for line in err.splitlines() if "elsewhere" in line and "│" in line]
    assert "out of scope" in row
    assert "nothing was applicable to" not in err and "everywhere" not in err.split("warning:", 1)[1].split("\n")[0]


def test_the_table_on_stdout_lists_at_most_20_records_per_policy_and_says_how_many_more(tmp_path: Path, capsys):
    """At fleet scale the default table does not flood the terminal (56,948 lines on 10,000 clusters): the first
    20 records of each policy that need attention, then one line per policy with how many more."""
    big = tmp_path / "big.json"
    write_generated_fleet(big, 120, seed=3)
    assert main(["scan", "-i", str(big), "-p", str(LIBRARY), "--workers", "1", "--format", "json"]) == 1
    records = json.loads(capsys.readouterr().out)["value"]
    attention = {}
    for record in records:
        if record["complianceState"] in ("NonCompliant", "Error"):
            attention[record["policyDefinitionName"]] = attention.get(record["policyDefinitionName"], 0) + 1
    assert max(attention.values()) > 20
    assert main(["scan", "-i", str(big), "-p", str(LIBRARY), "--workers", "1"]) == 1
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    for policy, count in attention.items():
        assert sum(f" {policy} " in row for row in rows) == min(count, 20), policy
        if count > 20:
            assert f"... and {count - 20} more records of {policy} need attention" in out
    assert "(every record: -o FILE.csv, or --format csv or json)" in out
