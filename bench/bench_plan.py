"""Planning at fleet scale: 10,000 generated clusters.

1. Half non-compliant against three DINE built-ins (issue 6): under 10 s from the non-compliant
   records to the plan (expansion of every DINE deployment, dedup, rules, graph, waves), plus the
   time to write plan.json (goal <= 15 MB, issue 14) and the reports.
2. Growth: the same at 5,000 and 20,000 clusters, CPU microseconds per cluster from the records to the plan
   (best of ``BENCH_PLAN_REPEATS``); goal: 20,000's within 1.15x of 5,000's (issue 21).
3. The shipped library (policies/azure + policies/rego) on generated fleets of several seeds, as
   ``arcpolicy plan`` runs it (scan, expansion, graph, waves, writing: the stages its progress
   shows, each timed here): conflicts (goal 0, issue 14), operations, plan.json size.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

CLUSTERS = int(os.environ.get("BENCH_PLAN_CLUSTERS", "10000"))
GROWTH_CLUSTERS = [int(count) for count in os.environ.get("BENCH_PLAN_GROWTH", "5000,20000").split(",")]
REPEATS = int(os.environ.get("BENCH_PLAN_REPEATS", "2"))
SEEDS = [int(seed) for seed in os.environ.get("BENCH_PLAN_SEEDS", "1,2").split(",")]
BUILTINS = Path(__file__).resolve().parents[1] / ".." / "shared" / "azure-policy-builtins"
DEFINITIONS = ("ASC_Azure_Defender_Arc_Extension_DINE.json", "ArcPolicyExtension_DINE.json",
               "Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json")


class StageTimes:
    """A plan progress callback that times each stage from its first report to its last."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        self.started.setdefault(stage, now)
        self.ended[stage] = now

    def seconds(self) -> dict[str, float]:
        return {stage: round(self.ended[stage] - self.started[stage], 2) for stage in self.started}


def run() -> dict[str, object]:
    figures = dine_builtins()
    figures["growth"] = growth()
    figures["shipped_library"] = [shipped_library(seed) for seed in SEEDS]
    return figures


def _non_compliant(clusters: int, directory: Path) -> tuple[Any, list[dict[str, Any]], list[tuple[Any, ...]]]:
    """A generated fleet, the three DINE built-ins, and every other cluster's record against each of them."""
    from datetime import UTC, datetime

    from engine.inventory import load_snapshot
    from engine.inventory.generator import write_generated_fleet
    from engine.models.results import ComplianceState, PolicyState

    fleet_file = directory / "fleet.json"
    write_generated_fleet(fleet_file, clusters, seed=1)
    fleet = load_snapshot(fleet_file)
    definitions = [json.loads((BUILTINS / name).read_text()) for name in DEFINITIONS]
    now = datetime.now(UTC)
    states = [
        (PolicyState(resource_id=cluster.id, resource_type=cluster.resource["type"],
                     policy_assignment_id=f"/providers/Microsoft.Authorization/policyAssignments/{definition['name']}",
                     policy_assignment_name=definition["name"], policy_definition_id=definition["id"],
                     policy_definition_name=definition["name"], policy_definition_action="deployifnotexists",
                     compliance_state=ComplianceState.NON_COMPLIANT, is_compliant=False, timestamp=now),
         definition, cluster.resource)
        for index, cluster in enumerate(fleet.clusters()) if index % 2 == 0 for definition in definitions]
    return fleet, definitions, states


