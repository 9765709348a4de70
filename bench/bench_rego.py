"""Rego: cluster evaluations per second per core for the shipped library evaluated together.

Goal (issue 5): >= 2,000 cluster evaluations/s per core with the embedded engine (one bundle
query per cluster for all six policies). The OPA-server path is measured against the
OpaServerTestDouble (tests/rego/opa_double.py: HTTP + the embedded engine, not a real OPA),
so its figure is HTTP and JSON overhead on top of the embedded engine, not OPA's own speed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.rego import RegoLibrary
from policies import LIBRARY

CLUSTERS = int(os.environ.get("BENCH_REGO_CLUSTERS", "5000"))
OPA_CLUSTERS = int(os.environ.get("BENCH_REGO_OPA_CLUSTERS", "300"))
OPA_BATCH = 50


def _rate(library: RegoLibrary, clusters: list, batch: int) -> tuple[float, int]:
    parameter_sets = {policy.package: [{}] for policy in library.policies}
    started = time.process_time() if batch == 1 else time.perf_counter()
    violations = 0
    for start in range(0, len(clusters), batch):
        for verdicts in library.evaluate_many(clusters[start:start + batch], parameter_sets):
            violations += sum(len(answer[0].violations) for answer in verdicts.values())
    elapsed = (time.process_time() if batch == 1 else time.perf_counter()) - started
    return len(clusters) / elapsed, violations


def run() -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rego"))
    from opa_double import OpaServerTestDouble

    clusters = list(Fleet(generate_fleet(CLUSTERS, seed=11)).clusters())
    started = time.perf_counter()
    embedded = RegoLibrary.load([LIBRARY / "rego"])
    compile_ms = (time.perf_counter() - started) * 1000
    embedded_rate, violations = _rate(embedded, clusters, batch=1)
    with OpaServerTestDouble() as opa:
        remote = RegoLibrary.load([LIBRARY / "rego"], engine="opa", url=opa.url)
        opa_rate, _ = _rate(remote, clusters[:OPA_CLUSTERS], batch=OPA_BATCH)
    return {
        "clusters": CLUSTERS,
        "policies evaluated together": len(embedded.policies),
        "compile (ms)": round(compile_ms, 1),
        "embedded cluster evaluations/s per core (CPU time)": round(embedded_rate),
        "embedded ms per cluster (all policies)": round(1000 / embedded_rate, 3),
        "violations found": violations,
        "opa path via test double (clusters/s, wall, batch 50)": round(opa_rate),
        "goal (embedded, per core)": 2000,
    }
