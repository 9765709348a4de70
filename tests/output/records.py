"""Policy states built by hand, the way the evaluate stage emits them, for output and history tests."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.models.results import ComplianceState, PolicyState, Reason

SUBSCRIPTIONS = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
POLICIES = ("require-defender", "require-flux", "allowed-extension-versions")


def cluster_id(subscription: str, name: str) -> str:
    return (f"/subscriptions/{subscription}/resourceGroups/rg-{name}/providers/"
            f"Microsoft.Kubernetes/connectedClusters/{name}")


def extension_id(subscription: str, cluster: str, extension: str) -> str:
    return f"{cluster_id(subscription, cluster)}/providers/Microsoft.KubernetesConfiguration/extensions/{extension}"


def make_state(resource_id: str, policy: str, state: ComplianceState, subscription: str = SUBSCRIPTIONS[0],
               reasons: list[Reason] | None = None, reference_id: str | None = None,
               timestamp: datetime | None = None) -> PolicyState:
    extension = "/extensions/" in resource_id
    return PolicyState(
        resource_id=resource_id,
        resource_type=("Microsoft.KubernetesConfiguration/extensions" if extension
                       else "Microsoft.Kubernetes/connectedClusters"),
        resource_location="westeurope",
        subscription_id=subscription,
        resource_group=resource_id.split("/")[4],
        policy_assignment_id=f"/subscriptions/{subscription}/providers/Microsoft.Authorization/policyAssignments/a-{policy}",
        policy_assignment_name=f"a-{policy}",
        policy_definition_id=f"/providers/Microsoft.Authorization/policyDefinitions/{policy}",
        policy_definition_name=policy,
        policy_definition_display_name=policy.replace("-", " ").capitalize(),
        policy_definition_reference_id=reference_id,
        policy_definition_action="auditIfNotExists",
        compliance_state=state,
        is_compliant=state is ComplianceState.COMPLIANT,
        timestamp=timestamp or datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
        reasons=reasons or [],
        exemption_id="/subscriptions/x/providers/Microsoft.Authorization/policyExemptions/e1"
        if state is ComplianceState.EXEMPT else None,
        exemption_category="waiver" if state is ComplianceState.EXEMPT else None,
        error="evaluation failed: field not found" if state is ComplianceState.ERROR else None,
    )


def fleet_states(non_compliant_clusters: frozenset[str] = frozenset({"edge-2", "edge-3"}),
                 clusters: tuple[str, ...] = ("edge-1", "edge-2", "edge-3", "core-1")) -> list[PolicyState]:
    """Every cluster against three policies; the named clusters lack the Defender extension."""
    states = []
    for index, cluster in enumerate(clusters):
        subscription = SUBSCRIPTIONS[index % 2]
        resource = cluster_id(subscription, cluster)
        missing = cluster in non_compliant_clusters
        states.append(make_state(
            resource, "require-defender",
            ComplianceState.NON_COMPLIANT if missing else ComplianceState.COMPLIANT, subscription,
            [Reason(message="extension microsoft.azuredefender.kubernetes is not installed",
                    field="Microsoft.KubernetesConfiguration/extensions/extensionType", operator="equals",
                    expected="microsoft.azuredefender.kubernetes", actual=None)] if missing else None))
        states.append(make_state(resource, "require-flux",
                                 ComplianceState.EXEMPT if cluster == "core-1" else ComplianceState.COMPLIANT,
                                 subscription, reference_id="flux-ref"))
        states.append(make_state(extension_id(subscription, cluster, "flux"), "allowed-extension-versions",
                                 ComplianceState.ERROR if cluster == "edge-1" else ComplianceState.COMPLIANT,
                                 subscription))
    return states
