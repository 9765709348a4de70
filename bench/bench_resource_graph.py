"""A 20,000-cluster inventory pull through Resource Graph against the sandbox (separate process)
with the default quota of 15 queries per 5 s.

Figure: wall time over the quota-imposed minimum (pages / 3 per second); goal <= 1.15. The
sandbox runs as ``arcpolicy sandbox serve`` in its own process, as a real service would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.inventory import Fleet

CLUSTERS = int(os.environ.get("BENCH_RESOURCE_GRAPH_CLUSTERS", "20000"))
QUERIES_PER_SECOND = 15 / 5


def run() -> dict[str, object]:
    from engine.azure import ArmConnection, CredentialKind
    from engine.inventory import Fleet, load_snapshot
    from engine.inventory.generator import write_generated_fleet
    from engine.inventory.resource_graph import ResourceGraphSource

    with tempfile.TemporaryDirectory() as directory:
        fleet_file, state_dir = Path(directory) / "fleet.json", Path(directory) / "state"
        write_generated_fleet(fleet_file, CLUSTERS, seed=2)
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "engine", "sandbox", "serve", "--fleet", str(fleet_file),
                                   "--state-dir", str(state_dir), "--port", "0",
                                   # extensions the fleet holds as Creating stay so during the pull, which
                                   # takes longer than the default 30 simulated seconds of provisioning
                                   "--provisioning-seconds", "86400"],
                                  stderr=subprocess.PIPE, text=True)
        try:
            assert server.stderr is not None
            line = server.stderr.readline()
            url = line.split("serving ", 1)[1].split()[0]
            load_seconds = time.perf_counter() - started
            connection = ArmConnection(arm_endpoint=url, ca_bundle=state_dir / "ca.pem",
                                       credential=CredentialKind.sandbox)
            source = ResourceGraphSource(connection)
            started = time.perf_counter()
            fleet = Fleet(source.resources())
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait()
        moved, containers, other_differences = _differences(fleet, load_snapshot(fleet_file))
    minimum = source.stats.pages / QUERIES_PER_SECOND
    return {
        "clusters": CLUSTERS,
        "rows": source.stats.rows,
        "pages": source.stats.pages,
        "retries_429_or_failures": source.stats.retries,
        "sandbox_load_seconds": round(load_seconds, 1),
        "pull_seconds": round(wall, 1),
        "quota_minimum_seconds": round(minimum, 1),
        "ratio_to_quota_minimum": round(wall / minimum, 3),
        "identical_to_snapshot_but_the_lifecycle": not other_differences,
        "extensions_the_sandbox_moved_pending_to_failed_after_48h_disconnected": moved,
        "subscriptions_and_resource_groups_of_the_fleet": containers,
        "other_differences": other_differences,
    }


def _differences(pulled: Fleet, snapshot: Fleet) -> tuple[int, int, int]:
    """How many extensions the sandbox's lifecycle moved (Pending on a cluster disconnected for more than
    48 h with protected settings -> Failed/ProtectedSettingsExpired, as the README says), how many
    subscriptions and resource groups the pull holds besides the snapshot (a tenant has them), and how many
    resources differ otherwise between the pull and the snapshot (0: Resource Graph read all of it)."""
    from engine import ids

    def by_id(fleet: Fleet) -> dict[str, dict[str, Any]]:
        return {resource["id"].lower(): resource for resource in fleet.resources()}

    ours, theirs = by_id(pulled), by_id(snapshot)
    scopes = {scope.lower() for resource_id in theirs for scope in (
        f"/subscriptions/{ids.parse_resource_id(resource_id).subscription_id}", ids.resource_group_id(resource_id))
        if scope}
    containers = {resource_id for resource_id in ours.keys() - theirs.keys() if resource_id in scopes
                  and ids.normalize(ours[resource_id]["type"]) in ids.CONTAINER_TYPES}
    moved, other = 0, len((ours.keys() - containers) ^ theirs.keys())
    for resource_id in ours.keys() & theirs.keys():
        read, written = ours[resource_id], theirs[resource_id]
        if read == written:
            continue
        was = {key: value for key, value in written.get("properties", {}).items() if key != "errorInfo"}
        was["provisioningState"] = "Failed"
        now = {key: value for key, value in read.get("properties", {}).items() if key != "errorInfo"}
        lifecycle = (written.get("properties", {}).get("provisioningState") == "Pending"
                     and read["properties"].get("errorInfo", {}).get("code") == "ProtectedSettingsExpired"
                     and {**read, "properties": now} == {**written, "properties": was})
        moved += lifecycle
        other += not lifecycle
    return moved, len(containers), other
