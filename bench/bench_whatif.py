"""The history store and what-if on a stored 10,000-cluster scan, each as a ratio to its floor.

The policy set is the shipped Azure Policy definitions plus the Rego pinned-versions policy with an
allowed-versions list, assigned by an assignment file. Figures:

- recording's share of a scan's CPU: CPU seconds of ``record_scan`` (records and inventory) over the CPU
  seconds of the scan it records (snapshot read + evaluation, workers' CPU included), and of recording as the
  CLI's streamed scan does (the records' masked JSON texts, the fleet's groups) into an empty store;
  goal <= 0.25;
- what ``--store`` adds to the CPU of ``arcpolicy scan -o out.json`` (one worker), for a first scan into an empty
  store and for a second scan with 1% churn; goal <= 0.25;
- store bytes a second scan adds when 1% of the clusters changed (a tag on each; every other one also loses an
  extension, so verdicts change too), over the bytes of the first scan; goal <= 0.05;
- what-if of a one-definition change over a full scan of the changed set from the snapshot file (read +
  evaluation), on the same workers, in CPU seconds (workers' included: the machine is shared, wall time swings)
  and wall seconds, best of ``BENCH_WHATIF_REPEATS``; goal <= 0.30. Each shipped Azure Policy definition is
  changed in turn (a condition's value), and an assignment's parameter (the allowed Flux versions shortened).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

CLUSTERS = int(os.environ.get("BENCH_WHATIF_CLUSTERS", "10000"))
WORKERS = int(os.environ.get("BENCH_WHATIF_WORKERS", "2"))
POLICIES = Path(__file__).resolve().parents[1] / "policies"
FLUX_VERSIONS = ["1.13.1", "1.14.0", "1.14.1"]
REPEATS = int(os.environ.get("BENCH_WHATIF_REPEATS", "2"))
# One change per shipped Azure Policy definition: a value its rule compares with.
DEFINITION_CHANGES = {"monitoring_required.json": ('"equals": "Stable"', '"equals": "Preview"'),
                      "defender_required_non_aks.json": ('"equals": "microsoft.azuredefender.kubernetes"',
                                                         '"equals": "microsoft.azuredefender.kubernetes.v2"'),
                      "flux_auto_upgrade.json": ('"equals": true', '"equals": false')}


def _assignments(path: Path, flux_versions: list[str]) -> Path:
    def assignment(definition: str, name: str, parameters: dict[str, object]) -> dict[str, object]:
        return {"id": f"/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
                "type": "Microsoft.Authorization/policyAssignments",
                "properties": {"policyDefinitionId": definition,
                               "parameters": {key: {"value": value} for key, value in parameters.items()}}}

    documents = [assignment(f"/providers/Microsoft.Authorization/policyDefinitions/arcpolicy-{name}", name, {})
                 for name in ("defender-required-non-aks", "flux-auto-upgrade", "monitoring-required")]
    documents.append(assignment("rego:arcpolicy.pinned_versions_allowed", "pinned-versions",
                                {"allowedVersions": {"microsoft.flux": flux_versions}}))
    path.write_text(json.dumps(documents))
    return path


def _store_bytes(database: Path) -> int:
    import sqlite3

    with sqlite3.connect(database) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0] - connection.execute(
            "PRAGMA freelist_count").fetchone()[0]
        return pages * connection.execute("PRAGMA page_size").fetchone()[0]


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the scan's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(action: Callable[[], Any]) -> tuple[Any, float, float]:
    """The action's result, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), _cpu()
    result = action()
    return result, time.perf_counter() - wall, _cpu() - cpu


def _best(action: Callable[[], Any]) -> tuple[Any, float, float]:
    """The action's result and its best wall and CPU seconds over REPEATS runs."""
    runs = [_timed(action) for _ in range(REPEATS)]
    return runs[-1][0], min(run[1] for run in runs), min(run[2] for run in runs)


