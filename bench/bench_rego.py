"""Rego: cluster evaluations per second per core, the six shipped policies together, on each engine side by side.

Goal (issue 13): >= 5,000 cluster evaluations/s per core with the default engine, regorus (one
query per cluster for all six policies, answered by regorus's compiled VM). Per-core figures are
CPU time of this process, so other load on the machine does not count against them; every
engine is measured in this process on the same clusters:

- regorus: the default path (VM), with assignment parameters (two packages with their own
  parameter sets: the VM once per distinct set), and regorus's interpreter alone on the default
  query (the raw query, to show what the VM gains);
- regopy: its engine run in this process for the figure (a scan runs it in a child process for
  crash isolation, which adds a pipe round trip per cluster);
- the real OPA embedded in process (the tests' judge, not an engine of arcpolicy), batched;
- opa: the OPA-server path against OpaServerTestDouble (tests/rego/opa_double.py: an HTTP
  stand-in for the OPA server whose answers come from the real OPA embedded in process), wall
  time, so its figure is the client path (HTTP, an ad-hoc query per batch) over OPA's own speed.

The breakdown splits a regorus cluster into encoding the input as JSON, the VM (taking the input
and running the query) and the Python around them (input document, verdict models).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from engine.inventory import ClusterInventory, Fleet
from engine.inventory.generator import generate_fleet
from engine.rego import RegoLibrary
from engine.rego.bundle import PARAMETER_SETS_KEY
from engine.rego.engines import RegopyEngine
from engine.rego.library import policy_input
from engine.rego.regorus_engine import RegorusEngine
from policies import LIBRARY

CLUSTERS = int(os.environ.get("BENCH_REGO_CLUSTERS", "5000"))
REGOPY_CLUSTERS = int(os.environ.get("BENCH_REGO_REGOPY_CLUSTERS", "1000"))
BREAKDOWN_CLUSTERS = 1000
OPA_CLUSTERS = int(os.environ.get("BENCH_REGO_OPA_CLUSTERS", "300"))
OPA_BATCH = 50
GOAL = 5000
# assignments with their own parameters: these two packages are then evaluated under `with`
ASSIGNED = {"arcpolicy.pinned_versions_allowed": [{"allowedVersions": {"microsoft.flux": ["1.14.0", "1.14.1"]}}],
            "arcpolicy.retired_extensions_absent": [{"retiredExtensionTypes": ["microsoft.openservicemesh",
                                                                               "microsoft.dapr"]}]}


def _rate(library: RegoLibrary, clusters: list[ClusterInventory], sets: dict, batch: int = 1,
          clock: Callable[[], float] = time.process_time) -> tuple[float, int]:
    """Clusters per second by ``clock`` (CPU time of this process by default) and the violations found."""
    started = clock()
    violations = 0
    for start in range(0, len(clusters), batch):
        for verdicts in library.evaluate_many(clusters[start:start + batch], sets):
            violations += sum(len(verdict.violations) for answer in verdicts.values() for verdict in answer)
    return len(clusters) / (clock() - started), violations


def _breakdown(library: RegoLibrary, clusters: list[ClusterInventory], sets: dict) -> dict[str, float]:
    """ms per cluster (CPU) of the regorus default path: the whole, the JSON input, the VM, the rest.

    Measured in one interleaved loop, so the parts and the whole see the same machine load.
    """
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    whole = encoding = vm = 0.0
    for cluster in clusters:
        started = time.thread_time()
        library.evaluate_many([cluster], sets)
        whole += time.thread_time() - started
        document = {**policy_input(cluster), PARAMETER_SETS_KEY: sets}
        started = time.thread_time()
        text = orjson.dumps(document).decode()
        encoding += time.thread_time() - started
        started = time.thread_time()
        engine.vm_results(text)
        vm += time.thread_time() - started
    scale = 1000 / len(clusters)
    return {"whole evaluation": round(whole * scale, 3), "input as JSON (orjson)": round(encoding * scale, 3),
            "VM (set_input_json + execute)": round(vm * scale, 3),
            "python (documents, output JSON, verdicts)": round((whole - encoding - vm) * scale, 3)}


def _interpreter_rate(library: RegoLibrary, clusters: list[ClusterInventory], sets: dict) -> float:
    """Clusters per second (CPU) of regorus's interpreter alone on the default query (the raw answer)."""
    engine = library.engine
    assert isinstance(engine, RegorusEngine)
    documents = [{**policy_input(cluster), PARAMETER_SETS_KEY: sets} for cluster in clusters]
    started = time.process_time()
    for document in documents:
        engine.interpreter_results(document, shared=True)
    return len(documents) / (time.process_time() - started)


