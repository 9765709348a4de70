"""Azure Policy evaluation throughput on a generated 10,000-cluster fleet, all shared built-ins assigned.

Goal (issue 4): >= 50,000 (cluster x assignment) evaluations per second on one core. The
figure counts clusters x assignments; each covers the cluster and its child resources.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

CLUSTERS = int(os.environ.get("BENCH_AZURE_POLICY_CLUSTERS", "10000"))
BUILTINS = Path(__file__).resolve().parents[1] / ".." / "shared" / "azure-policy-builtins"
FLUX_PARAMETERS = {"configurationName": "cluster-config", "repositoryUrl": "https://github.com/contoso/cluster-config",
                   "keyVaultSecretName": "ssh-key", "keyVaultName": "kv"}


def _assignments(directory: Path) -> list[Path]:
    """Every built-in assigned at tenant scope; the Flux configuration ones with their required parameters."""
    files = []
    for definition in sorted(BUILTINS.glob("*.json")):
        document = json.loads(definition.read_text())
        declared = document["properties"]["parameters"]
        parameters = {name: {"value": value} for name, value in FLUX_PARAMETERS.items() if name in declared}
        assignment = {"id": f"/providers/Microsoft.Authorization/policyAssignments/{document['name']}",
                      "name": document["name"], "type": "Microsoft.Authorization/policyAssignments",
                      "properties": {"scope": "/", "policyDefinitionId": document["id"], "parameters": parameters}}
        files.append(directory / f"{definition.stem}.assignment.json")
        files[-1].write_text(json.dumps(assignment))
    return files


def run() -> dict[str, object]:
    from engine.evaluate import prepare_scan, run_scan
    from engine.evaluate.scan import ScanEngine
    from engine.inventory import Fleet
    from engine.inventory.generator import generate_fleet

    fleet = Fleet(generate_fleet(CLUSTERS, seed=1))
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        request = prepare_scan([BUILTINS], _assignments(Path(directory)))
        prepared = time.perf_counter() - started
    assignments = len(request.all_assignments())
    engine = ScanEngine(request)
    clusters = list(fleet.clusters())  # parse once: the figure is evaluation, not JSON decoding
    started = time.perf_counter()
    for cluster in clusters:  # decisions with reasons, before they become PolicyState records
        for evaluator in engine.evaluators:
            evaluator.evaluate(cluster, engine.in_scope, request.timestamp)
    deciding = time.perf_counter() - started
    started = time.perf_counter()
    one_core = engine.evaluate(clusters)
    single = time.perf_counter() - started
    started = time.perf_counter()
    pooled = run_scan(fleet, request)
    pooled_seconds = time.perf_counter() - started
    assert len(pooled.records) == len(one_core.records)
    pairs = CLUSTERS * assignments
    return {
        "clusters": CLUSTERS,
        "assignments": assignments,
        "records": len(one_core.records),
        "prepare_seconds": round(prepared, 3),
        "one_core_seconds": round(single, 2),
        "decide_seconds_one_core": round(deciding, 2),
        "cluster_assignment_decisions_per_second_one_core": round(pairs / deciding),
        "cluster_assignment_evaluations_per_second_one_core": round(pairs / single),
        "resource_policy_evaluations_per_second_one_core": round(one_core.evaluations / single),
        "full_scan_seconds_all_cores": round(pooled_seconds, 2),
        "workers": os.cpu_count(),
    }
