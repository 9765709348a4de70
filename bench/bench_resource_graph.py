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
                                   "--state-dir", str(state_dir), "--port", "0"],
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
        identical = fleet.fingerprint() == load_snapshot(fleet_file).fingerprint()
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
        "identical_to_snapshot": identical,
    }
