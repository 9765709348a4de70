"""The whole ``arcpolicy scan`` against its floor, its memory at three fleet sizes, and its startup (issue 21).

Side by side in one run, as the CLI runs (``arcpolicy scan`` in a child process, its CPU time and peak RSS
read from ``getrusage``):

- **CPU against the floor** at ``BENCH_SCAN_CLUSTERS`` (30,000) generated clusters with JSON output, for the
  shipped Rego policies and the shipped Azure Policy definitions: the scan's CPU time (one worker, startup
  included) over the floor, ``fleet parse + engine evaluation``: a plain ``orjson.loads`` of every resource
  of the NDJSON file (collector off) plus the engine deciding every parsed cluster into its rows
  (``ScanEngine.evaluate``, as the scan's workers do), both measured here on the same fleet,
  ``BENCH_SCAN_REPEATS`` (3) times each, interleaved (floor, scan, floor, scan ...): the ratio of the medians,
  and the lowest and highest ratio of a floor and the scan measured after it (a shared machine's load moves
  both).
- **Peak RSS** of ``scan -o out.json --store`` on one worker at 10,000, 40,000 and 200,000 clusters (the shipped
  library, Rego and Azure Policy), and the ratio of the largest to the smallest; with
  ``BENCH_SCAN_MILLION=1`` also a 1,000,000-cluster NDJSON fleet scanned to ``-o out.json`` on every core
  (generation ~2 min and 6.6 GB of disk, the scan several minutes).
- **Startup**: ``arcpolicy --help`` and a 10-cluster scan (wall and CPU, median of 5).
- **Many assignments**: ``BENCH_SCAN_ASSIGNMENTS`` (10,000) assignments of the shipped Azure Policy definitions on
  40 clusters (was 194 s and 4.2 GB): records per second (wall, every core) and peak RSS.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

CLUSTERS = int(os.environ.get("BENCH_SCAN_CLUSTERS", "30000"))
RSS_CLUSTERS = tuple(int(size) for size in os.environ.get("BENCH_SCAN_RSS_CLUSTERS", "10000,40000,200000").split(","))
ASSIGNMENTS = int(os.environ.get("BENCH_SCAN_ASSIGNMENTS", "10000"))
REPEATS = int(os.environ.get("BENCH_SCAN_REPEATS", "3"))
MILLION = os.environ.get("BENCH_SCAN_MILLION") == "1"
REPO = Path(__file__).resolve().parents[1]
POLICIES = {"rego": REPO / "policies" / "rego", "azure": REPO / "policies" / "azure"}
ARCPOLICY = [sys.executable, "-m", "engine"]


def run_child(arguments: list[str]) -> tuple[float, float, int]:
    """``arcpolicy ARGUMENTS`` in a fresh process: (wall seconds, CPU seconds, peak RSS in MB of its largest
    process), measured by a small parent of its own so that each run's peak is its own."""
    program = ("import resource, subprocess, sys, time\n"
               "started = time.perf_counter()\n"
               f"code = subprocess.run({[*ARCPOLICY, *arguments]!r}, stdout=subprocess.DEVNULL,"
               " stderr=subprocess.DEVNULL).returncode\n"
               "wall = time.perf_counter() - started\n"
               "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(code, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)\n")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    code, wall, cpu, rss = completed.stdout.split()
    if int(code) not in (0, 1):
        raise RuntimeError(f"arcpolicy {' '.join(arguments)} exited {code}")
    return float(wall), float(cpu), int(rss) // 1024


def generate(clusters: int, path: Path) -> Path:
    if not path.exists():
        subprocess.run([*ARCPOLICY, "sandbox", "generate", "-n", str(clusters), "-s", "1", "-o", str(path)],
                       check=True, capture_output=True, cwd=REPO)
    return path


def floor_seconds(fleet: Path, policy: Path) -> dict[str, float]:
    """Fleet parse (orjson.loads of every line, collector off) and engine evaluation (rows) of every cluster."""
    from engine.evaluate import prepare_scan
    from engine.evaluate.records import gc_paused
    from engine.evaluate.scan import ScanEngine
    from engine.inventory import Fleet

    lines = fleet.read_bytes().splitlines()
    gc.disable()
    try:
        started = time.process_time()
        resources = [orjson.loads(line) for line in lines]
        parse = time.process_time() - started
    finally:
        gc.enable()
    del lines
    clusters = list(Fleet(resources).clusters())
    del resources
    engine = ScanEngine(prepare_scan([policy]))
    with gc_paused():
        started = time.process_time()
        engine.evaluate(clusters)
        evaluation = time.process_time() - started
    return {"parse": parse, "evaluation": evaluation}


