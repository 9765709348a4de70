"""Inventory of a generated 100,000-cluster fleet (about 600,000 resources).

Goal (issue 2): ``arcpolicy inventory`` completes in under 60 s and under 2 GB peak memory.
The command runs in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLUSTERS = int(os.environ.get("BENCH_INVENTORY_CLUSTERS", "100000"))


def run() -> dict[str, object]:
    from engine.inventory.generator import write_generated_fleet

    with tempfile.TemporaryDirectory() as directory:
        fleet_file = Path(directory) / "fleet.json"
        started = time.perf_counter()
        resources = write_generated_fleet(fleet_file, CLUSTERS, seed=1)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "engine", "inventory", "--inventory", str(fleet_file), "--format", "json"],
            capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        size_mb = fleet_file.stat().st_size / 1e6
    assert '"clusters"' in completed.stdout
    return {
        "clusters": CLUSTERS,
        "resources": resources,
        "snapshot_mb": round(size_mb, 1),
        "generate_seconds": round(generated, 1),
        "inventory_seconds": round(elapsed, 1),
        "inventory_resources_per_second": round(resources / elapsed),
        "inventory_peak_rss_mb": round(peak_kib / 1024),
    }
