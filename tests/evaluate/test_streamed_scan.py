"""The streamed scan: the records of the in-memory scan, in the scan's order, whatever order the fleet was read
in; outputs all written or none; nothing masked when nothing is written."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import InputError
from engine.evaluate import prepare_scan, run_scan
from engine.evaluate.streaming import stream_scan
from engine.inventory import Fleet, FleetStream, numbered, write_snapshot
from engine.inventory.generator import generate_fleet
from engine.output import OutputFiles, OutputRecord, OutputSpec, ScanMetadata, output_record, write_outputs

REPO = Path(__file__).resolve().parents[2]
POLICIES = [REPO / "policies"]
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def graph_ordered(clusters: int, seed: int) -> list[dict]:
    """A fleet as Resource Graph returns it: every cluster first, then every child, each table shuffled."""
    resources = list(generate_fleet(clusters, seed=seed))
    rng = random.Random(seed)
    parents = [resource for resource in resources if "/providers/Microsoft.KubernetesConfiguration/" not in
               resource["id"]]
    children = [resource for resource in resources if resource not in parents]
    rng.shuffle(parents)
    rng.shuffle(children)
    return parents + children


@pytest.mark.parametrize("workers", [1, 2])
def test_records_are_the_in_memory_scans_in_the_scans_order(tmp_path: Path, workers: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.evaluate.streaming.SERIAL_CLUSTER_LIMIT", 1)
    monkeypatch.setattr("engine.evaluate.streaming.BATCH_CLUSTERS", 7)
    resources = graph_ordered(80, seed=3)
    request = prepare_scan(POLICIES, timestamp=WHEN)
    expected = [output_record(state).json for state in run_scan(Fleet(resources), request, workers=1).records]
    got: list[OutputRecord] = []

    class Collect:
        def add(self, record: OutputRecord) -> None:
            got.append(record)

    result = stream_scan(FleetStream(numbered(resources), budget=20_000), request, [Collect()],
                         workers=workers)
    assert [record.json for record in got] == expected and result.records == len(expected) > 80
    assert result.clusters == 80 and sum(result.states.values()) == len(expected)


def test_a_scan_that_fails_part_way_leaves_no_output_behind(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.json"
    write_snapshot(fleet, generate_fleet(30, seed=4))
    outputs = [OutputSpec(format=name, path=tmp_path / f"out.{name}") for name in ("json", "csv", "html", "junit")]

    class Failing:
        def __init__(self) -> None:
            self.seen = 0

        def add(self, record: OutputRecord) -> None:
            self.seen += 1
            if self.seen == 20:
                raise OSError(28, "No space left on device")

    from engine.inventory import stream_snapshot

    with pytest.raises(InputError, match="No space left on device"), OutputFiles(outputs, ScanMetadata()) as files:
        stream_scan(stream_snapshot(fleet), prepare_scan(POLICIES), [files, Failing()], workers=1)
        files.finish()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fleet.json"]  # no output, no temporary file


def test_write_outputs_masks_nothing_when_nothing_is_written() -> None:
    def records():
        raise AssertionError("records were read although no output was asked for")
        yield

    write_outputs([], records(), ScanMetadata())


def test_the_cli_scan_of_a_graph_ordered_fleet_writes_sorted_records(tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet.ndjson"
    resources = graph_ordered(30, seed=9)
    write_snapshot(fleet, resources)
    out = tmp_path / "states.json"
    assert main(["scan", "-i", str(fleet), "-p", str(REPO / "policies"), "-o", str(out), "--fail-on", "never"]) == 0
    records = json.loads(out.read_text())["value"]
    request = prepare_scan(POLICIES)
    expected = [state.to_json() for state in run_scan(Fleet(resources), request, workers=1).records]
    assert [{**record, "timestamp": None} for record in records] == [{**record, "timestamp": None}
                                                                     for record in expected]
    assert f"30 clusters, {len(records)} records" in capsys.readouterr().err
