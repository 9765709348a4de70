"""Assignment ``resourceSelectors`` and ``overrides``, exemption ``resourceSelectors``: the examples and rules
of the docs "Azure Policy assignment structure" (Resource selectors, Overrides) and "Azure Policy exemption
structure" (Resource selectors), with their documented outcomes, on a scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure_policy.builders import NOW, SUBSCRIPTION, assignment, cluster, extension, write_json

from engine.errors import InputError
from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet
from evaluate.test_scope_and_exemptions import (
    AUDIT_FAILED_EXTENSIONS,
    AUDIT_K8S,
    DEFINITION_ID,
    GROUP_A,
    INITIATIVE,
)

INITIATIVE_ID = "/providers/Microsoft.Authorization/policySetDefinitions/baseline"
EAST = {**cluster("east"), "location": "eastus"}
WEST = {**cluster("west"), "location": "West US"}
CENTRAL = {**cluster("central"), "location": "centralus"}
NORTH = {**cluster("north"), "location": "northeurope"}
FLEET = [EAST, WEST, CENTRAL, NORTH, extension(EAST, "flux", "microsoft.flux", state="Failed")]


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    """The definitions and the initiative of test_scope_and_exemptions (audit-k3s with an effect parameter)."""
    folder = tmp_path / "policies"
    folder.mkdir()
    for name, document in (("audit-k3s", AUDIT_K8S), ("failed-extensions", AUDIT_FAILED_EXTENSIONS),
                           ("initiative", INITIATIVE)):
        write_json(folder / f"{name}.json", document)
    return folder


def scan(policies: Path, tmp_path: Path, assigned: list[dict[str, Any]],
         exemptions: list[dict[str, Any]] | None = None) -> dict[tuple[str, str | None], tuple[str, str]]:
    """(resource name, reference id) -> (compliance state, action) of every record."""
    files = [write_json(tmp_path / "assignments.json", assigned)]
    exempted = [write_json(tmp_path / "exemptions.json", exemptions)] if exemptions else []
    result = run_scan(Fleet(FLEET), prepare_scan([policies], files, exempted, timestamp=NOW), workers=1)
    return {(record.resource_id.rsplit("/", 1)[-1], record.policy_definition_reference_id):
            (record.compliance_state.value, record.policy_definition_action) for record in result.records}


def with_properties(assigned: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {**assigned, "properties": {**assigned["properties"], **properties}}


def regions(*locations: str, kind: str = "in") -> list[dict[str, Any]]:
    return [{"name": "SDPRegions", "selectors": [{"kind": "resourceLocation", kind: list(locations)}]}]


# ---- assignment resource selectors -----------------------------------------------------------------------------------
def test_the_assignment_is_evaluated_only_in_the_selected_regions(definitions: Path, tmp_path: Path) -> None:
    """"the new policy assignment is evaluated only if the resource's location is either East US or West US";
    then "two more Azure regions added to the SDPRegions selector"."""
    first = with_properties(assignment("limit", DEFINITION_ID), resourceSelectors=regions("eastus", "westus"))
    assert {name for name, _ in scan(definitions, tmp_path, [first])} == {"east", "west"}  # "West US" is westus
    wider = with_properties(first, resourceSelectors=regions("eastus", "westus", "centralus", "southcentralus"))
    assert {name for name, _ in scan(definitions, tmp_path, [wider])} == {"east", "west", "central"}


@pytest.mark.parametrize(("selectors", "expected"), [
    (regions("eastus", kind="notIn"), {"west", "central", "north", "flux"}),  # flux: no location, in no list
    # "a resource must meet requirements specified by all its selectors"
    ([{"name": "both", "selectors": [{"kind": "resourceLocation", "in": ["eastus", "westus"]},
                                     {"kind": "resourceType", "in": ["Microsoft.KubernetesConfiguration/extensions"]}]}],
     set()),
    ([{"name": "type", "selectors": [{"kind": "resourceType",
                                      "notIn": ["microsoft.kubernetes/connectedclusters"]}]}], {"flux"}),
    # "In-scope resources are evaluated when they satisfy any one of these resource selectors"
    ([*regions("eastus"), {"name": "north", "selectors": [{"kind": "resourceLocation", "in": ["North Europe"]}]}],
     {"east", "north"}),
    # subscription-level resources without a location: none among these
    ([{"name": "sub", "selectors": [{"kind": "resourceWithoutLocation", "in": ["subscriptionLevelResources"]}]}],
     set()),
    ([{"name": "no selectors"}], {"east", "west", "central", "north", "flux"}),
])
def test_resource_selector_rules(definitions: Path, tmp_path: Path, selectors: list[dict[str, Any]],
                                 expected: set[str]) -> None:
    initiative = with_properties(assignment("baseline", INITIATIVE_ID, f"/subscriptions/{SUBSCRIPTION}"),
                                 resourceSelectors=selectors)
    assert {name for name, _ in scan(definitions, tmp_path, [initiative])} == expected


@pytest.mark.parametrize(("selectors", "message"), [
    ([{"name": "x", "selectors": [{"kind": "resourceLocation", "in": ["a"], "notIn": ["b"]}]}],
     "a selector has either 'in' or 'notIn'"),
    ([{"name": "x", "selectors": [{"kind": "resourceLocation", "in": ["a"]}, {"kind": "resourceLocation",
                                                                             "in": ["b"]}]}],
     "each kind can only be used once in a single resource selector"),
    ([{"name": "x", "selectors": [{"kind": "resourceLocation", "in": ["a"]},
                                  {"kind": "resourceWithoutLocation", "in": ["subscriptionLevelResources"]}]}],
     "resourceLocation can't be used in the same selector as resourceWithoutLocation"),
    ([{"name": "x", "selectors": [{"kind": "resourceLocation", "in": [f"r{index}" for index in range(51)]}]}],
     "at most 50 items"),
    ([{"name": f"s{index}"} for index in range(11)], "at most 10 items"),
    ([{"name": "x", "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["a"]}]}],
     "a resource selector's kinds are"),
])
def test_resource_selectors_the_docs_forbid_are_refused(definitions: Path, tmp_path: Path,
                                                        selectors: list[dict[str, Any]], message: str) -> None:
    refused = with_properties(assignment("x", DEFINITION_ID), resourceSelectors=selectors)
    with pytest.raises(InputError, match=message):
        prepare_scan([definitions], [write_json(tmp_path / "a.json", refused)])


# ---- overrides -----------------------------------------------------------------------------------------------------
def effect_override(value: str, *selectors: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "policyEffect", "value": value, "selectors": list(selectors)}


def test_an_override_disables_one_member_of_an_initiative(definitions: Path, tmp_path: Path) -> None:
    """The CostManagement example: the member ``corpVMSizePolicy`` (here ``no-k3s``) takes ``disabled``; the
    others keep their effect."""
    initiative = with_properties(assignment("baseline", INITIATIVE_ID), overrides=[effect_override(
        "disabled", {"kind": "policyDefinitionReferenceId", "in": ["NO-K3S"]})])
    states = scan(definitions, tmp_path, [initiative])
    assert not [key for key in states if key[1] == "no-k3s"]
    assert states[("east", "no-eks")] == ("Compliant", "audit") and states[("flux", "failed-extensions")] == (
        "NonCompliant", "audit")


def test_override_effects_apply_in_order_and_by_location(definitions: Path, tmp_path: Path) -> None:
    """Overrides "evaluated in the order in which they're specified": the first picking a resource decides; a
    ``resourceLocation`` selector picks by the resource's location."""
    assigned = with_properties(assignment("k3s", DEFINITION_ID), overrides=[
        effect_override("Deny", {"kind": "resourceLocation", "in": ["East US"]}),
        effect_override("Disabled", {"kind": "resourceLocation", "notIn": ["centralus"]}),
        effect_override("Audit")])
    states = scan(definitions, tmp_path, [assigned])
    assert states == {("east", None): ("NonCompliant", "deny"), ("central", None): ("NonCompliant", "audit")}


