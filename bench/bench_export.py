"""Remediation as code at fleet scale (issue 25): the plan of a 10,000-cluster generated fleet under the shipped
library (as ``arcpolicy plan`` makes it) exported as ARM deployments and as Terraform: seconds (the inventory read
for updates' live state timed apart), files, bytes, steps."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

CLUSTERS = int(os.environ.get("BENCH_EXPORT_CLUSTERS", "10000"))


def run() -> dict[str, object]:
    from engine.cli.main import main
    from engine.inventory import load_snapshot
    from engine.inventory.generator import write_generated_fleet
    from remediation.export import FORMATS, export_plan
    from remediation.plan.io import read_plan

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        fleet_file, plan_file = root / "fleet.json", root / "plan.json"
        write_generated_fleet(fleet_file, CLUSTERS, seed=1)
        assert main(["plan", "-i", str(fleet_file), "-p", "builtin:", "-o", str(plan_file)]) == 0
        plan = read_plan(plan_file)
        started = time.perf_counter()
        resources = list(load_snapshot(fleet_file).resources())
        figures: dict[str, object] = {"clusters": CLUSTERS, "operations": len(plan.operations),
                                      "by_status": plan.summary.by_status,
                                      "inventory_read_seconds": round(time.perf_counter() - started, 2)}
        for format_name in FORMATS:
            started = time.perf_counter()
            result = export_plan(plan, format_name, root / format_name, resources)
            figures[format_name] = {"seconds": round(time.perf_counter() - started, 2), "files": result.files,
                                    "bytes": result.bytes, "steps": result.steps}
        return figures
