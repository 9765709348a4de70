"""The plan graph: dedup, conflicts, the seed extension rules, cycles, waves and plan.json."""

from __future__ import annotations

import json

import pytest

from engine import ids
from engine.cli.main import main
from engine.errors import InputError
from remediation.plan.builder import PlanOptions, build_plan
from remediation.plan.graph import PlanCycleError
from remediation.plan.io import plan_json, read_plan, write_plan
from remediation.plan.models import Action, OperationStatus, Reason
from remediation.plan.requests import WantedOperation, wanted_from_rego
from remediation.plan.waves import RolloutOptions
from remediation.template import ExpandedResource

from .builders import (
    AZURE_POLICY,
    DEFENDER,
    FLUX_EXTENSION,
    FLUX_PUBLIC,
    FLUX_SSH,
    NOW,
    OTHER_SUBSCRIPTION,
    SUBSCRIPTION,
    cluster,
    extension,
    fleet,
    state,
    wanted,
)

FLUX_CONFIG = {"configurationName": "baseline", "repositoryUrl": "https://github.com/contoso/baseline",
               "keyVaultName": "kv", "keyVaultSecretName": "ssh"}


def by_type(plan, suffix: str) -> list:
    return [operation for operation in plan.operations if operation.resource_type.lower().endswith(suffix)]


def test_shared_workspace_is_one_operation_wanted_by_every_cluster() -> None:
    clusters = [cluster(f"c{index}", group=f"rg-{index}") for index in range(4)]
    plan = build_plan([item for each in clusters for item in wanted(each, DEFENDER)], fleet(*clusters), created_at=NOW)
    (workspace,) = by_type(plan, "workspaces")
    (group,) = by_type(plan, "resourcegroups")
    assert len(workspace.reasons) == 4
    assert {reason.evaluated_resource_id for reason in workspace.reasons} == {each["id"] for each in clusters}
    assert workspace.depends_on == [group.id]
    extensions = by_type(plan, "extensions")
    assert len(extensions) == 4 and all(operation.depends_on == [workspace.id] for operation in extensions)
    assert all(operation.action is Action.CREATE for operation in plan.operations)


def test_two_policies_wanting_different_bodies_for_one_target_is_a_conflict() -> None:
    arc = cluster("c1")
    first = wanted(arc, FLUX_EXTENSION, "flux-stable")
    second = wanted(arc, FLUX_EXTENSION, "flux-pinned", {"autoUpgradeMinorVersion": False, "version": "1.14.1"})
    plan = build_plan([*first, *second], fleet(arc), created_at=NOW)
    (operation,) = plan.operations
    assert operation.status is OperationStatus.SKIPPED and "conflict" in operation.flags
    (conflict,) = plan.conflicts
    assert conflict.operations == [operation.id]
    assert {reason.policy_assignment_id.rsplit("/", 1)[-1] for reason in conflict.reasons} == {
        "flux-stable", "flux-pinned"}
    clashes = {clash.path: [value.value for value in clash.values] for clash in conflict.fields}
    assert clashes["properties.autoUpgradeMinorVersion"] == [True, False]
    assert "properties.autoUpgradeMinorVersion" in conflict.message
    assert plan.waves == []


def test_same_body_from_two_policies_is_deduplicated_not_a_conflict() -> None:
    arc = cluster("c1")
    plan = build_plan([*wanted(arc, FLUX_EXTENSION, "one"), *wanted(arc, FLUX_EXTENSION, "two")], fleet(arc))
    (operation,) = plan.operations
    assert operation.status is OperationStatus.PLANNED and len(operation.reasons) == 2 and not plan.conflicts


@pytest.mark.parametrize(("architectures", "facts", "expected"), [
    ("arm64", {}, OperationStatus.SKIPPED),
    ("amd64,arm64", {}, OperationStatus.PLANNED),
    (None, {"arm64"}, OperationStatus.SKIPPED),
])
def test_arm64_only_clusters_get_only_flux_and_defender(architectures, facts, expected) -> None:
    arc = cluster("c1", architectures=architectures)
    options = PlanOptions(node_architectures={ids.normalize(arc["id"]): tuple(facts)} if facts else {})
    plan = build_plan([*wanted(arc, AZURE_POLICY), *wanted(arc, FLUX_EXTENSION), *wanted(arc, DEFENDER)],
                      fleet(arc), options)
    statuses = {operation.resource_id.rsplit("/", 1)[-1]: operation.status for operation in by_type(plan, "extensions")}
    assert statuses["azurepolicy"] is expected
    assert statuses["flux"] is OperationStatus.PLANNED
    assert statuses["microsoft.azuredefender.kubernetes"] is OperationStatus.PLANNED
    if expected is OperationStatus.SKIPPED:
        skipped = next(operation for operation in plan.operations if operation.resource_id.endswith("/azurepolicy"))
        assert "arm64" in skipped.reason.why


