"""Planning for a generated 10,000-cluster fleet, half non-compliant against three DINE assignments.

Goal (issue 6): under 10 s from the non-compliant records to the plan (expansion of every DINE
deployment, dedup, rules, graph, waves), plus the time to write plan.json and the reports.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

CLUSTERS = int(os.environ.get("BENCH_PLAN_CLUSTERS", "10000"))
BUILTINS = Path(__file__).resolve().parents[1] / ".." / "shared" / "azure-policy-builtins"
DEFINITIONS = ("ASC_Azure_Defender_Arc_Extension_DINE.json", "ArcPolicyExtension_DINE.json",
               "Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json")


def run() -> dict[str, object]:
    from engine.inventory import load_snapshot
    from engine.inventory.generator import write_generated_fleet
    from engine.models.results import ComplianceState, PolicyState
    from remediation.plan.builder import build_plan
    from remediation.plan.io import write_plan
    from remediation.plan.requests import wanted_from_dine
    from remediation.report import render_html, render_markdown
    from remediation.template import DineDeployment

    with tempfile.TemporaryDirectory() as directory:
        fleet_file = Path(directory) / "fleet.json"
        write_generated_fleet(fleet_file, CLUSTERS, seed=1)
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
