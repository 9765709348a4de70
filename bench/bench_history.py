"""Output formats and the SQLite history store on a large scan (default 100,000 policy states).

Figures: records per second to render each format and to record / read back a scan.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RECORDS = int(os.environ.get("BENCH_HISTORY_RECORDS", "100000"))


def _states(count: int):
    from engine.models.results import ComplianceState, PolicyState, Reason

    states = []
    for index in range(count):
        bad = index % 7 == 0
        cluster = f"/subscriptions/s{index % 20}/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c{index // 5}"
        states.append(PolicyState(
            resource_id=cluster, resource_type="Microsoft.Kubernetes/connectedClusters", subscription_id=f"s{index % 20}",
            policy_assignment_id=f"/providers/Microsoft.Authorization/policyAssignments/a{index % 5}",
            policy_assignment_name=f"a{index % 5}", policy_definition_id=f"/d/p{index % 5}",
            policy_definition_name=f"p{index % 5}", policy_definition_action="audit",
            compliance_state=ComplianceState.NON_COMPLIANT if bad else ComplianceState.COMPLIANT,
            is_compliant=not bad, timestamp=datetime(2025, 5, 1, tzinfo=UTC),
            reasons=[Reason(message="extension missing")] if bad else []))
    return states


def run() -> dict[str, object]:
    from engine.history import HistoryStore, ScanMetadata
    from engine.output import FORMATS, render

    states = _states(RECORDS)
    figures: dict[str, object] = {"records": RECORDS}
    for name in sorted(FORMATS):
        started = time.perf_counter()
        render(name, states)
        figures[f"render_{name}_records_per_second"] = round(RECORDS / (time.perf_counter() - started))
    with tempfile.TemporaryDirectory() as directory, HistoryStore(str(Path(directory) / "h.db")) as store:
        started = time.perf_counter()
        store.record_scan(ScanMetadata(scan_id="bench"), states)
        figures["sqlite_record_records_per_second"] = round(RECORDS / (time.perf_counter() - started))
        started = time.perf_counter()
        assert len(store.states("bench")) == RECORDS
        figures["sqlite_read_records_per_second"] = round(RECORDS / (time.perf_counter() - started))
    return figures