def growth() -> dict[str, object]:
    """CPU per cluster from the records to the plan (expansion inside ``build_plan``, as ``plan_from_scan`` does)."""
    from remediation.plan.builder import build_plan
    from remediation.plan.requests import wanted_from_dine
    from remediation.template import DineDeployment

    per_cluster = {}
    for clusters in GROWTH_CLUSTERS:
        with tempfile.TemporaryDirectory() as directory:
            fleet, definitions, states = _non_compliant(clusters, Path(directory))
            best = float("inf")
            for _ in range(REPEATS):
                started = time.process_time()
                compiled = {definition["id"]: DineDeployment.from_definition(definition) for definition in definitions}
                build_plan((item for state, definition, resource in states
                            for item in wanted_from_dine(state, compiled[definition["id"]], resource, {})), fleet)
                best = min(best, time.process_time() - started)
            per_cluster[clusters] = round(best / clusters * 1e6)
    smallest, largest = min(per_cluster), max(per_cluster)
    return {"cpu_microseconds_per_cluster": per_cluster,
            f"ratio_{largest}_vs_{smallest}": round(per_cluster[largest] / per_cluster[smallest], 3)}


def dine_builtins() -> dict[str, object]:
    from remediation.plan.builder import build_plan
    from remediation.plan.io import write_plan
    from remediation.plan.requests import wanted_from_dine
    from remediation.report import render_html, render_markdown
    from remediation.template import DineDeployment

    with tempfile.TemporaryDirectory() as directory:
        fleet, definitions, states = _non_compliant(CLUSTERS, Path(directory))
        started = time.perf_counter()
        compiled = {definition["id"]: DineDeployment.from_definition(definition) for definition in definitions}
        wanted = [item for state, definition, resource in states
                  for item in wanted_from_dine(state, compiled[definition["id"]], resource, {})]
        expanded = time.perf_counter()
        plan = build_plan(wanted, fleet)
        planned = time.perf_counter()
        write_plan(plan, Path(directory) / "plan.json")
        written = time.perf_counter()
        html, markdown = render_html(plan), render_markdown(plan)
        reported = time.perf_counter()
        plan_mb = (Path(directory) / "plan.json").stat().st_size / 1e6
    return {
        "clusters": CLUSTERS,
        "non_compliant_records": len(states),
        "wanted_writes": len(wanted),
        "operations": len(plan.operations),
        "conflicts": len(plan.conflicts),
        "waves": len(plan.waves),
        "expand_seconds": round(expanded - started, 2),
        "graph_seconds": round(planned - expanded, 2),
        "plan_seconds": round(planned - started, 2),
        "write_plan_seconds": round(written - planned, 2),
        "reports_seconds": round(reported - written, 2),
        "plan_json_mb": round(plan_mb, 1),
        "report_html_mb": round(len(html) / 1e6, 1),
        "report_md_kb": round(len(markdown) / 1e3, 1),
    }


def shipped_library(seed: int) -> dict[str, object]:
    from engine.evaluate import prepare_scan, run_scan
    from engine.inventory import load_snapshot
    from engine.inventory.generator import write_generated_fleet
    from policies import LIBRARY
    from remediation.plan.from_scan import plan_from_scan
    from remediation.plan.io import write_plan

    with tempfile.TemporaryDirectory() as directory:
        fleet_file, plan_file = Path(directory) / "fleet.json", Path(directory) / "plan.json"
        write_generated_fleet(fleet_file, CLUSTERS, seed=seed)
        fleet = load_snapshot(fleet_file)
        request = prepare_scan([LIBRARY / "azure", LIBRARY / "rego"], [], [])
        stages = StageTimes()
        started = time.perf_counter()
        stages("scan", 0, len(fleet))
        result = run_scan(fleet, request, None, lambda done, total: stages("scan", done, total))
        plan = plan_from_scan(fleet, request, result, progress=stages)
        stages("writing", 0, 1)
        write_plan(plan, plan_file)
        stages("writing", 1, 1)
        total = time.perf_counter() - started
        return {"seed": seed, "clusters": CLUSTERS, "records": len(result.records), "operations": len(plan.operations),
                "conflicts": len(plan.conflicts), "waves": len(plan.waves),
                "plan_json_mb": round(plan_file.stat().st_size / 1e6, 1), "seconds": round(total, 1),
                "stage_seconds": stages.seconds()}
