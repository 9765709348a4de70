"""``policyreport``: Kubernetes ``wgpolicyk8s.io/v1alpha2`` ClusterPolicyReports, one per cluster.

Azure resources are not namespaced, so every report is cluster-scoped; each record is one
result whose ``properties`` keep the ARM ids that tie it back to the policy state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from engine.ids import parse_resource_id
from engine.models.results import ComplianceState, PolicyState
from engine.output.context import ScanMetadata
from engine.output.registry import output_format
from engine.output.summary import cluster_of, resource_name

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ~10x faster
RESULT = {
    ComplianceState.COMPLIANT: "pass",
    ComplianceState.NON_COMPLIANT: "fail",
    ComplianceState.ERROR: "error",
    ComplianceState.EXEMPT: "skip",
    ComplianceState.UNKNOWN: "warn",  # a Manual policy nobody attested yet
}


def _object_name(text: str) -> str:
    """A Kubernetes object name (RFC 1123 subdomain) derived from an ARM name."""
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")[:200] or "unnamed"


def _result(state: PolicyState) -> dict[str, Any]:
    resource_type = parse_resource_id(state.resource_id).type if state.resource_id.startswith("/") else ""
    namespace, _, kind = resource_type.partition("/")
    properties = {key: value for key, value in {
        "resourceId": state.resource_id,
        "policyAssignmentId": state.policy_assignment_id,
        "policyDefinitionId": state.policy_definition_id,
        "policyDefinitionReferenceId": state.policy_definition_reference_id,
        "subscriptionId": state.subscription_id,
        "exemptionId": state.exemption_id,
    }.items() if value}
    seconds = state.timestamp.timestamp()
    return {
        "source": "arcpolicy",
        "policy": state.policy_definition_name,
        "rule": state.policy_definition_reference_id or state.policy_assignment_name,
        "category": state.policy_definition_action,
        "result": RESULT[state.compliance_state],
        "scored": True,
        "timestamp": {"seconds": int(seconds), "nanos": state.timestamp.microsecond * 1000},
        "message": "; ".join(reason.message for reason in state.reasons) or state.error
        or state.compliance_state.value,
        "resources": [{"apiVersion": namespace, "kind": kind.split("/")[-1] or state.resource_type,
                       "name": resource_name(state.resource_id)}],
        "properties": properties,
    }


def _report(cluster_id: str, states: list[PolicyState], metadata: ScanMetadata) -> dict[str, Any]:
    results = [_result(state) for state in states]
    summary = {outcome: sum(1 for result in results if result["result"] == outcome)
               for outcome in ("pass", "fail", "warn", "error", "skip")}
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterPolicyReport",
        "metadata": {
            "name": _object_name(f"arcpolicy-{resource_name(cluster_id)}"),
            "labels": {"app.kubernetes.io/managed-by": "arcpolicy"},
            "annotations": {"arcpolicy.io/cluster-id": cluster_id, "arcpolicy.io/scan-id": metadata.scan_id},
        },
        "summary": summary,
        "results": results,
    }


@output_format("policyreport", ".yaml", "wgpolicyk8s.io/v1alpha2 ClusterPolicyReport YAML, one per cluster")
def render_policyreport(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    clusters: dict[str, list[PolicyState]] = {}
    for state in states:
        clusters.setdefault(cluster_of(state).lower(), []).append(state)
    reports = [_report(cluster_of(members[0]), members, metadata) for members in clusters.values()]
    return yaml.dump_all(reports, Dumper=SAFE_DUMPER, sort_keys=False, default_flow_style=False) if reports else ""