def test_unknown_architecture_is_assumed_amd64_and_flagged() -> None:
    arc = cluster("c1")
    (operation,) = build_plan(wanted(arc, AZURE_POLICY), fleet(arc)).operations
    assert operation.status is OperationStatus.PLANNED and "node-architecture-unknown" in operation.flags


def test_cluster_scoped_type_installed_under_another_name_is_updated_not_created_twice() -> None:
    arc = cluster("c1")
    existing = extension(arc, "my-policy-addon", "Microsoft.PolicyInsights", namespace="kube-system")
    (operation,) = build_plan(wanted(arc, AZURE_POLICY), fleet(arc, existing)).operations
    assert operation.action is Action.UPDATE
    assert operation.resource_id == existing["id"]
    assert "retargeted-to-existing-instance" in operation.flags and "my-policy-addon" in operation.reason.why


def test_cluster_scoped_type_in_another_release_namespace_is_a_reported_conflict() -> None:
    arc = cluster("c1")
    existing = extension(arc, "policy", "microsoft.policyinsights", namespace="gatekeeper-system")
    plan = build_plan(wanted(arc, AZURE_POLICY), fleet(arc, existing))
    (operation,) = plan.operations
    assert operation.status is OperationStatus.SKIPPED and operation.action is Action.CREATE
    assert "gatekeeper-system" in plan.conflicts[0].message


def test_existing_instance_with_the_same_name_is_an_update() -> None:
    arc = cluster("c1")
    existing = extension(arc, "azurepolicy", "microsoft.policyinsights")
    (operation,) = build_plan(wanted(arc, AZURE_POLICY), fleet(arc, existing)).operations
    assert operation.action is Action.UPDATE and "retargeted-to-existing-instance" not in operation.flags


def rego_state(arc, name: str, extension_type: str, scope: dict, action: str | None = None):
    entry = {"name": name, "properties": {"extensionType": extension_type, "scope": scope}}
    if action:
        entry["action"] = action
    return state(arc, "rego-policy", "rego", action="audit", remediation=[entry])


def test_namespace_scoped_type_may_have_several_instances() -> None:
    arc = cluster("c1")
    existing = extension(arc, "gw-1", "microsoft.apimanagement", namespace="apim-1", namespace_scoped=True)
    wanted_ops = wanted_from_rego(rego_state(arc, "gw-2", "Microsoft.ApiManagement",
                                             {"namespace": {"targetNamespace": "apim-2"}}))
    (operation,) = build_plan(wanted_ops, fleet(arc, existing)).operations
    assert operation.action is Action.CREATE and operation.resource_id.endswith("/extensions/gw-2")


def test_rego_remediation_delete_has_no_body() -> None:
    arc = cluster("c1")
    existing = extension(arc, "osm", "microsoft.openservicemesh")
    wanted_ops = wanted_from_rego(rego_state(arc, "osm", "microsoft.openservicemesh", {}, action="delete"))
    (operation,) = build_plan(wanted_ops, fleet(arc, existing)).operations
    assert operation.action is Action.DELETE and operation.body is None


def test_protected_settings_on_a_disconnected_cluster_are_deferred_unless_included() -> None:
    offline = cluster("c1", connectivity="Offline")
    plan = build_plan(wanted(offline, DEFENDER), fleet(offline))
    (defender,) = by_type(plan, "extensions")
    assert defender.status is OperationStatus.DEFERRED and "48 hours" in defender.reason.why
    assert all(operation.status is OperationStatus.PLANNED for operation in plan.operations if operation is not defender)
    included = build_plan(wanted(offline, DEFENDER), fleet(offline), PlanOptions(include_disconnected=True))
    (defender,) = by_type(included, "extensions")
    assert defender.status is OperationStatus.WAITING
    assert "protected-settings-expire-after-48h" in defender.flags
    assert defender.wave is not None


