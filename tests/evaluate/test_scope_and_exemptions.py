"""Assignment scope (tenant, management group, subscription, group, resource), notScopes,
exemptions (active, expired, per reference id), initiatives with parameter mapping, Disabled.

Shapes follow the docs "Azure Policy assignment structure", "exemption structure" and
"initiative definition structure".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from azure_policy.builders import (
    NOW,
    OTHER_SUBSCRIPTION,
    SUBSCRIPTION,
    assignment,
    cluster,
    extension,
    write_json,
)

from engine.errors import InputError
from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet

AUDIT_K8S = {
    "id": "/providers/Microsoft.Authorization/policyDefinitions/audit-k3s", "name": "audit-k3s",
    "properties": {
        "displayName": "Clusters must not run k3s", "mode": "All",
        "parameters": {
            "effect": {"type": "String", "defaultValue": "Audit", "allowedValues": ["Audit", "Deny", "Disabled"]},
            "distribution": {"type": "String", "defaultValue": "k3s"}},
        "policyRule": {"if": {"allOf": [
            {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
            {"field": "Microsoft.Kubernetes/connectedClusters/distribution", "equals": "[parameters('distribution')]"}]},
            "then": {"effect": "[parameters('effect')]"}}}}
AUDIT_FAILED_EXTENSIONS = {
    "policyRule": {"if": {"field": "Microsoft.KubernetesConfiguration/extensions/provisioningState",
                          "equals": "Failed"}, "then": {"effect": "audit"}},
    "mode": "All", "parameters": {}}
INITIATIVE = {
    "id": "/providers/Microsoft.Authorization/policySetDefinitions/baseline", "name": "baseline",
    "type": "Microsoft.Authorization/policySetDefinitions",
    "properties": {
        "displayName": "Baseline",
        "parameters": {"forbidden": {"type": "String", "defaultValue": "k3s"}},
        "policyDefinitions": [
            {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/audit-k3s",
             "policyDefinitionReferenceId": "no-k3s",
             "parameters": {"distribution": {"value": "[parameters('forbidden')]"}}},
            {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/audit-k3s",
             "policyDefinitionReferenceId": "no-eks", "parameters": {"distribution": {"value": "eks"}}},
            {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/failed-extensions",
             "policyDefinitionReferenceId": "failed-extensions"}]}}
DEFINITION_ID = "/providers/Microsoft.Authorization/policyDefinitions/audit-k3s"
GROUP_A = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a"

A1 = cluster("a1")
A2 = cluster("a2")
B1 = cluster("b1", group="rg-b")
EKS = cluster("e1", distribution="eks", group="rg-b")
OTHER = cluster("o1", subscription=OTHER_SUBSCRIPTION)
FLEET = [A1, A2, extension(A2, "flux", "microsoft.flux", state="Failed"), B1, EKS, OTHER]


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies" / "nested"
    folder.mkdir(parents=True)
    write_json(folder / "audit-k3s.json", AUDIT_K8S)
    write_json(folder / "failed-extensions.json", AUDIT_FAILED_EXTENSIONS)  # bare: named after the file
    write_json(folder / "initiative.json", INITIATIVE)
    return tmp_path / "policies"


def scan_states(policies: Path, tmp_path: Path, assignments: list[dict], exemptions: list[dict] | None = None,
                groups: dict | None = None) -> dict[tuple[str, str | None], str]:
    files = [write_json(tmp_path / "assignments.json", assignments)]
    exemption_files = [write_json(tmp_path / "exemptions.json", exemptions)] if exemptions else []
    request = prepare_scan([policies], files, exemption_files, groups, timestamp=NOW)
    result = run_scan(Fleet(FLEET), request, workers=1)
    return {(record.resource_id.rsplit("/", 1)[-1], record.policy_definition_reference_id):
            record.compliance_state.value for record in result.records}


@pytest.mark.parametrize(("scope", "not_scopes", "expected"), [
    ("", [], {"a1", "a2", "b1", "o1"}),
    (f"/subscriptions/{SUBSCRIPTION}", [], {"a1", "a2", "b1"}),
    (GROUP_A, [], {"a1", "a2"}),
    (f"{GROUP_A}/providers/Microsoft.Kubernetes/connectedClusters/a2", [], {"a2"}),
    (f"/subscriptions/{SUBSCRIPTION}", [GROUP_A], {"b1"}),
    (f"/SUBSCRIPTIONS/{SUBSCRIPTION.upper()}", [f"{GROUP_A.upper()}/providers/Microsoft.Kubernetes/"
                                                "connectedClusters/A1"], {"a2", "b1"}),
    ("/providers/Microsoft.Management/managementGroups/contoso", [], {"a1", "a2", "b1"}),
    ("/providers/Microsoft.Management/managementGroups/Root", [GROUP_A], {"b1", "o1"}),
])
def test_scope_and_not_scopes(policies: Path, tmp_path: Path, scope: str, not_scopes: list[str],
                              expected: set[str]) -> None:
    groups = {SUBSCRIPTION: frozenset({"contoso", "root"}), OTHER_SUBSCRIPTION: frozenset({"root"})}
    states = scan_states(policies, tmp_path, [assignment("k3s", DEFINITION_ID, scope, not_scopes=not_scopes)],
                         groups=groups)
    assert {name for (name, _), state in states.items() if state == "NonCompliant"} == expected
    # applicable (a connected cluster) but its distribution is not k3s: Compliant, when in scope
    assert {name for (name, _), state in states.items() if state != "NonCompliant"} <= {"e1"}
    assert set(states.values()) <= {"NonCompliant", "Compliant"}


@pytest.mark.parametrize(("expires", "references", "exempt"), [
    (None, [], True),
    (NOW + timedelta(days=1), [], True),
    (NOW - timedelta(seconds=1), [], False),  # expired: the state is what the rule says
    (None, ["no-k3s"], True),
    (None, ["failed-extensions"], False),  # exempts another member of the initiative
])
def test_exemptions(policies: Path, tmp_path: Path, expires, references: list[str], exempt: bool) -> None:
    initiative = assignment("baseline", "/providers/Microsoft.Authorization/policySetDefinitions/baseline",
                            f"/subscriptions/{SUBSCRIPTION}")
    exemption = {"id": f"{GROUP_A}/providers/Microsoft.Authorization/policyExemptions/waiver",
                 "name": "waiver", "type": "Microsoft.Authorization/policyExemptions",
                 "properties": {"policyAssignmentId": initiative["id"], "exemptionCategory": "Mitigated",
                                "policyDefinitionReferenceIds": references,
                                "expiresOn": expires.isoformat() if expires else None}}
    states = scan_states(policies, tmp_path, [initiative], [exemption])
    assert states[("a1", "no-k3s")] == ("Exempt" if exempt else "NonCompliant")
    assert states[("b1", "no-k3s")] == "NonCompliant"  # rg-b is outside the exemption's scope


def test_initiative_maps_parameters_into_each_member(policies: Path, tmp_path: Path) -> None:
    initiative = assignment("baseline", "/providers/Microsoft.Authorization/policySetDefinitions/baseline",
                            f"/subscriptions/{SUBSCRIPTION}", parameters={"forbidden": "eks"})
    states = scan_states(policies, tmp_path, [initiative])
    # forbidden=eks flows into no-k3s; no-eks has eks literally; the failed flux extension is audited
    assert {key: state for key, state in states.items() if state == "NonCompliant"} == {
        ("e1", "no-k3s"): "NonCompliant", ("e1", "no-eks"): "NonCompliant", ("flux", "failed-extensions"): "NonCompliant"}
    # every other in-scope cluster is applicable (type condition) and Compliant; the failed-extensions rule
    # has no type condition, so it applies to the clusters too (docs: other conditions count as true)
    assert states[("a1", "no-k3s")] == states[("a1", "failed-extensions")] == "Compliant"
    assert len(states) == 4 * 3 + 1  # a1 a2 b1 e1 x 3 members, and the flux extension for failed-extensions


def test_disabled_effect_is_not_evaluated(policies: Path, tmp_path: Path) -> None:
    disabled = assignment("off", DEFINITION_ID, parameters={"effect": "Disabled"})
    request = prepare_scan([policies], [write_json(tmp_path / "a.json", [disabled])], timestamp=NOW)
    result = run_scan(Fleet(FLEET), request, workers=1)
    assert result.records == [] and result.evaluations == 0


def test_deny_is_reported_as_a_finding_on_existing_resources(policies: Path, tmp_path: Path) -> None:
    deny = assignment("deny", DEFINITION_ID, parameters={"effect": "Deny"})
    request = prepare_scan([policies], [write_json(tmp_path / "a.json", deny)], timestamp=NOW)
    [first, *_] = run_scan(Fleet(FLEET), request, workers=1).records
    assert (first.policy_definition_action, first.compliance_state.value) == ("deny", "NonCompliant")
    assert [reason.path for reason in first.reasons] == ["policyRule.if.allOf[0]", "policyRule.if.allOf[1]"]


def test_mode_indexed_skips_extension_resources(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "indexed.json", {**AUDIT_FAILED_EXTENSIONS, "mode": "Indexed"})
    result = run_scan(Fleet(FLEET), prepare_scan([folder], timestamp=NOW), workers=1)
    # no type condition: every resource the mode evaluates is applicable, and the clusters are compliant
    assert {record.resource_type for record in result.records} == {"Microsoft.Kubernetes/connectedClusters"}
    assert {record.compliance_state.value for record in result.records} == {"Compliant"}
    assert result.summary[0].compliant == 5 and result.summary[0].not_applicable == 0


@pytest.mark.parametrize(("assigned", "message"), [
    (assignment("x", DEFINITION_ID, parameters={"effect": "Modify"}),
     "assignment 'x': parameter 'effect' is not one of the allowedValues"),
    (assignment("x", DEFINITION_ID, parameters={"distribution": 3}),
     "assignment 'x': parameter 'distribution' must be of type String"),
    (assignment("x", DEFINITION_ID, parameters={"color": "red"}),
     "assignment 'x': parameter 'color' is not declared"),
    (assignment("x", "/providers/Microsoft.Authorization/policyDefinitions/nope"),
     "no loaded policy definition or initiative"),
    # assignment structure, Enforcement mode: the JSON values are Default and DoNotEnforce
    ({**assignment("x", DEFINITION_ID), "properties": {**assignment("x", DEFINITION_ID)["properties"],
                                                       "enforcementMode": "Off"}},
     "enforcementMode: .*enforcementMode is Default or DoNotEnforce"),
])
def test_bad_assignments_name_assignment_and_parameter(policies: Path, tmp_path: Path, assigned: dict,
                                                       message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        prepare_scan([policies], [write_json(tmp_path / "a.json", assigned)])


def test_missing_required_parameter_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    required = {**AUDIT_K8S, "properties": {**AUDIT_K8S["properties"], "parameters": {
        "effect": {"type": "String", "defaultValue": "Audit"}, "distribution": {"type": "String"}}}}
    write_json(folder / "required.json", required)
    with pytest.raises(InputError, match="assignment 'x': required parameter 'distribution' has no value"):
        prepare_scan([folder], [write_json(tmp_path / "a.json", assignment("x", DEFINITION_ID))])
    # without assignments it is reported and skipped, not guessed
    request = prepare_scan([folder])
    assert request.all_assignments() == [] and "'distribution' has no default" in request.skipped[0]


@pytest.mark.parametrize("category", ["Waiver", "Mitigated", "waiver"])
def test_an_exemption_is_a_waiver_or_mitigated(policies: Path, tmp_path: Path, category: str) -> None:
    """Exemption structure, Exemption category: "Two exemption categories exist", Mitigated and Waiver; another is
    refused naming the file and the member."""
    exemption = {"id": f"{GROUP_A}/providers/Microsoft.Authorization/policyExemptions/e1", "name": "e1",
                 "type": "Microsoft.Authorization/policyExemptions",
                 "properties": {"policyAssignmentId": assignment("x", DEFINITION_ID)["id"], "exemptionCategory": category}}
    files = [write_json(tmp_path / "a.json", assignment("x", DEFINITION_ID))]
    assert prepare_scan([policies], files, [write_json(tmp_path / "e.json", exemption)]).exemptions
    exemption["properties"]["exemptionCategory"] = "Temporary"
    with pytest.raises(InputError, match=r"e\.json: exemptionCategory: .*Mitigated or Waiver \(got 'Temporary'\)"):
        prepare_scan([policies], files, [write_json(tmp_path / "e.json", exemption)])
