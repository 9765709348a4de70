"""Memory by input size: a policy file past Azure Policy's 1,048,576-byte limit for a definition is refused at a peak
in proportion to its size, and one within it costs its size once, not once per record (a reason cuts the values it
repeats). Peaks are each command's maximum resident set, measured in a process of its own."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
FLEET = REPO / "examples" / "demo-fleet.json"
# Runs the command given after it and prints its exit status and peak resident set (KB): the only child it waits for.
PEAK = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _definition(names: int) -> bytes:
    return orjson.dumps({"name": "many-names", "type": "Microsoft.Authorization/policyDefinitions", "properties": {
        "mode": "All", "policyRule": {
            "if": {"allOf": [{"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                             {"field": "name", "notIn": [f"cluster-name-{index:09d}" for index in range(names)]}]},
            "then": {"effect": "audit"}}}})


def _scan(policy: Path, output: Path) -> tuple[int, float, float]:
    """(exit status, peak MB, seconds) of ``arcpolicy scan`` of the demo fleet with ``policy``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, sys.executable, "-m", "engine", "scan", "-i", str(FLEET),
                           "-p", str(policy), "-o", str(output)], capture_output=True, text=True, check=True, cwd=REPO)
    status, peak_kb = map(int, done.stdout.split())
    return status, round(peak_kb / 1024, 1), round(time.perf_counter() - started, 2)


def run() -> dict[str, object]:
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        cases = {"shipped policies": REPO / "policies" / "azure"}
        for label, names in (("1 MB notIn (40,000 names)", 40_000), ("52 MB notIn (2,000,000 names)", 2_000_000)):
            path = directory / f"{names}.json"
            path.write_bytes(_definition(names))
            cases[label] = path
        for label, policy in cases.items():
            output = directory / "states.json"
            output.unlink(missing_ok=True)
            status, peak, seconds = _scan(policy, output)
            size = sum(item.stat().st_size for item in ([policy] if policy.is_file() else policy.rglob("*.json")))
            figures[label] = {"policy bytes": size, "exit": status, "peak MB": peak, "seconds": seconds,
                              "states.json bytes": output.stat().st_size if output.exists() else None}
    return figures