def test_an_override_without_selectors_replaces_every_member_s_effect(definitions: Path, tmp_path: Path) -> None:
    assigned = with_properties(assignment("k3s", DEFINITION_ID), overrides=[effect_override("deny")])
    assert set(scan(definitions, tmp_path, [assigned]).values()) == {("NonCompliant", "deny")}


@pytest.mark.parametrize(("override", "message"), [
    # "the effect chosen in the override is validated against the policy rule and parameter allowed value list"
    (effect_override("Modify"), r"the override's effect is not among the allowed values of 'audit-k3s' "
                                r"\(Audit, Deny, Disabled\)"),
    (effect_override("Sometimes"), "unknown effect"),
    (effect_override("Audit", {"kind": "resourceType", "in": ["x"]}), "a policyEffect override's selector kinds"),
    ({"kind": "policyVersion", "value": "2.*.*", "selectors": [{"kind": "policyDefinitionReferenceId",
                                                                "in": ["a"]}]},
     "a policyVersion override's selector kinds are resourceLocation"),
])
def test_overrides_the_docs_forbid_are_refused(definitions: Path, tmp_path: Path, override: dict[str, Any],
                                               message: str) -> None:
    refused = with_properties(assignment("x", DEFINITION_ID), overrides=[override])
    with pytest.raises(InputError, match=message):
        prepare_scan([definitions], [write_json(tmp_path / "a.json", refused)])


def test_a_policy_version_override_changes_nothing_offline(definitions: Path, tmp_path: Path) -> None:
    versioned = with_properties(assignment("k3s", DEFINITION_ID), overrides=[{"kind": "policyVersion",
                                                                             "value": "2.0.*"}])
    assert scan(definitions, tmp_path, [versioned]) == scan(definitions, tmp_path, [assignment("k3s", DEFINITION_ID)])


# ---- exemption resource selectors -----------------------------------------------------------------------------------
def test_an_exemption_with_resource_selectors_exempts_only_the_resources_they_select(definitions: Path,
                                                                                      tmp_path: Path) -> None:
    """Exemption structure: "Resource selectors can also be used to narrow down the scope of exemptions in the
    same way"."""
    assigned = assignment("k3s", DEFINITION_ID)
    exemption = {"id": f"{GROUP_A}/providers/Microsoft.Authorization/policyExemptions/west-waiver",
                 "name": "west-waiver", "type": "Microsoft.Authorization/policyExemptions",
                 "properties": {"policyAssignmentId": assigned["id"], "exemptionCategory": "Waiver",
                                "resourceSelectors": regions("westus", "centralus")}}
    states = scan(definitions, tmp_path, [assigned], [exemption])
    assert {name: state for (name, _), (state, _) in states.items()} == {
        "east": "NonCompliant", "west": "Exempt", "central": "Exempt", "north": "NonCompliant"}