def test_disconnected_cluster_without_protected_settings_is_planned_waiting() -> None:
    offline = cluster("c1", connectivity="Expired")
    (operation,) = build_plan(wanted(offline, AZURE_POLICY), fleet(offline)).operations
    assert operation.status is OperationStatus.WAITING and "reconnects" in operation.reason.why


def test_flux_configuration_waits_for_the_flux_extension_and_is_skipped_without_it() -> None:
    arc = cluster("c1")
    plan = build_plan([*wanted(arc, FLUX_PUBLIC, "cfg", FLUX_CONFIG), *wanted(arc, FLUX_EXTENSION)], fleet(arc))
    (configuration,) = by_type(plan, "fluxconfigurations")
    (flux,) = by_type(plan, "extensions")
    assert configuration.depends_on == [flux.id] and configuration.status is OperationStatus.PLANNED
    alone = build_plan(wanted(arc, FLUX_PUBLIC, "cfg", FLUX_CONFIG), fleet(arc))
    assert alone.operations[0].status is OperationStatus.SKIPPED
    assert "microsoft.flux" in alone.operations[0].reason.why


def test_skipped_prerequisite_skips_its_dependents() -> None:
    arc = cluster("c1")
    other = cluster("c2")
    pinned = wanted(other, DEFENDER, "d2", {"logAnalyticsWorkspaceResourceId": ""})
    conflicting = [WantedOperation(item.action, ExpandedResource(item.resource.resource_id, item.resource.resource_type,
                                                                 "2099-01-01", {"location": "mars"}),
                                   item.reason, item.cluster_id)
                   for item in pinned if item.resource.resource_type.endswith("resourceGroups")]
    plan = build_plan([*wanted(arc, DEFENDER), *conflicting], fleet(arc, other))
    statuses = {operation.resource_type.split("/")[-1]: operation.status for operation in plan.operations}
    assert statuses == {"resourceGroups": OperationStatus.SKIPPED, "workspaces": OperationStatus.SKIPPED,
                        "extensions": OperationStatus.SKIPPED}


def test_cycle_is_an_error_naming_it() -> None:
    arc = cluster("c1")
    base = arc["id"] + "/providers/Microsoft.KubernetesConfiguration/extensions/"
    reason = Reason(policy_assignment_id="/a")
    loop = [WantedOperation(Action.CREATE, ExpandedResource(base + name, "Microsoft.KubernetesConfiguration/extensions",
                                                            "2023-05-01", {"properties": {}},
                                                            depends_on=(base + after,)), reason, arc["id"])
            for name, after in (("a", "b"), ("b", "c"), ("c", "a"))]
    with pytest.raises(PlanCycleError) as caught:
        build_plan(loop, fleet(arc))
    assert all(f"/extensions/{name}" in str(caught.value) for name in "abc")


def test_waves_canary_first_prerequisites_never_later_and_subscription_pacing() -> None:
    clusters = [cluster(f"c{index:02d}", subscription=OTHER_SUBSCRIPTION if index % 2 else SUBSCRIPTION)
                for index in range(10)]
    plan = build_plan([item for each in clusters for item in wanted(each, DEFENDER)], fleet(*clusters),
                      PlanOptions(rollout=RolloutOptions(canary_clusters=2, max_writes_per_subscription=2)))
    by_id = {operation.id: operation for operation in plan.operations}
    assert plan.waves[0].name == "canary"
    canary = [operation for wave in plan.waves if wave.name.startswith("canary") for operation in wave.operations]
    canary_clusters = {ids.normalize(by_id[operation].cluster_id) for operation in canary if by_id[operation].cluster_id}
    # two clusters chosen to bring in both subscriptions' shared group and workspace (not the first two by name)
    assert canary_clusters == {ids.normalize(cluster_id) for cluster_id in plan.canary.clusters}
    assert {by_id[operation].subscription_id for operation in canary} == {SUBSCRIPTION, OTHER_SUBSCRIPTION}
    assert len(canary_clusters) == 2 and plan.canary.prerequisite_clusters == []
    assert [wave.name for wave in plan.waves[:3]] == ["canary", "canary-2", "wave-1"]  # paced, then the rest
    canary_shared = {by_id[operation].resource_type for operation in canary}
    assert "Microsoft.OperationalInsights/workspaces" in canary_shared  # the canary's prerequisites come along
    for operation in plan.operations:
        assert operation.wave is not None
        for before in operation.depends_on:
            assert by_id[before].wave <= operation.wave
    for wave in plan.waves:
        per_subscription: dict[str, int] = {}
        for operation_id in wave.operations:
            key = by_id[operation_id].subscription_id.lower()
            per_subscription[key] = per_subscription.get(key, 0) + 1
        assert max(per_subscription.values()) <= 2
    assert [wave.number for wave in plan.waves] == list(range(len(plan.waves)))
    assert plan.pacing["maxWritesPerSubscriptionPerWave"] == 2


