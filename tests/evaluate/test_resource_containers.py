"""Resource containers (subscriptions, resource groups) are resources: from snapshots and from Resource
Graph's ``resourcecontainers`` table (the sandbox over HTTPS, the real SDK client), so that policies
targeting ``Microsoft.Resources/subscriptions`` (the regulatory initiatives' manual members) get states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_policy.builders import SUBSCRIPTION, assignment, cluster, write_json

from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet
from engine.inventory.resource_graph import ResourceGraphSource

SUB = {"id": f"/subscriptions/{SUBSCRIPTION}", "name": SUBSCRIPTION, "type": "Microsoft.Resources/subscriptions",
       "subscriptionId": SUBSCRIPTION, "properties": {"state": "Enabled"}, "tags": {"owner": "platform"}}
GROUP = {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a", "name": "rg-a", "location": "westeurope",
         "type": "microsoft.resources/subscriptions/resourcegroups", "subscriptionId": SUBSCRIPTION,
         "tags": {}, "properties": {"provisioningState": "Succeeded"}}
# a regulatory member's shape (CMA_*: manual, on subscriptions) and a tag rule on resource groups
ATTEST_SUBSCRIPTION = {"name": "cma", "properties": {"mode": "All", "policyRule": {
    "if": {"field": "type", "equals": "Microsoft.Resources/subscriptions"},
    "then": {"effect": "manual", "details": {"defaultState": "Unknown"}}}}}
GROUP_OWNER_TAG = {"name": "rg-owner", "properties": {"mode": "All", "policyRule": {
    "if": {"allOf": [{"field": "type", "equals": "Microsoft.Resources/subscriptions/resourceGroups"},
                     {"field": "tags['owner']", "exists": "false"}]}, "then": {"effect": "audit"}}}}
INDEXED_TAG = {"name": "indexed-owner", "properties": {"mode": "Indexed", "policyRule": {
    "if": {"field": "tags['owner']", "exists": "false"}, "then": {"effect": "audit"}}}}


def _policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    for document in (ATTEST_SUBSCRIPTION, GROUP_OWNER_TAG, INDEXED_TAG):
        write_json(folder / f"{document['name']}.json", document)
    return folder


def _states(tmp_path: Path, fleet: Fleet) -> dict[tuple[str, str], str]:
    result = run_scan(fleet, prepare_scan([_policies(tmp_path)]), workers=1)
    return {(record.resource_id.rsplit("/", 1)[-1], record.policy_definition_name): record.compliance_state.value
            for record in result.records}


def test_containers_in_a_snapshot_are_evaluated(tmp_path: Path) -> None:
    states = _states(tmp_path, Fleet([SUB, GROUP, cluster("c1", tags={})]))
    assert states[(SUBSCRIPTION, "cma")] == "Unknown"
    assert states[("rg-a", "rg-owner")] == "NonCompliant"
    assert states[("c1", "indexed-owner")] == "NonCompliant"
    assert (SUBSCRIPTION, "indexed-owner") not in states and ("rg-a", "indexed-owner") not in states  # Indexed
    assert ("c1", "cma") not in states  # the type condition: not applicable


def test_containers_come_from_resource_graph(sandbox_factory, tmp_path: Path) -> None:
    fleet_file = write_json(tmp_path / "fleet.json", [SUB, GROUP, cluster("c1", tags={})])
    running = sandbox_factory(fleet=fleet_file)
    fleet = Fleet(ResourceGraphSource(running.connection()).resources())
    assert {resource["name"] for resource in fleet.other_resources()} == {SUBSCRIPTION, "rg-a"}
    states = _states(tmp_path, fleet)
    assert states[(SUBSCRIPTION, "cma")] == "Unknown" and states[("rg-a", "rg-owner")] == "NonCompliant"


CORPUS_TAGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-corpus" / "policyDefinitions" / "Tags"


@pytest.mark.parametrize(("definition", "tag", "expected"), [
    ("InheritTag_Add_Modify.json", "costCenter", "NonCompliant"),  # the group has it, the cluster lacks it
    ("InheritTag_Add_Modify.json", "absent", "Compliant"),  # the group lacks it too
    ("InheritTag_Add_FromSubscription.json", "owner", "NonCompliant"),
    ("InheritTag_Add_FromSubscription.json", "costCenter", "Compliant"),
])
def test_rules_read_the_tags_of_the_inventory_containers(tmp_path: Path, definition: str, tag: str,
                                                         expected: str) -> None:
    group = {**GROUP, "tags": {"CostCenter": "42"}}
    document = json.loads((CORPUS_TAGS / definition).read_text())
    assigned = write_json(tmp_path / "a.json", assignment("inherit", document["id"], parameters={"tagName": tag}))
    request = prepare_scan([CORPUS_TAGS / definition], [assigned])
    result = run_scan(Fleet([SUB, group, cluster("c1", tags={})]), request, workers=1)
    states = {record.resource_id.rsplit("/", 1)[-1]: record.compliance_state.value for record in result.records}
    assert states["c1"] == expected