def run() -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from rego.opa_double import OpaServerTestDouble
    from rego.opa_oracle import OpaOracle

    fleet = Fleet(generate_fleet(CLUSTERS, seed=11))
    clusters = list(fleet.clusters())
    started = time.perf_counter()
    regorus = RegoLibrary.load([LIBRARY / "rego"])
    compile_ms = (time.perf_counter() - started) * 1000
    defaults = {policy.package: [{}] for policy in regorus.policies}
    regorus_rate, violations = _rate(regorus, clusters, defaults)
    assigned_rate, _ = _rate(regorus, clusters[:BREAKDOWN_CLUSTERS], {**defaults, **ASSIGNED})
    breakdown = _breakdown(regorus, clusters[:BREAKDOWN_CLUSTERS], defaults)
    interpreter_rate = _interpreter_rate(regorus, clusters[:BREAKDOWN_CLUSTERS], defaults)
    regopy = RegoLibrary.load([LIBRARY / "rego"], engine="regopy")
    regopy.engine = RegopyEngine(regopy.bundle)  # in this process, so its CPU time is counted (see docstring)
    regopy_rate, regopy_violations = _rate(regopy, clusters[:REGOPY_CLUSTERS], defaults)
    _, regorus_violations = _rate(regorus, clusters[:REGOPY_CLUSTERS], defaults)
    with OpaServerTestDouble() as opa:
        remote = RegoLibrary.load([LIBRARY / "rego"], engine="opa", url=opa.url, timeout=120.0)  # busy machines
        opa_rate, _ = _rate(remote, clusters[:OPA_CLUSTERS], defaults, OPA_BATCH, time.perf_counter)
    judged = [{**policy_input(cluster), PARAMETER_SETS_KEY: defaults} for cluster in clusters[:OPA_CLUSTERS]]
    with OpaOracle([(module.name, module.source) for module in regorus.bundle.modules]
                   + list(regorus.bundle.entry_sources)) as judge:
        started = time.process_time()
        judge.documents(regorus.bundle.shared_results_path, judged, batch=OPA_BATCH)
        judge_rate = len(judged) / (time.process_time() - started)
    started = time.perf_counter()
    regorus.evaluate_fleet(fleet, defaults)
    pool_rate = CLUSTERS / (time.perf_counter() - started)
    return {
        "clusters": CLUSTERS,
        "policies evaluated together": len(regorus.policies),
        "regorus compile (ms)": round(compile_ms, 1),
        "cluster evaluations/s per core (CPU time), side by side": {
            "regorus (default; VM)": round(regorus_rate),
            "regorus, 2 packages with their own assignment parameters (VM once per set)": round(assigned_rate),
            "regorus interpreter alone, raw query without verdict models": round(interpreter_rate),
            "regopy (in process)": round(regopy_rate),
            "opa via OpaServerTestDouble, a test double (wall time, batch 50)": round(opa_rate),
            "the real OPA embedded (the tests' judge, tests/rego/opa_oracle.py; batch 50)": round(judge_rate),
        },
        "regorus ms per cluster (all policies)": round(1000 / regorus_rate, 3),
        "regorus breakdown, ms per cluster": breakdown,
        f"regorus evaluate_fleet over {os.cpu_count()} worker processes (clusters/s, wall)": round(pool_rate),
        "violations found (regorus)": violations,
        f"same violations on regorus and regopy ({REGOPY_CLUSTERS} clusters)": regopy_violations == regorus_violations,
        "goal (default engine, per core)": GOAL,
        "goal met": regorus_rate >= GOAL,
    }
