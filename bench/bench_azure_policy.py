"""Azure Policy evaluation throughput on a generated 10,000-cluster fleet, all shared built-ins assigned.

Goal (issue 4): >= 50,000 (cluster x assignment) evaluations per second on one core. The
figure counts clusters x assignments; each covers the cluster and its child resources.
Three figures: decisions only (the kinds' verdicts, reasons included), the full one-core scan
(verdicts -> records -> sorted PolicyState list), and ``run_scan`` end to end (shards decoded
from the fleet's JSON bytes, summary included) on one and on two worker processes. The goal is
judged on the full one-core scan (``cluster_assignment_evaluations_per_second_one_core``: records
with their reasons included), not on decisions alone.

A fourth figure adds the 22 Audit built-ins of the corpus that target Arc and AKS clusters (Azure
Policy applicability: every cluster of their type is applicable, so most of their records are
Compliant ones): the one-core figure with those Compliant records built (issue 12).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

CLUSTERS = int(os.environ.get("BENCH_AZURE_POLICY_CLUSTERS", "10000"))
BUILTINS = Path(__file__).resolve().parents[1] / ".." / "shared" / "azure-policy-builtins"
CORPUS = BUILTINS.parent / "azure-policy-corpus" / "policyDefinitions"
CLUSTER_AUDITS = ("Azure Arc/Arc_KubernetesCluster_PrivateLinkEnabled_Deny.json", *(f"Kubernetes/{name}.json" for name in (
    "AKS_AAD_Integration_Audit", "AKS_Autoupgrade_Cluster_Audit", "AKS_Autoupgrade_NodeOS_Audit",
    "AKS_AzurePolicyAddOn_Audit", "AKS_CMK_Deny", "AKS_CSI", "AKS_DisableLocalAccounts_Deny",
    "AKS_DisableRunCommand_Audit", "AKS_DisableSSH_Audit", "AKS_EnableCNI", "AKS_EnableKMS",
    "AKS_EncryptionAtHost_Deny", "AKS_ImageCleaner_Audit", "AKS_MSI_Audit", "AKS_PrivateCluster_Deny",
    "AKS_WorkloadIdentity_Audit", "ASC_Azure_Defender_AKS_SecurityProfile_Audit")),
    "Resilience/ContainerService_managedclusters_ZoneRedundant_Audit.json",
    "Security Center/ASC_EnableIpRanges_KubernetesService_Audit.json",
    "Security Center/ASC_EnableRBAC_KubernetesService_Audit.json",
    "Security Center/ASC_UpgradeVersion_KubernetesService_Audit.json")
FLUX_PARAMETERS = {"configurationName": "cluster-config", "repositoryUrl": "https://github.com/contoso/cluster-config",
                   "keyVaultSecretName": "ssh-key", "keyVaultName": "kv"}


def _assignments(directory: Path, extra: tuple[Path, ...] = ()) -> list[Path]:
    """Every built-in (and ``extra`` definition) assigned at tenant scope; the Flux configuration ones with
    their required parameters."""
    files = []
    for definition in (*sorted(BUILTINS.glob("*.json")), *extra):
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
    # run_scan first, while this process holds only the fleet (forked workers inherit the heap)
    timings, scans = {}, {}
    for workers in (1, 2):
        started = time.perf_counter()
        scans[workers] = run_scan(fleet, request, workers=workers)
        timings[workers] = time.perf_counter() - started
    assert [state.to_json() for state in scans[2].records] == [state.to_json() for state in scans[1].records]
    first_records = [state.to_json() for state in scans[1].records[:500]]
    scans.clear()
    engine = ScanEngine(request)
    clusters = list(fleet.clusters())  # parse once: these two figures are evaluation, not JSON decoding
    started = time.process_time()
    for cluster in clusters:  # decisions with reasons, before they become records
        for evaluator in engine.evaluators:
            evaluator.evaluate(cluster, engine.in_scope, request.timestamp)
    deciding = time.process_time() - started
    started = time.process_time()
    one_core = engine.evaluate(clusters)
    records = one_core.records(request.timestamp)
    single = time.process_time() - started
    assert [state.to_json() for state in records[:500]] == first_records
    pairs = CLUSTERS * assignments
    with_audits = _with_cluster_audits(clusters)
    return {
        "clusters": CLUSTERS,
        "assignments": assignments,
        "records": len(records),
        "prepare_seconds": round(prepared, 3),
        "decide_seconds_one_core_cpu": round(deciding, 2),
        "cluster_assignment_decisions_per_second_one_core": round(pairs / deciding),
        "one_core_seconds_cpu_with_records": round(single, 2),
        "cluster_assignment_evaluations_per_second_one_core": round(pairs / single),
        "records_per_second_one_core": round(len(records) / single),
        "resource_policy_evaluations_per_second_one_core": round(one_core.evaluations / single),
        "goal_50000_per_second_one_core_with_records_met": pairs / single >= 50_000,
        "run_scan_seconds_1_worker": round(timings[1], 2),
        "run_scan_seconds_2_workers": round(timings[2], 2),
        "run_scan_cluster_assignment_per_second_2_workers": round(pairs / timings[2]),
        "cores": os.cpu_count(),
        **with_audits,
    }


def _with_cluster_audits(clusters: list) -> dict[str, object]:
    """The one-core figure (records built) with the corpus's cluster Audit built-ins added: Compliant records."""
    from engine.evaluate import prepare_scan
    from engine.evaluate.scan import ScanEngine
    from engine.models.results import ComplianceState

    with tempfile.TemporaryDirectory() as directory:
        audits = tuple(CORPUS / name for name in CLUSTER_AUDITS)
        request = prepare_scan([BUILTINS, *audits], _assignments(Path(directory), audits))
    engine = ScanEngine(request)
    started = time.process_time()
    records = engine.evaluate(clusters).records(request.timestamp)
    seconds = time.process_time() - started
    pairs = len(clusters) * len(request.all_assignments())
    return {"with_cluster_audits_assignments": len(request.all_assignments()),
            "with_cluster_audits_records": len(records),
            "with_cluster_audits_compliant_records": sum(
                record.compliance_state is ComplianceState.COMPLIANT for record in records),
            "with_cluster_audits_cluster_assignment_evaluations_per_second_one_core": round(pairs / seconds),
            "with_cluster_audits_goal_50000_met": pairs / seconds >= 50_000}
