"""``policyreport``: Kubernetes ``wgpolicyk8s.io/v1alpha2`` ClusterPolicyReports, one per cluster.

Azure resources are not namespaced, so every report is cluster-scoped; each record is one
result whose ``properties`` keep the ARM ids that tie it back to the policy state. A cluster's report is
written once its records are complete (:class:`ClusterGroups`). A result's resource is an object reference as
Kubernetes writes one: ``apiVersion`` is group/version, here the resource provider and the ARM api-version whose
shape arcpolicy reads (:data:`RESOURCE_API_VERSIONS`), ``kind`` the type's last segment.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import IO, Any

import yaml

from engine.ids import parse_resource_id
from engine.models.results import ComplianceState
from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord
from engine.output.summary import ClusterGroups, resource_name

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ~10x faster
RESULT = {
    ComplianceState.COMPLIANT: "pass",
    ComplianceState.NON_COMPLIANT: "fail",
    ComplianceState.ERROR: "error",
    ComplianceState.EXEMPT: "skip",
    ComplianceState.UNKNOWN: "warn",  # a Manual policy nobody attested yet
}


# The ARM api-versions whose resource shape arcpolicy reads, per type (the REST specs of engine/azure_policy/
# aliases.py; the resource containers' current stable versions). Other types' references carry no apiVersion.
RESOURCE_API_VERSIONS = {
    "microsoft.kubernetes/connectedclusters": "2024-01-01",
    "microsoft.kubernetesconfiguration/extensions": "2023-05-01",
    "microsoft.kubernetesconfiguration/fluxconfigurations": "2023-05-01",
    "microsoft.kubernetesconfiguration/sourcecontrolconfigurations": "2023-05-01",
    "microsoft.containerservice/managedclusters": "2024-02-01",
    "microsoft.resources/subscriptions": "2022-12-01",
    "microsoft.resources/resourcegroups": "2021-04-01",
}


def object_reference(resource_id: str, resource_type: str) -> dict[str, str]:
    """The Kubernetes object reference of an ARM resource: ``Microsoft.Kubernetes/2024-01-01``,
    ``connectedClusters``, its name."""
    arm_type = parse_resource_id(resource_id).type if resource_id.startswith("/") else resource_type
    namespace, _, kind = arm_type.partition("/")
    version = RESOURCE_API_VERSIONS.get(arm_type.lower())
    return {**({"apiVersion": f"{namespace}/{version}"} if version else {}),
            "kind": kind.split("/")[-1] or resource_type, "name": resource_name(resource_id)}


def _object_name(text: str) -> str:
    """A Kubernetes object name (RFC 1123 subdomain) derived from an ARM name."""
    return re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")[:200] or "unnamed"


def _result(record: dict[str, Any]) -> dict[str, Any]:
    resource_id = record["resourceId"]
    properties = {key: record[key] for key in PROPERTIES if record.get(key)}
    timestamp = datetime.fromisoformat(record["timestamp"])
    return {
        "source": "arcpolicy",
        "policy": record["policyDefinitionName"],
        "rule": record.get("policyDefinitionReferenceId") or record["policyAssignmentName"],
        "category": record["policyDefinitionAction"],
        "result": RESULT[record["complianceState"]],
        "scored": True,
        "timestamp": {"seconds": int(timestamp.timestamp()), "nanos": timestamp.microsecond * 1000},
        "message": "; ".join(reason["message"] for reason in record.get("reasons", ())) or record.get("error")
        or record["complianceState"],
        "resources": [object_reference(resource_id, record["resourceType"])],
        "properties": properties,
    }


PROPERTIES = ("resourceId", "policyAssignmentId", "policyDefinitionId", "policyDefinitionReferenceId", "subscriptionId",
              "exemptionId")


def _report(cluster_id: str, records: list[dict[str, Any]], metadata: ScanMetadata) -> dict[str, Any]:
    results = [_result(record) for record in records]
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


class PolicyReportWriter:
    """One YAML document per cluster, in the order the clusters first appear, each written once complete."""

    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.out = out
        self.metadata = metadata
        self.clusters = ClusterGroups()
        self.written = False

    def add(self, record: OutputRecord) -> None:
        data = record.data
        for cluster_id, records in self.clusters.add(data["resourceId"], data):
            self._write(cluster_id, records)

    def finish(self) -> None:
        for cluster_id, records in self.clusters.finish():
            self._write(cluster_id, records)

    def _write(self, cluster_id: str, records: list[dict[str, Any]]) -> None:
        document = yaml.dump(_report(cluster_id, records, self.metadata), Dumper=SAFE_DUMPER, sort_keys=False,
                             default_flow_style=False)
        self.out.write((("---\n" if self.written else "") + document).encode())
        self.written = True