def _churned(resources: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """1% of the clusters changed: a tag on each, and every other one loses its first extension."""
    clusters = [resource for resource in resources if resource["type"].lower().endswith(
        ("/connectedclusters", "/managedclusters"))][::100]
    for cluster in clusters:
        cluster["tags"] = {**(cluster.get("tags") or {}), "bench-churn": "1"}
    dropped = set()
    for cluster in clusters[::2]:
        prefix = cluster["id"].lower() + "/providers/microsoft.kubernetesconfiguration/extensions/"
        first = next((resource for resource in resources if resource["id"].lower().startswith(prefix)), None)
        if first is not None:
            dropped.add(first["id"])
    return [resource for resource in resources if resource["id"] not in dropped], len(clusters)


def recording_in_the_cli(work: Path, snapshot: Path, churned: Path, policies: list[Path],
                         assignments: Path) -> dict[str, object]:
    """What ``--store`` adds to ``arcpolicy scan -o out.json`` (one worker, CPU of the whole command, best of
    REPEATS): the first scan into an empty store, then the fleet with 1% churn into that store."""
    from bench.bench_scan import run_child

    def scan(fleet: Path, *store: str) -> float:
        return run_child(["scan", "-i", str(fleet), *(arg for path in policies for arg in ("-p", str(path))), "-a",
                          str(assignments), "-o", str(work / "out.json"), "--workers", "1", "--fail-on", "never",
                          *store])[1]

    figures: dict[str, object] = {}
    for name, fleet in (("first_scan", snapshot), ("1pct_churn", churned)):
        plain = min(scan(fleet) for _ in range(REPEATS))
        stores = []
        for attempt in range(REPEATS):  # each time into a store holding what it would hold
            database = work / f"cli-{name}-{attempt}.db"
            if name == "1pct_churn":
                scan(snapshot, "--store", str(database))
            stores.append(scan(fleet, "--store", str(database)))
        stored = min(stores)
        figures[f"cli_{name}"] = {"scan_cpu_seconds": round(plain, 2), "scan_store_cpu_seconds": round(stored, 2),
                                  "recording_share_of_scan_cpu": round((stored - plain) / plain, 3)}
    return figures


def run() -> dict[str, object]:
    from engine.evaluate import prepare_scan, run_scan
    from engine.history import HistoryStore, ScanMetadata
    from engine.history.recording import assigned_definitions
    from engine.history.whatif import what_if
    from engine.inventory import Fleet, load_snapshot, write_snapshot
    from engine.inventory.generator import generate_fleet
    from engine.output.redact import redact_state
    from engine.output.registry import OutputRecord

    figures: dict[str, object] = {"clusters": CLUSTERS, "workers": WORKERS}
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        snapshot, database = work / "fleet.json", work / "history.db"
        policies = [work / "azure", POLICIES / "rego" / "pinned_versions_allowed.rego", POLICIES / "rego" / "lib"]
        shutil.copytree(POLICIES / "azure", work / "azure")
        resources = list(generate_fleet(CLUSTERS, seed=42))
        write_snapshot(snapshot, resources)
        figures["snapshot_bytes"] = snapshot.stat().st_size
        assignments = _assignments(work / "before.json", FLUX_VERSIONS)
        before = prepare_scan(policies, [assignments])

        (fleet, baseline), scan_seconds, scan_cpu = _timed(
            lambda: (fleet := load_snapshot(snapshot), run_scan(fleet, before, WORKERS)))
        figures["records"] = len(baseline.records)
        figures["scan_seconds"], figures["scan_cpu_seconds"] = round(scan_seconds, 2), round(scan_cpu, 2)
        with HistoryStore(str(database)) as store:
            recorded = assigned_definitions(before, policies)
            _, _, record_cpu = _timed(lambda: store.record_scan(ScanMetadata(scan_id="baseline"), baseline.records,
                                                                fleet, recorded))
            figures["record_cpu_seconds"] = round(record_cpu, 2)
            figures["recording_share_of_scan_cpu"] = round(record_cpu / scan_cpu, 3)
            first = figures["store_bytes_first_scan"] = _store_bytes(database)
            # As the streamed CLI scan records: the masked JSON texts its outputs got, the fleet's groups as read,
            # into an empty store (best of REPEATS, each into a new one).
            baseline_texts = [OutputRecord(orjson.dumps(redact_state(state).to_json(), option=orjson.OPT_INDENT_2))
                              for state in baseline.records]

            def first_from_documents() -> None:
                empty = work / f"first-{time.perf_counter_ns()}.db"
                with HistoryStore(str(empty)) as fresh, fresh.recording(ScanMetadata(scan_id="first"),
                                                                         recorded) as recording:
                    for text in baseline_texts:
                        recording.add(text)
                    recording.add_inventory(fleet.encoded_groups())
                    recording.finish()
                empty.unlink()

            _, _, first_cpu = _best(first_from_documents)
            figures["recording_share_of_scan_cpu_first_scan_from_documents"] = round(first_cpu / scan_cpu, 3)

            changed, churned = _churned(resources)
            churned_snapshot = work / "churned.json"
            write_snapshot(churned_snapshot, changed)
            changed_fleet = Fleet(changed)
            second = run_scan(changed_fleet, before, WORKERS)
            _, _, churn_cpu = _timed(lambda: store.record_scan(ScanMetadata(scan_id="churn"), second.records,
                                                               changed_fleet, recorded))
            added = _store_bytes(database) - first
            figures["clusters_changed"] = churned
            figures["record_cpu_seconds_1pct_churn"] = round(churn_cpu, 2)
            figures["recording_share_of_scan_cpu_1pct_churn"] = round(churn_cpu / scan_cpu, 3)
            # The streamed scan hands the store its records as the masked JSON texts its outputs got.
            texts = [OutputRecord(orjson.dumps(redact_state(state).to_json(), option=orjson.OPT_INDENT_2))
                     for state in second.records]

            def from_documents() -> None:
                with store.recording(ScanMetadata(scan_id="churn-again"), recorded) as recording:
                    for text in texts:
                        recording.add(text)
                    recording.add_inventory(changed_fleet.encoded_groups())
                    recording.finish()

            _, _, documents_cpu = _timed(from_documents)
            figures["recording_share_of_scan_cpu_1pct_churn_from_documents"] = round(documents_cpu / scan_cpu, 3)
            figures["store_bytes_added_by_scan_with_1pct_churn"] = added
            figures["store_added_by_1pct_churn_vs_first_scan"] = round(added / first, 4)

            changes = {"flux_versions_parameter": (policies, prepare_scan(policies, [_assignments(
                work / "after.json", FLUX_VERSIONS[1:])]))}
            for name, (old, new) in DEFINITION_CHANGES.items():
                changed = work / f"azure-{Path(name).stem}"  # the policy set with this definition changed
                shutil.copytree(POLICIES / "azure", changed)
                text = (changed / name).read_text()
                assert old in text, (name, old)
                (changed / name).write_text(text.replace(old, new))
                changed_policies = [changed, *policies[1:]]
                changes[f"definition_{Path(name).stem}"] = (changed_policies, prepare_scan(changed_policies,
                                                                                           [assignments]))
            for name, (paths, request) in changes.items():
                report, whatif_seconds, whatif_cpu = _best(partial(what_if, store, "baseline", request, paths))
                _, full_seconds, full_cpu = _best(lambda request=request: run_scan(load_snapshot(snapshot), request,
                                                                                   WORKERS))
                figures[f"whatif_{name}"] = {
                    "whatif_cpu_seconds": round(whatif_cpu, 2), "full_scan_cpu_seconds": round(full_cpu, 2),
                    "whatif_vs_full_scan_cpu": round(whatif_cpu / full_cpu, 3),
                    "whatif_seconds": round(whatif_seconds, 2), "full_scan_seconds": round(full_seconds, 2),
                    "whatif_vs_full_scan_wall": round(whatif_seconds / full_seconds, 3),
                    "assignments_evaluated": report.assignment_sets.reevaluated,
                    "newly_non_compliant": report.newly_non_compliant, "newly_compliant": report.newly_compliant,
                    "newly_failing": report.newly_failing}
        figures.update(recording_in_the_cli(work, snapshot, churned_snapshot, policies, assignments))
    figures["load_average"] = os.getloadavg()[0]
    return figures
