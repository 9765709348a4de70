"""What-if on a stored 10,000-cluster scan, next to a full scan; and the store's bytes per scan.

The policy set is the shipped Azure Policy definitions plus the Rego pinned-versions policy with an
allowed-versions list; the change under review shortens that list. Figures: seconds for a full scan
from the snapshot file (read + evaluate), for recording it in a SQLite store with its inventory, and for
``what_if`` on the stored scan (inventory read back + evaluation + comparison). Then a second scan where
1% of the clusters changed (a tag) is recorded: the bytes it added to the store, of which inventory,
next to the snapshot file and the whole inventory as the store keeps it (first scan).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

CLUSTERS = int(os.environ.get("BENCH_WHATIF_CLUSTERS", "10000"))
WORKERS = int(os.environ.get("BENCH_WHATIF_WORKERS", "2"))
POLICIES = Path(__file__).resolve().parents[1] / "policies"
FLUX_VERSIONS = ["1.13.1", "1.14.0", "1.14.1"]


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


def _inventory_bytes(database: Path, scan_id: str | None = None) -> int:
    """Bytes of the blobs (all of them, or those first used by ``scan_id``'s digest list) plus digest lists."""
    import sqlite3

    with sqlite3.connect(database) as connection:
        if scan_id is None:
            blobs = connection.execute("SELECT coalesce(sum(length(content)), 0) FROM inventory_blobs").fetchone()[0]
            lists = connection.execute("SELECT coalesce(sum(length(digests)), 0) FROM scan_inventories").fetchone()[0]
            return blobs + lists
        return connection.execute("SELECT length(digests) FROM scan_inventories WHERE scan_id = ?",
                                  (scan_id,)).fetchone()[0]


def run() -> dict[str, object]:
    from engine.evaluate import prepare_scan, run_scan
    from engine.history import HistoryStore, ScanMetadata
    from engine.history.recording import assigned_definitions, policy_set_fingerprint
    from engine.history.whatif import what_if
    from engine.inventory import Fleet, load_snapshot, write_snapshot
    from engine.inventory.generator import generate_fleet

    figures: dict[str, object] = {"clusters": CLUSTERS, "workers": WORKERS}
    policies = [POLICIES / "azure", POLICIES / "rego" / "pinned_versions_allowed.rego", POLICIES / "rego" / "lib"]
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        snapshot, database = work / "fleet.json", work / "history.db"
        resources = list(generate_fleet(CLUSTERS, seed=42))
        write_snapshot(snapshot, resources)
        figures["snapshot_bytes"] = snapshot.stat().st_size
        before = prepare_scan(policies, [_assignments(work / "before.json", FLUX_VERSIONS)])
        after = prepare_scan(policies, [_assignments(work / "after.json", FLUX_VERSIONS[1:])])

        started = time.perf_counter()
        fleet = load_snapshot(snapshot)
        baseline = run_scan(fleet, before, WORKERS)
        figures["full_scan_seconds"] = round(time.perf_counter() - started, 2)
        figures["records"] = len(baseline.records)
        with HistoryStore(str(database)) as store:
            started = time.perf_counter()
            store.record_scan(ScanMetadata(scan_id="baseline"), baseline.records, fleet, assigned_definitions(before))
            figures["record_scan_with_inventory_seconds"] = round(time.perf_counter() - started, 2)
            figures["store_bytes_first_scan"] = _store_bytes(database)
            figures["inventory_bytes_first_scan"] = _inventory_bytes(database)

            started = time.perf_counter()
            store.inventory("baseline")
            figures["inventory_read_seconds"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            report = what_if(store, "latest", after, policy_set_fingerprint(policies, after), WORKERS)
            figures["whatif_seconds"] = round(time.perf_counter() - started, 2)
            figures["whatif_newly_non_compliant"] = report.newly_non_compliant
            started = time.perf_counter()
            run_scan(load_snapshot(snapshot), after, WORKERS)
            figures["full_scan_of_the_change_seconds"] = round(time.perf_counter() - started, 2)

            clusters = [resource for resource in resources if resource["type"].lower().endswith("/connectedclusters")
                        or resource["type"].lower().endswith("/managedclusters")]
            for resource in clusters[:: 100]:  # 1% of the clusters change
                resource["tags"] = {**(resource.get("tags") or {}), "bench-churn": "1"}
            changed = Fleet(resources)
            second = run_scan(changed, before, WORKERS)
            blobs_before, store_before = _inventory_bytes(database), _store_bytes(database)
            store.record_scan(ScanMetadata(scan_id="churn"), second.records, changed, assigned_definitions(before))
            figures["clusters_changed"] = len(clusters[:: 100])
            figures["store_bytes_added_by_scan_with_1pct_churn"] = _store_bytes(database) - store_before
            figures["inventory_bytes_added_by_scan_with_1pct_churn"] = _inventory_bytes(database) - blobs_before
            figures["of_which_digest_list_bytes"] = _inventory_bytes(database, "churn")
    return figures
