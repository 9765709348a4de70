"""Operations on one target merge field by field; a conflict is one field with two values.

The shipped library (policies/azure + policies/rego) must plan without conflicts on the demo
fleet and on generated fleets: ``monitoring_required`` (the whole azuremonitor-containers body)
and ``no_preview_in_production`` (``releaseTrain: Stable`` on the same extension) agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.evaluate import prepare_scan, run_scan
from engine.inventory import load_snapshot
from engine.inventory.generator import write_generated_fleet
from policies import LIBRARY
from remediation.plan.builder import build_plan
from remediation.plan.from_scan import plan_from_scan
from remediation.plan.models import Action, DeferredValue, OperationStatus
from remediation.plan.requests import WantedOperation, wanted_from_rego
from remediation.template import ExpandedResource

from .builders import cluster, extension, fleet, state

DEMO_FLEET = Path(__file__).resolve().parents[2] / "examples" / "demo-fleet.json"
EXTENSIONS = "/providers/Microsoft.KubernetesConfiguration/extensions/"


def rego(arc, policy: str, name: str, properties: dict, action: str | None = None) -> list[WantedOperation]:
    entry = {"name": name, "properties": properties, **({"action": action} if action else {})}
    return wanted_from_rego(state(arc, f"rego:arcpolicy.{policy}", policy, action="audit", remediation=[entry]))


MONITORING = {"extensionType": "microsoft.azuremonitor.containers", "releaseTrain": "Stable",
              "autoUpgradeMinorVersion": True, "scope": {"cluster": {"releaseNamespace": "kube-system"}}}


def test_agreeing_policies_merge_into_one_write_with_the_union_of_their_fields() -> None:
    arc = cluster("c1")
    existing = extension(arc, "azuremonitor-containers", "microsoft.azuremonitor.containers")
    wanted = [*rego(arc, "monitoring_required", "azuremonitor-containers", MONITORING),
              *rego(arc, "no_preview_in_production", "azuremonitor-containers", {"releaseTrain": "stable"}, "update"),
              *rego(arc, "train_and_upgrade", "azuremonitor-containers", {"configurationSettings": {"a.b": "1"}},
                    "update")]
    plan = build_plan(wanted, fleet(arc, existing))
    (operation,) = plan.operations
    assert not plan.conflicts and operation.status is OperationStatus.PLANNED
    assert operation.action is Action.UPDATE
    assert operation.body == {"properties": {**MONITORING, "configurationSettings": {"a.b": "1"}}}
    assert [reason.policy_assignment_id.rsplit("/", 1)[-1] for reason in operation.reasons] == [
        "monitoring_required", "no_preview_in_production", "train_and_upgrade"]


def test_a_conflict_names_the_field_both_values_and_both_policies() -> None:
    arc = cluster("c1")
    wanted = [*rego(arc, "monitoring_required", "azuremonitor-containers", MONITORING),
              *rego(arc, "on_preview", "azuremonitor-containers", {"releaseTrain": "Preview", "extra": 1}, "update")]
    plan = build_plan(wanted, fleet(arc))
    (operation,) = plan.operations
    assert operation.status is OperationStatus.SKIPPED and "conflict" in operation.flags
    (conflict,) = plan.conflicts
    (clash,) = conflict.fields
    assert clash.path == "properties.releaseTrain"
    assert [(value.value, value.policy_assignment_id.rsplit("/", 1)[-1]) for value in clash.values] == [
        ("Stable", "monitoring_required"), ("Preview", "on_preview")]
    assert "properties.releaseTrain" in conflict.message and "'Stable'" in conflict.message
    assert "'Preview'" in conflict.message and "monitoring_required" in conflict.message
    assert "on_preview" in conflict.message and conflict.operations == [operation.id]


def test_a_delete_makes_an_update_moot_but_clashes_with_a_create() -> None:
    arc = cluster("c1")
    existing = extension(arc, "osm", "microsoft.openservicemesh")
    retire = rego(arc, "retired_extensions_absent", "osm", {}, "delete")
    to_stable = rego(arc, "no_preview_in_production", "osm", {"releaseTrain": "Stable"}, "update")
    for order in ((retire, to_stable), (to_stable, retire)):
        plan = build_plan([*order[0], *order[1]], fleet(arc, existing))
        (operation,) = plan.operations
        assert not plan.conflicts and operation.action is Action.DELETE and operation.body is None
        assert len(operation.reasons) == 2
    install = rego(arc, "osm_required", "osm", {"extensionType": "microsoft.openservicemesh"})
    plan = build_plan([*retire, *install], fleet(arc, existing))
    (conflict,) = plan.conflicts
    assert [(clash.path, [value.value for value in clash.values]) for clash in conflict.fields] == [
        ("(existence)", ["deleted", "exists"])]


def _with_deferred(arc, policy: str, workspace: str) -> WantedOperation:
    (item,) = rego(arc, policy, "azuremonitor-containers", MONITORING)
    value = DeferredValue(path="properties.configurationSettings.workspaceId", function="reference",
                          resource_id=workspace, property_path="customerId",
                          expression="[reference(parameters('workspace')).customerId]")
    body = {"properties": {**MONITORING, "configurationSettings": {"workspaceId": value.expression}}}
    resource = ExpandedResource(item.resource.resource_id, item.resource.resource_type, item.resource.api_version,
                                body, deferred_values=(value,))
    return WantedOperation(item.action, resource, item.reason, item.cluster_id)


def test_deferred_values_at_one_path_must_read_the_same_resource() -> None:
    arc = cluster("c1")
    one = "/subscriptions/s/resourceGroups/r/providers/Microsoft.OperationalInsights/workspaces/"
    same = build_plan([_with_deferred(arc, "first", one + "w1"), _with_deferred(arc, "second", one + "w1")], fleet(arc))
    assert not same.conflicts and len(same.operations[0].deferred_values) == 1
    clashing = build_plan([_with_deferred(arc, "first", one + "w1"), _with_deferred(arc, "second", one + "w2")],
                          fleet(arc))
    (conflict,) = clashing.conflicts
    (clash,) = conflict.fields
    assert clash.path == "properties.configurationSettings.workspaceId"
    assert [value.value.endswith(name) for value, name in zip(clash.values, ("w1", "w2"), strict=True)] == [True] * 2


def _library_plan(fleet_file: Path):
    request = prepare_scan([LIBRARY / "azure", LIBRARY / "rego"], [], [])
    fleet_data = load_snapshot(fleet_file)
    return plan_from_scan(fleet_data, request, run_scan(fleet_data, request, 1))


def test_the_shipped_library_plans_no_conflicts_on_the_demo_fleet() -> None:
    plan = _library_plan(DEMO_FLEET)
    assert plan.conflicts == []
    merged = [operation for operation in plan.operations if {reason.policy_definition_id for reason in
              operation.reasons} >= {"rego:arcpolicy.monitoring_required", "rego:arcpolicy.no_preview_in_production"}]
    assert merged and all(operation.status is not OperationStatus.SKIPPED for operation in merged)
    assert all(operation.body["properties"]["releaseTrain"] == "Stable" and
               operation.body["properties"]["extensionType"] == "microsoft.azuremonitor.containers"
               for operation in merged)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_shipped_library_plans_no_conflicts_on_generated_fleets(tmp_path: Path, seed: int) -> None:
    fleet_file = tmp_path / "fleet.json"
    write_generated_fleet(fleet_file, 200, seed=seed)
    plan = _library_plan(fleet_file)
    assert [conflict.message for conflict in plan.conflicts] == []
    assert not [operation.reason.why for operation in plan.operations if "None" in (operation.reason.why or "")]
