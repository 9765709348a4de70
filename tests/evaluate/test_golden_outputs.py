"""Outputs byte-identical to those arcpolicy wrote before the streaming scan (tests/evaluate/golden/README.md).

The golden fleet holds an extension listed before its cluster, a cluster listed twice, resource containers
and non-ASCII text; every format is compared byte for byte, on one worker and on two.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from engine.evaluate import prepare_scan, run_scan
from engine.evaluate.streaming import stream_scan
from engine.inventory import load_snapshot, stream_snapshot
from engine.output import OutputFiles, OutputSpec, ScanMetadata, write_outputs

GOLDEN = Path(__file__).resolve().parent / "golden"
REPO = GOLDEN.parents[2]
SHARED = REPO / ".." / "shared" / "azure-policy-builtins"
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
OUTPUTS = {"json": "states.json", "csv": "states.csv", "junit": "states.xml", "policyreport": "states.yaml",
           "markdown": "report.md", "html": "report.html", "table": "states.txt"}
POLICIES = [GOLDEN / "policies", REPO / "policies" / "azure", REPO / "policies" / "rego",
            SHARED / "ArcPolicyExtension_Audit.json", SHARED / "ASC_Azure_Defender_Arc_Extension_DINE.json",
            SHARED / "Kubernetes_InstallAzureBackupExtension_Audit.json"]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_output_is_byte_identical_to_the_golden_one(tmp_path: Path, workers: int) -> None:
    fleet = load_snapshot(GOLDEN / "fleet.ndjson")
    request = prepare_scan(POLICIES, [], [GOLDEN / "exemption.json"], None, timestamp=WHEN)
    result = run_scan(fleet, request, workers=workers)
    metadata = ScanMetadata(scan_id="20261102T093000Z-90d1e2", started_at=WHEN, duration_seconds=1.25,
                            inventory_source="fleet.ndjson", policy_fingerprint="sha256:" + "ab" * 32,
                            not_evaluated=[f"{row.title}: {row.not_evaluated}" for row in result.summary
                                           if row.not_evaluated])
    write_outputs([OutputSpec(format=name, path=tmp_path / file) for name, file in OUTPUTS.items()],
                  result.records, metadata)
    for file in OUTPUTS.values():
        assert (tmp_path / file).read_bytes() == (GOLDEN / file).read_bytes(), file
    golden = json.loads((GOLDEN / "summary.json").read_text())
    assert [row.model_dump(by_alias=True) for row in result.summary] == golden["summary"]
    assert (result.clusters, result.evaluations) == (golden["clusters"], golden["evaluations"])
    assert [warning.replace(str(GOLDEN / "fleet.ndjson"), "FLEET") for warning in fleet.warnings] == [
        warning.replace("tests/evaluate/golden/fleet.ndjson", "FLEET") for warning in golden["warnings"]]


@pytest.mark.parametrize(("workers", "budget", "compact"),
                         [(1, None, False), (2, None, False), (1, 4096, False), (2, None, True), (1, 4096, True)])
def test_the_streamed_scan_writes_the_golden_outputs(tmp_path: Path, workers: int, budget: int | None, compact: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``compact``: the fleet's lines written as ARM and arcpolicy write them (no spaces, UTF-8), which a scan
    routes unparsed (engine.inventory.lines): the same outputs."""
    if budget is not None:  # every partition and every sort run spilled to disk
        monkeypatch.setattr("engine.external_sort.DEFAULT_BUDGET", budget)
        monkeypatch.setattr("engine.inventory.stream.DEFAULT_BUDGET", budget)
    monkeypatch.setattr("engine.evaluate.streaming.SERIAL_CLUSTER_LIMIT", 1)  # two workers even for 24 clusters
    monkeypatch.setattr("engine.evaluate.streaming.BATCH_CLUSTERS", 5)
    fleet_file = GOLDEN / "fleet.ndjson"
    if compact:
        fleet_file = tmp_path / "fleet.ndjson"
        fleet_file.write_bytes(b"".join(orjson.dumps(json.loads(line)) + b"\n"
                                        for line in (GOLDEN / "fleet.ndjson").read_bytes().splitlines()))
    fleet = stream_snapshot(fleet_file, defer_lines=compact)
    request = prepare_scan(POLICIES, [], [GOLDEN / "exemption.json"], None, timestamp=WHEN)
    metadata = ScanMetadata(scan_id="20261102T093000Z-90d1e2", started_at=WHEN, duration_seconds=1.25,
                            inventory_source="fleet.ndjson", policy_fingerprint="sha256:" + "ab" * 32)
    with OutputFiles([OutputSpec(format=name, path=tmp_path / file) for name, file in OUTPUTS.items()],
                     metadata) as files:
        result = stream_scan(fleet, request, [files], workers=workers)
        metadata.not_evaluated = [f"{row.title}: {row.not_evaluated}" for row in result.summary if row.not_evaluated]
        files.finish()
    for file in OUTPUTS.values():
        assert (tmp_path / file).read_bytes() == (GOLDEN / file).read_bytes(), file
    golden = json.loads((GOLDEN / "summary.json").read_text())
    assert [row.model_dump(by_alias=True) for row in result.summary] == golden["summary"]
    assert (result.clusters, result.evaluations) == (golden["clusters"], golden["evaluations"])
    assert result.records == len(json.loads((GOLDEN / "states.json").read_text())["value"])
    assert [warning.replace(str(fleet_file), "FLEET") for warning in fleet.warnings] == [
        warning.replace("tests/evaluate/golden/fleet.ndjson", "FLEET") for warning in golden["warnings"]]
