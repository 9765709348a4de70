"""Rego: cluster evaluations per second per core for the shipped library evaluated together.

Goal (issue 5): >= 2,000 cluster evaluations/s per core with the embedded engine (one bundle
query per cluster for all six policies). Per-core figures are CPU time of this process, so other
load on the machine does not count against them. The breakdown splits a cluster's cost into
regopy taking the input (``set_input``: the ~7 KB document built node by node through the C
API), the bundle query (with the input already set) and the Python around them (input
document, output JSON, verdict models). The OPA-server path is measured against the
OpaServerTestDouble (tests/rego/opa_double.py: HTTP + regopy compiling the modules for every
request, not a real OPA), so its figure is the client path's overhead, not OPA's own speed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.rego import RegoLibrary
from engine.rego.bundle import PARAMETER_SETS_KEY
from engine.rego.engines import EmbeddedEngine
from engine.rego.library import policy_input
from policies import LIBRARY

CLUSTERS = int(os.environ.get("BENCH_REGO_CLUSTERS", "5000"))
BREAKDOWN_CLUSTERS = 1000
OPA_CLUSTERS = int(os.environ.get("BENCH_REGO_OPA_CLUSTERS", "300"))
OPA_BATCH = 50
# assignments with their own parameters: these two packages are then evaluated under `with`
ASSIGNED = {"arcpolicy.pinned_versions_allowed": [{"allowedVersions": {"microsoft.flux": ["1.14.0", "1.14.1"]}}],
            "arcpolicy.retired_extensions_absent": [{"retiredExtensionTypes": ["microsoft.openservicemesh",
                                                                               "microsoft.dapr"]}]}


def _rate(library: RegoLibrary, clusters: list, sets: dict, batch: int) -> tuple[float, int]:
    """Clusters per second: CPU time for the embedded engine (batch 1), wall time for OPA (HTTP)."""
    clock = time.process_time if batch == 1 else time.perf_counter
    started = clock()
    violations = 0
    for start in range(0, len(clusters), batch):
        for verdicts in library.evaluate_many(clusters[start:start + batch], sets):
            violations += sum(len(verdict.violations) for answer in verdicts.values() for verdict in answer)
    return len(clusters) / (clock() - started), violations


def _breakdown(library: RegoLibrary, clusters: list, sets: dict) -> dict[str, float]:
    """ms per cluster (CPU): the whole evaluation, regopy taking the input, the query alone, the rest.

    Measured in one interleaved loop, so the parts and the whole see the same machine load.
    """
    engine = library.engine
    assert isinstance(engine, EmbeddedEngine)
    whole = taking = querying = 0.0
    for cluster in clusters:
        started = time.thread_time()
        library.evaluate_many([cluster], sets)
        whole += time.thread_time() - started
        document = {**policy_input(cluster), PARAMETER_SETS_KEY: sets}
        started = time.thread_time()
        engine.set_input(document)
        taking += time.thread_time() - started
        started = time.thread_time()
        engine.query(engine.bundle.shared_results_path)
        querying += time.thread_time() - started
    scale = 1000 / len(clusters)
    return {"whole evaluation": round(whole * scale, 3), "input (set_input)": round(taking * scale, 3),
            "query (input already set)": round(querying * scale, 3),
            "python (documents, output JSON, verdicts)": round((whole - taking - querying) * scale, 3)}


def run() -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rego"))
    from opa_double import OpaServerTestDouble

    fleet = Fleet(generate_fleet(CLUSTERS, seed=11))
    clusters = list(fleet.clusters())
    started = time.perf_counter()
    embedded = RegoLibrary.load([LIBRARY / "rego"])
    compile_ms = (time.perf_counter() - started) * 1000
    # regopy in this process, as measured so far: a scan runs it in a child (crash isolation, engine/rego/
    # isolation.py), which adds a pipe round trip per cluster that CPU time of this process would not show
    embedded.engine = EmbeddedEngine(embedded.bundle)
    defaults = {policy.package: [{}] for policy in embedded.policies}
    embedded_rate, violations = _rate(embedded, clusters, defaults, batch=1)
    assigned_rate, _ = _rate(embedded, clusters[:BREAKDOWN_CLUSTERS], {**defaults, **ASSIGNED}, batch=1)
    breakdown = _breakdown(embedded, clusters[:BREAKDOWN_CLUSTERS], defaults)
    started = time.perf_counter()
    embedded.evaluate_fleet(fleet, defaults)
    pool_rate = CLUSTERS / (time.perf_counter() - started)
    with OpaServerTestDouble() as opa:
        remote = RegoLibrary.load([LIBRARY / "rego"], engine="opa", url=opa.url)
        opa_rate, _ = _rate(remote, clusters[:OPA_CLUSTERS], defaults, batch=OPA_BATCH)
    return {
        "clusters": CLUSTERS,
        "policies evaluated together": len(embedded.policies),
        "compile (ms)": round(compile_ms, 1),
        "embedded cluster evaluations/s per core (CPU time)": round(embedded_rate),
        "embedded ms per cluster (all policies)": round(1000 / embedded_rate, 3),
        "breakdown, ms per cluster": breakdown,
        "embedded with assignment parameters (2 packages under with), evaluations/s per core": round(assigned_rate),
        f"evaluate_fleet over {os.cpu_count()} worker processes (clusters/s, wall)": round(pool_rate),
        "violations found": violations,
        "opa path via OpaServerTestDouble, a test double (clusters/s, wall, batch 50)": round(opa_rate),
        "goal (embedded, per core)": 2000,
    }