def test_canary_percent_chooses_the_share_of_clusters() -> None:
    clusters = [cluster(f"c{index:02d}") for index in range(10)]
    plan = build_plan([item for each in clusters for item in wanted(each, AZURE_POLICY)], fleet(*clusters),
                      PlanOptions(rollout=RolloutOptions(canary_percent=30)))
    assert plan.waves[0].name == "canary" and len(plan.waves[0].operations) == 3


def test_plan_json_is_self_contained_has_reason_and_no_secrets(tmp_path) -> None:
    arc = cluster("c1")
    parameters = FLUX_CONFIG | {"repositoryRefBranch": "main"}
    plan = build_plan([*wanted(arc, FLUX_SSH, "ssh", parameters), *wanted(arc, FLUX_EXTENSION),
                       *wanted(arc, DEFENDER)], fleet(arc), created_at=NOW)
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    data = json.loads(path.read_text())
    assert data["inventoryFingerprint"] == fleet(arc).fingerprint()
    assert data["formatVersion"] == 2
    for operation in data["operations"]:
        assert {"id", "action", "resourceId", "resourceType", "apiVersion", "body", "status", "reasons"} <= operation.keys()
        for index in operation["reasons"]:
            reason = data["reasons"][index]
            assert data["policies"][reason["policy"]]["policyAssignmentId"]
            assert reason["evaluatedResourceId"] == arc["id"]
    configuration = next(op for op in data["operations"] if op["resourceType"].endswith("fluxConfigurations"))
    assert configuration["body"]["properties"]["configurationProtectedSettings"] == {"sshPrivateKey": "<redacted>"}
    assert configuration["secretSources"][0]["kind"] == "keyVault"
    assert data["waves"] and data["pacing"]
    assert read_plan(path) == plan
    assert plan_json(plan) == path.read_text()


def _plan_document(*operations: dict) -> dict:
    return {"createdAt": "2026-11-01T00:00:00Z", "inventoryFingerprint": "f", "operations": list(operations)}


def _operation_document(op_id: str, *depends_on: str, resource_id: str | None = None) -> dict:
    cluster_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1"
    return {"id": op_id, "action": "create", "apiVersion": "2023-05-01", "dependsOn": list(depends_on),
            "resourceType": "Microsoft.KubernetesConfiguration/extensions", "body": {"properties": {}},
            "resourceId": resource_id or f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{op_id}"}


@pytest.mark.parametrize(("operations", "place", "message"), [
    ([_operation_document("a"), _operation_document("a")], "operations[1].id", "duplicate operation id"),
    ([_operation_document("a", "ghost")], "operations[0].dependsOn[0]", "dependsOn names no operation"),
    ([_operation_document("a"), _operation_document("b", "a", "c"), _operation_document("c", "b")],
     "operations[1].dependsOn", "dependency cycle (each depends on the next): b -> c -> b"),
    ([_operation_document("a"), _operation_document("b", resource_id="extensions/b")], "operations[1].resourceId",
     "not an ARM resource id"),
])
def test_read_plan_refuses_what_apply_could_not_run_naming_the_place(tmp_path, operations, place, message) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_plan_document(*operations)))
    with pytest.raises(InputError) as error:
        read_plan(path)
    assert error.value.one_line().startswith(f"{path}: {place}: {message}")


def _changed(document: dict, change) -> dict:
    change(document)
    return document