def cpu_against_floor(directory: Path) -> dict[str, object]:
    fleet = generate(CLUSTERS, directory / f"fleet-{CLUSTERS}.ndjson")
    figures: dict[str, object] = {"clusters": CLUSTERS, "repeats": REPEATS}
    for name, policy in POLICIES.items():
        floors, scans = [], []
        for _ in range(REPEATS):
            floors.append(floor_seconds(fleet, policy))
            scans.append(run_child(["scan", "-i", str(fleet), "-p", str(policy), "-o", str(directory / "out.json"),
                                    "--workers", "1", "--fail-on", "never"])[1])
        totals = [floor["parse"] + floor["evaluation"] for floor in floors]
        ratio = statistics.median(scans) / statistics.median(totals)
        each = [scan / total for scan, total in zip(scans, totals, strict=True)]
        figures[f"{name}_fleet_parse_seconds"] = round(statistics.median(floor["parse"] for floor in floors), 2)
        figures[f"{name}_engine_evaluation_seconds"] = round(statistics.median(floor["evaluation"] for floor in floors),
                                                             2)
        figures[f"{name}_scan_cpu_seconds"] = round(statistics.median(scans), 2)
        figures[f"{name}_scan_cpu_over_floor"] = round(ratio, 2)
        figures[f"{name}_scan_cpu_over_floor_range"] = [round(min(each), 2), round(max(each), 2)]
        figures[f"{name}_goal_2x_met"] = ratio <= 2
    return figures


def peak_rss(directory: Path) -> dict[str, object]:
    figures: dict[str, object] = {}
    for clusters in RSS_CLUSTERS:
        fleet = generate(clusters, directory / f"fleet-{clusters}.ndjson")
        store = directory / f"history-{clusters}.db"
        wall, cpu, rss = run_child(["scan", "-i", str(fleet), "-p", str(REPO / "policies"), "-o",
                                    str(directory / "out.json"), "--store", str(store), "--workers", "1",
                                    "--fail-on", "never"])
        figures[f"rss_mb_{clusters}"] = rss
        figures[f"scan_store_seconds_{clusters}"] = round(wall, 1)
        store.unlink()
    smallest, largest = figures[f"rss_mb_{RSS_CLUSTERS[0]}"], figures[f"rss_mb_{RSS_CLUSTERS[-1]}"]
    figures["rss_largest_over_smallest"] = round(largest / smallest, 2)  # type: ignore[operator]
    figures["goal_1_5x_met"] = largest / smallest <= 1.5  # type: ignore[operator]
    if MILLION:
        fleet = generate(1_000_000, directory / "fleet-1000000.ndjson")
        wall, cpu, rss = run_child(["scan", "-i", str(fleet), "-p", str(REPO / "policies" / "azure"), "-o",
                                    str(directory / "out.json"), "--fail-on", "never"])
        figures.update(million_rss_mb=rss, million_wall_seconds=round(wall), million_cpu_seconds=round(cpu),
                       million_goal_2gb_met=rss <= 2048)
    return figures


def startup(directory: Path) -> dict[str, object]:
    fleet = generate(10, directory / "fleet-10.ndjson")
    figures: dict[str, object] = {}
    for name, arguments in (("help", ["--help"]),
                            ("scan_10_clusters", ["scan", "-i", str(fleet), "-p", str(REPO / "policies"), "-o",
                                                  str(directory / "out.json"), "--fail-on", "never"])):
        runs = [run_child(arguments) for _ in range(5)]
        figures[f"startup_{name}_wall_seconds"] = round(statistics.median(run[0] for run in runs), 2)
        figures[f"startup_{name}_cpu_seconds"] = round(statistics.median(run[1] for run in runs), 2)
    return figures


def many_assignments(directory: Path) -> dict[str, object]:
    definitions = [json.loads(path.read_text()) for path in sorted(POLICIES["azure"].glob("*.json"))]
    assignments = [{"id": f"/providers/Microsoft.Authorization/policyAssignments/bench-{number:05d}",
                    "name": f"bench-{number:05d}", "type": "Microsoft.Authorization/policyAssignments",
                    "properties": {"scope": "/", "policyDefinitionId": definitions[number % len(definitions)]["id"],
                                   "parameters": {}}} for number in range(ASSIGNMENTS)]
    assigned = directory / "assignments.json"
    assigned.write_text(json.dumps(assignments))
    fleet = generate(40, directory / "fleet-40.ndjson")
    out = directory / "many.json"
    wall, cpu, rss = run_child(["scan", "-i", str(fleet), "-p", str(POLICIES["azure"]), "-a", str(assigned), "-o",
                                str(out), "--fail-on", "never"])
    with out.open("rb") as handle:
        records = sum(1 for line in handle if line.startswith(b'      "resourceId"'))
    return {"many_assignments": ASSIGNMENTS, "many_records": records, "many_wall_seconds": round(wall, 1),
            "many_cpu_seconds": round(cpu, 1), "many_records_per_second_wall": round(records / wall),
            "many_records_per_cpu_second": round(records / cpu), "many_rss_mb": rss}


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as folder:
        directory = Path(folder)
        return {**cpu_against_floor(directory), **peak_rss(directory), **startup(directory),
                **many_assignments(directory), "load_average": os.getloadavg()[0],
                "peak_rss_of_this_process_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