@pytest.mark.parametrize(("change", "place", "message"), [
    (lambda plan: plan.update(formatVersion=99), "formatVersion", "plan formatVersion 99 is not one this arcpolicy"),
    (lambda plan: plan["operations"][0]["body"].update(properties=[1, 2]), "operations[0].body.properties",
     "not an ARM request body"),
    (lambda plan: plan["operations"][0]["body"].update(tags=["a"]), "operations[0].body.tags", "not an ARM request body"),
    (lambda plan: plan["operations"][0].pop("body"), "operations[0]", "a create needs the body it sends"),
    (lambda plan: plan["operations"][0].update(action="delete"), "operations[0].body", "a delete sends no body"),
    (lambda plan: plan.update(waves=[{"number": 0, "name": "canary", "operations": ["a", "ghost"]}]),
     "waves[0].operations[1]", "names no operation of the plan"),
    (lambda plan: plan.update(waves=[{"number": 0, "name": "canary", "operations": ["a"]},
                                     {"number": 1, "name": "wave-1", "operations": ["a"]}]),
     "waves[1].operations[0]", "operation already in wave 0"),
    (lambda plan: plan["operations"][0].update(wave=3) or plan.update(
        waves=[{"number": 0, "name": "canary", "operations": ["a"]}]), "waves[0].operations[0]",
     "the operation says it is in wave 3"),
    (lambda plan: plan["operations"][0].update(resourceType="Microsoft.Kubernetes/connectedClusters"),
     "operations[0].resourceType", "resourceType is not the type of resourceId"),
    (lambda plan: plan["operations"][0].update(apiVersion="latest"), "operations[0].apiVersion",
     "not an ARM api-version"),
    (lambda plan: plan.update(conflicts=[{"resourceId": "/x", "message": "m", "operations": ["nope"]}]),
     "conflicts[0].operations[0]", "names no operation of the plan"),
], ids=["format-99", "properties-list", "tags-list", "create-without-body", "delete-with-body", "wave-ghost",
        "two-waves", "wave-mismatch", "wrong-type", "api-version", "conflict-ghost"])
def test_read_plan_validates_fully_before_apply_writes_anything(tmp_path, capsys, change, place, message) -> None:
    """Issue 16: formatVersion 99 was applied (32 writes), a list as body.properties sent 8 times."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_changed(_plan_document(_operation_document("a")), change)))
    with pytest.raises(InputError) as error:
        read_plan(path)
    assert error.value.one_line().startswith(f"{path}: {place}: {message}")
    status = main(["apply", str(path), "--arm-endpoint", "https://127.0.0.1:9", "--credential", "sandbox"])
    assert status == 2 and f"{place}: {message}" in capsys.readouterr().err
    assert [child.name for child in tmp_path.iterdir()] == ["plan.json"]  # no journal, no result


def test_read_plan_reports_missing_malformed_and_directory_inputs_in_one_line(tmp_path) -> None:
    for path, message in ((tmp_path / "missing.json", "plan file not found"), (tmp_path, "is a directory"),
                          (tmp_path / "broken.json", "malformed JSON")):
        if path.name == "broken.json":
            path.write_text("{")
        with pytest.raises(InputError, match=message):
            read_plan(path)


def test_cluster_without_connectivity_status_is_planned_flagged_not_waiting() -> None:
    # The 200 body of GetClusterExample.json, Microsoft.Kubernetes stable/2024-01-01 (azure-rest-api-specs),
    # moved to this test's subscription: a real GET answer with no connectivityStatus at all.
    example = {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/akkeshar/providers/Microsoft.Kubernetes/"
                     "connectedClusters/connectedCluster1",
               "name": "connectedCluster1", "type": "Microsoft.Kubernetes/connectedClusters", "location": "East US",
               "tags": {}, "identity": {"principalId": "d8cd1fd9-154f-4da7-b348-595f283c13a3",
                                        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "type": "SystemAssigned"},
               "properties": {"kubernetesVersion": "1.17.0", "totalNodeCount": 2, "agentVersion": "0.1.0",
                              "privateLinkState": "Disabled", "provisioningState": "Succeeded",
                              "azureHybridBenefit": "NotApplicable", "distribution": "AKS", "distributionVersion": "1.0",
                              "miscellaneousProperties": {"createCorrelationId": "8e42616e-74dc-4117-9aaa-71ad5d0180d8",
                                                          "infrastructureVersion": "1.1"}}}
    (operation,) = build_plan(wanted(example, AZURE_POLICY), fleet(example)).operations
    assert operation.status is OperationStatus.PLANNED and "connectivity-unknown" in operation.flags
    offline = cluster("c1", connectivity="Offline")
    (waiting,) = build_plan(wanted(offline, AZURE_POLICY), fleet(offline)).operations
    assert waiting.status is OperationStatus.WAITING and "connectivity-unknown" not in waiting.flags
