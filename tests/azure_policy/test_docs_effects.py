"""The documented outcomes of the Azure Policy effect, compliance-state, basics and parameters pages
(MicrosoftDocs/azure-docs articles/governance/policy/concepts/): the effect of each example on an existing
resource, as an offline compliance scan sees it.

Offline every resource exists: "During evaluation of existing resources, resources that match a deny policy
definition are marked as non-compliant" (effect-deny), and likewise for the others (compliance-states).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.azure_policy.documents import ParameterDefinition, PolicyDefinition
from engine.azure_policy.parameters import resolve_parameters
from engine.azure_policy.policy import compile_policy
from engine.errors import InputError
from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet
from remediation.template import resource_field

from .builders import NOW, SUBSCRIPTION, assignment, cluster, write_json

GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
INFO = {"assignmentId": "/a", "definitionId": "/d", "setDefinitionId": "", "definitionReferenceId": ""}


def compiled(rule: dict[str, Any], mode: str = "All", declared: dict[str, Any] | None = None,
             values: dict[str, Any] | None = None) -> Any:
    definition = PolicyDefinition.model_validate({"id": "/d", "name": "d", "mode": mode, "policyRule": rule,
                                                  "parameters": declared or {}, "source": "docs.json"})
    return compile_policy(definition, values or {}, INFO)


def arm(resource_type: str, name: str, **fields: Any) -> dict[str, Any]:
    namespace, _, kinds = resource_type.partition("/")
    names = name.split("/")
    path = "/".join(f"{kind}/{part}" for kind, part in zip(kinds.split("/"), names, strict=True))
    return {"id": f"{GROUP}/providers/{namespace}/{path}", "name": names[-1], "type": resource_type, **fields}


def state(policy: Any, resource: dict[str, Any], related: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """"NonCompliant", "Compliant", or "not applicable" (no record)."""
    result = policy.evaluate(resource, related or {}, NOW)
    if result is None:
        return "not applicable"
    outcome = result[1]
    if outcome.state is not None:
        return outcome.state.value
    return "Compliant" if outcome.compliant else "NonCompliant"


# ---- compliance-states: "Compliant and non-compliant states" ----------------------------------------------------
STORAGE = "Microsoft.Storage/storageAccounts"
PUBLIC = arm(STORAGE, "public", properties={"networkAcls": {"defaultAction": "Allow"}})
PRIVATE = arm(STORAGE, "private", properties={"networkAcls": {"defaultAction": "Deny"}})
EXPOSED = {"allOf": [{"field": "type", "equals": STORAGE},
                     {"field": f"{STORAGE}/networkAcls.defaultAction", "equals": "Allow"}]}
DETAILS = {
    "Append": [{"field": f"{STORAGE}/networkAcls.defaultAction", "value": "Deny"}],
    "Modify": {"roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/"
                                     "17d1049b-9a84-46fb-8f53-869881c3d3ab"],
               "operations": [{"operation": "addOrReplace", "field": f"{STORAGE}/networkAcls.defaultAction",
                               "value": "Deny"}]},
}


@pytest.mark.parametrize("effect", ["Deny", "Audit", "Append", "Modify"])
def test_existing_resources_are_non_compliant_when_the_rule_is_true(effect: str) -> None:
    """| Exists | Deny, Audit, Append, Modify, DeployIfNotExist, AuditIfNotExist | True | Non-Compliant | and
    | ... | False | Compliant |; the page's example: the exposed storage accounts are Non-compliant, "The remainder
    are marked compliant"."""
    policy = compiled({"if": EXPOSED, "then": {"effect": effect, **({"details": DETAILS[effect]}
                                                                       if effect in DETAILS else {})}})
    assert state(policy, PUBLIC) == "NonCompliant"
    assert state(policy, PRIVATE) == "Compliant"


# ---- effect-audit-if-not-exists: the Antimalware example ------------------------------------------------------------
VM = arm("Microsoft.Compute/virtualMachines", "vm1", location="eastus")
ANTIMALWARE_RULE = {
    "if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
    "then": {"effect": "auditIfNotExists", "details": {
        "type": "Microsoft.Compute/virtualMachines/extensions",
        "existenceCondition": {"allOf": [
            {"field": "Microsoft.Compute/virtualMachines/extensions/publisher", "equals": "Microsoft.Azure.Security"},
            {"field": "Microsoft.Compute/virtualMachines/extensions/type", "equals": "IaaSAntimalware"}]}}}}


def extension(name: str, publisher: str, kind: str) -> dict[str, Any]:
    return arm("Microsoft.Compute/virtualMachines/extensions", f"vm1/{name}",
               properties={"publisher": publisher, "type": kind})


@pytest.mark.parametrize(("extensions", "expected"), [
    ([], "NonCompliant"),  # "The audit occurs if there are no related resources"
    ([extension("monitor", "Microsoft.Azure.Monitor", "AzureMonitorLinuxAgent")], "NonCompliant"),
    ([extension("monitor", "Microsoft.Azure.Monitor", "AzureMonitorLinuxAgent"),
      extension("antimalware", "Microsoft.Azure.Security", "IaaSAntimalware")], "Compliant"),  # "If any matching ..."
])
def test_audit_if_not_exists_example(extensions: list[dict[str, Any]], expected: str) -> None:
    policy = compiled(ANTIMALWARE_RULE)
    assert state(policy, VM, {"microsoft.compute/virtualmachines/extensions": extensions}) == expected
    # an if that is false: not applicable, nothing to audit
    assert state(policy, PRIVATE, {"microsoft.compute/virtualmachines/extensions": extensions}) == "not applicable"


def test_existence_condition_field_function_reads_the_if_resource() -> None:
    """"Can use [field()] to check equivalence with values in the if condition. For example, could be used to
    validate that the parent resource (in the if condition) is in the same resource location as the matching
    related resource": ``field`` conditions read the related resource, ``field()`` the evaluated one."""
    rule = {"if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
            "then": {"effect": "auditIfNotExists", "details": {
                "type": "Microsoft.Insights/dataCollectionRules",
                "existenceCondition": {"field": "location", "equals": "[field('location')]"}}}}
    policy = compiled(rule)
    here = arm("Microsoft.Insights/dataCollectionRules", "dcr-east", location="eastus")
    there = arm("Microsoft.Insights/dataCollectionRules", "dcr-west", location="westus")
    assert state(policy, VM, {"microsoft.insights/datacollectionrules": [there]}) == "NonCompliant"
    assert state(policy, VM, {"microsoft.insights/datacollectionrules": [there, here]}) == "Compliant"


# ---- effect-deploy-if-not-exists: the transparentDataEncryption example --------------------------------------------
DATABASE = arm("Microsoft.Sql/servers/databases", "myServer/myDatabase", location="eastus")
TDE_RULE = {
    "if": {"field": "type", "equals": "Microsoft.Sql/servers/databases"},
    "then": {"effect": "deployIfNotExists", "details": {
        "type": "Microsoft.Sql/servers/databases/transparentDataEncryption", "name": "current",
        "evaluationDelay": "AfterProvisioning",
        "roleDefinitionIds": ["/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/"
                              "{roleGUID}", "/providers/Microsoft.Authorization/roleDefinitions/{builtinroleGUID}"],
        "existenceCondition": {"field": "Microsoft.Sql/transparentDataEncryption.status", "equals": "Enabled"},
        "deployment": {"properties": {"mode": "incremental", "template": {
            "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "parameters": {"fullDbName": {"type": "string"}},
            "resources": [{"name": "[concat(parameters('fullDbName'), '/current')]",
                           "type": "Microsoft.Sql/servers/databases/transparentDataEncryption",
                           "apiVersion": "2014-04-01", "properties": {"status": "Enabled"}}]},
            "parameters": {"fullDbName": {"value": "[field('fullName')]"}}}}}}}


def tde(name: str, status: str) -> dict[str, Any]:
    return arm("Microsoft.Sql/servers/databases/transparentDataEncryption", f"myServer/myDatabase/{name}",
               properties={"status": status})


@pytest.mark.parametrize(("related", "expected"), [
    ([], "NonCompliant"),
    ([tde("current", "Disabled")], "NonCompliant"),
    ([tde("current", "Enabled")], "Compliant"),
    ([tde("other", "Enabled")], "NonCompliant"),  # "name ... causes the policy to fetch one specific resource"
])
def test_deploy_if_not_exists_example(related: list[dict[str, Any]], expected: str) -> None:
    policy = compiled(TDE_RULE)
    assert state(policy, DATABASE, {"microsoft.sql/servers/databases/transparentdataencryption": related}) == expected
    assert policy.resolved_details(policy.context(DATABASE, NOW))["type"] == "Microsoft.Sql/servers/databases/transparentDataEncryption"


def test_the_deployment_parameter_reads_the_full_name() -> None:
    """"see fullDbName in the DeployIfNotExists example": ``[field('fullName')]`` of the database."""
    assert resource_field(DATABASE, "fullName") == "myServer/myDatabase"


# ---- effect-append and effect-modify: the examples' details -------------------------------------------------------
def test_append_examples() -> None:
    """Example 1 (the whole ipRules array) and Example 2 (one member through the [*] alias): an existing resource
    the rule matches is marked non-compliant; the details are what the effect would append."""
    for field, value in ((f"{STORAGE}/networkAcls.ipRules", [{"action": "Allow", "value": "134.5.0.0/21"}]),
                         (f"{STORAGE}/networkAcls.ipRules[*]", {"value": "40.40.40.40", "action": "Allow"})):
        policy = compiled({"if": EXPOSED, "then": {"effect": "append", "details": [{"field": field, "value": value}]}})
        assert state(policy, PUBLIC) == "NonCompliant"
        assert policy.resolved_details(policy.context(PUBLIC, NOW)) == [{"field": field, "value": value}]


@pytest.mark.parametrize(("details", "values", "operations"), [
    # Example 1: add the environment tag, replacing existing ones with "Test"
    ({"roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
      "operations": [{"operation": "addOrReplace", "field": "tags['environment']", "value": "Test"}]}, {},
     [{"operation": "addOrReplace", "field": "tags['environment']", "value": "Test"}]),
    # Example 2: remove env, add environment from a parameter
    ({"roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
      "conflictEffect": "deny",
      "operations": [{"operation": "Remove", "field": "tags['env']"},
                     {"operation": "addOrReplace", "field": "tags['environment']", "value": "[parameters('tagValue')]"}]},
     {"tagValue": "Production"},
     [{"operation": "Remove", "field": "tags['env']"},
      {"operation": "addOrReplace", "field": "tags['environment']", "value": "Production"}]),
    # Example 3: the operation's condition on the request's API version is kept for the request
    ({"roleDefinitionIds": ["/providers/microsoft.authorization/roleDefinitions/17d1049b-9a84-46fb-8f53-869881c3d3ab"],
      "conflictEffect": "audit",
      "operations": [{"condition": "[greaterOrEquals(requestContext().apiVersion, '2019-04-01')]",
                      "operation": "addOrReplace", "field": f"{STORAGE}/allowBlobPublicAccess", "value": False}]}, {},
     [{"condition": "[greaterOrEquals(requestContext().apiVersion, '2019-04-01')]", "operation": "addOrReplace",
       "field": f"{STORAGE}/allowBlobPublicAccess", "value": False}]),
])
def test_modify_examples(details: dict[str, Any], values: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    declared = {name: {"type": "String"} for name in values}
    policy = compiled({"if": EXPOSED, "then": {"effect": "modify", "details": details}}, declared=declared,
                      values=values)
    assert state(policy, PUBLIC) == "NonCompliant"
    resolved = policy.resolved_details(policy.context(PUBLIC, NOW))
    assert resolved["roleDefinitionIds"] == details["roleDefinitionIds"]
    assert resolved["operations"] == operations


# ---- effect-manual ---------------------------------------------------------------------------------------------------
def test_manual_example_targets_subscriptions_with_an_unknown_default_state() -> None:
    """"The Azure Policy compliance engine evaluates all applicable resources to the default state specified in
    the definition (Unknown if not specified)"."""
    subscription = {"id": f"/subscriptions/{SUBSCRIPTION}", "name": SUBSCRIPTION,
                    "type": "Microsoft.Resources/subscriptions"}
    rule = {"if": {"field": "type", "equals": "Microsoft.Resources/subscriptions"},
            "then": {"effect": "manual", "details": {"defaultState": "Unknown"}}}
    assert state(compiled(rule), subscription) == "Unknown"
    unspecified = {**rule, "then": {"effect": "manual"}}
    assert state(compiled(unspecified), subscription) == "Unknown"
    compliant = {**rule, "then": {"effect": "manual", "details": {"defaultState": "Compliant"}}}
    assert state(compiled(compliant), subscription) == "Compliant"


# ---- definition-structure-basics: the "Allowed locations" example ----------------------------------------------------
ALLOWED_LOCATIONS = {
    "properties": {
        "displayName": "Allowed locations", "mode": "Indexed",
        "description": "This policy enables you to restrict the locations your organization can specify when deploying "
                       "resources.",
        "metadata": {"version": "1.0.0", "category": "Locations"},
        "parameters": {"allowedLocations": {"type": "array", "metadata": {
            "description": "The list of locations that can be specified when deploying resources",
            "strongType": "location", "displayName": "Allowed locations"}, "defaultValue": ["westus2"]}},
        "policyRule": {"if": {"not": {"field": "location", "in": "[parameters('allowedLocations')]"}},
                       "then": {"effect": "deny"}}}}


def test_allowed_locations_example() -> None:
    """The deny policy with its default (westus2): a resource elsewhere is non-compliant; "West US 2" is westus2."""
    definition = PolicyDefinition.model_validate({**ALLOWED_LOCATIONS["properties"], "id": "/d", "name": "d",
                                                  "source": "docs.json"})
    policy = compile_policy(definition, {"allowedLocations": ["westus2"]}, INFO)
    assert state(policy, arm(STORAGE, "east", location="eastus")) == "NonCompliant"
    assert state(policy, arm(STORAGE, "west", location="westus2")) == "Compliant"
    assert state(policy, arm(STORAGE, "spaced", location="West US 2")) == "Compliant"


# ---- definition-structure-parameters --------------------------------------------------------------------------------
EXAMPLE_1 = ParameterDefinition.model_validate({
    "type": "array", "metadata": {"description": "The list of allowed locations for resources.",
                                  "displayName": "Allowed locations", "strongType": "location"},
    "defaultValue": ["westus2"], "allowedValues": ["eastus2", "westus2", "westus"]})


@pytest.mark.parametrize(("given", "resolved"), [
    ({}, ["westus2"]),  # "defaultValue: Sets the value of the parameter in an assignment if no value is given"
    ({"allowedLocations": ["westus", "eastus2"]}, ["westus", "eastus2"]),  # the page's "sample input"
])
def test_parameter_example_1(given: dict[str, Any], resolved: list[str]) -> None:
    assert resolve_parameters({"allowedLocations": EXAMPLE_1}, given, "assignment", "a.json") == \
        {"allowedLocations": resolved}


@pytest.mark.parametrize("value", [["centralus"], ["WestUS"]])
def test_allowed_values_are_case_sensitive_at_assignment(value: list[str]) -> None:
    """"Allowed value comparisons are case-sensitive when assigning a policy, meaning that the selected parameter
    values in the assignment must match the casing of values in the allowedValues array"."""
    with pytest.raises(InputError, match="allowedValues"):
        resolve_parameters({"allowedLocations": EXAMPLE_1}, {"allowedLocations": value}, "assignment", "a.json")


def test_an_allowed_value_then_compares_case_insensitively() -> None:
    """"if the parameter specifies Dev as an allowed tag value in an assignment, and this value is compared to an
    input string using the equals condition, then Azure Policy would later evaluate a tag value of dev as a
    match"."""
    declared = {"tagValue": {"type": "String", "allowedValues": ["Dev", "Prod"]}}
    values = resolve_parameters({"tagValue": ParameterDefinition.model_validate(declared["tagValue"])},
                                {"tagValue": "Dev"}, "assignment", "a.json")
    policy = compiled({"if": {"field": "tags.environment", "equals": "[parameters('tagValue')]"},
                       "then": {"effect": "audit"}}, declared=declared, values=values)
    assert state(policy, arm(STORAGE, "sa", tags={"environment": "dev"})) == "NonCompliant"


# ---- effect-basics: "Layering policy definitions" -------------------------------------------------------------------
def _location_policy(name: str, location: str, effect: str) -> dict[str, Any]:
    return {"id": f"/providers/Microsoft.Authorization/policyDefinitions/{name}", "name": name,
            "properties": {"mode": "All", "policyRule": {
                "if": {"field": "location", "notEquals": location}, "then": {"effect": effect}}}}


@pytest.mark.parametrize("second_effect", ["audit", "deny"])
def test_layering_policy_definitions(tmp_path: Path, second_effect: str) -> None:
    """Policy 1 (westus, deny, subscription A) and policy 2 (eastus, resource group B): "Any resource already in
    resource group B in eastus is compliant to policy 2 and non-compliant to policy 1"; "Any resource already in
    resource group B not in eastus is non-compliant to policy 2 and non-compliant to policy 1 if not in westus";
    "If both policy 1 and policy 2 had effect of deny", the existing resources' states are the same."""
    policies = tmp_path / "policies"
    policies.mkdir()
    write_json(policies / "policy1.json", _location_policy("policy1", "westus", "deny"))
    write_json(policies / "policy2.json", _location_policy("policy2", "eastus", second_effect))
    group_b = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-b"
    assignments = write_json(tmp_path / "assignments.json", [
        assignment("one", "/providers/Microsoft.Authorization/policyDefinitions/policy1", f"/subscriptions/{SUBSCRIPTION}"),
        assignment("two", "/providers/Microsoft.Authorization/policyDefinitions/policy2", group_b)])
    fleet = [{**cluster(name, group=group), "location": location} for name, group, location in (
        ("b-east", "rg-b", "eastus"), ("b-west", "rg-b", "westus"), ("b-central", "rg-b", "centralus"),
        ("a-central", "rg-a", "centralus"))]
    result = run_scan(Fleet(fleet), prepare_scan([policies], [assignments], timestamp=NOW), workers=1)
    states = {(record.resource_id.rsplit("/", 1)[-1], record.policy_assignment_name): record.compliance_state.value
              for record in result.records}
    assert states == {
        ("b-east", "one"): "NonCompliant", ("b-east", "two"): "Compliant",
        ("b-west", "one"): "Compliant", ("b-west", "two"): "NonCompliant",
        ("b-central", "one"): "NonCompliant", ("b-central", "two"): "NonCompliant",
        ("a-central", "one"): "NonCompliant"}  # outside resource group B: policy 2 does not apply


def test_a_route_table_is_evaluated_in_both_modes() -> None:
    """Basics page, Resource Manager modes: "resource Microsoft.Network/routeTables supports tags and location and is
    evaluated in both modes". (Its other half, "Microsoft.Network/routeTables/routes can't be tagged and isn't
    evaluated in indexed mode", cannot hold offline for types arcpolicy has no table for: whether a type supports
    tags is Azure's per-type provider metadata, not in the resource; arcpolicy's Indexed mode leaves out its own
    untaggable types, see NOT_INDEXED_TYPES.)"""
    table = arm("Microsoft.Network/routeTables", "rt", location="westeurope", tags={})
    for mode in ("All", "Indexed"):
        policy = compiled({"if": {"field": "tags", "containsKey": "owner"}, "then": {"effect": "audit"}}, mode=mode)
        assert state(policy, table) == "Compliant"


# ---- definition-structure-parameters, Example 2: an object parameter validated by its schema ----------------------
LABEL_SELECTOR = {
    "type": "object", "defaultValue": {},
    "schema": {
        "type": "object",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
            "matchExpressions": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "properties": {"key": {"type": "string"},
                               "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                               "values": {"type": "array", "items": {"type": "string"}}},
                "required": ["key", "operator"], "additionalProperties": False}}},
        "additionalProperties": False}}
SAMPLE_SELECTOR = {"matchLabels": {"poolID": "abc123", "nodeGroup": "Group1", "region": "southcentralus"},
                   "matchExpressions": [{"key": "name", "operator": "In", "values": ["payroll", "web"]},
                                        {"key": "environment", "operator": "NotIn", "values": ["dev"]}]}


@pytest.mark.parametrize(("given", "problem"), [
    (SAMPLE_SELECTOR, None),  # "A sample input ... validated by the specified schema"
    ({}, None),
    ({"matchLabels": {}}, "at matchLabels: {} should be non-empty"),
    ({"matchExpressions": [{"key": "name", "operator": "Near"}]}, "at matchExpressions[0].operator: 'Near' is not one"),
    ({"matchExpressions": [{"operator": "In"}]}, "at matchExpressions[0]: 'key' is a required property"),
    ({"matchLabels": {"a": 1}}, "at matchLabels.a: 1 is not of type 'string'"),
    ({"other": 1}, "Additional properties are not allowed"),
])
def test_an_object_parameter_is_validated_by_its_schema_at_assignment(given: dict[str, Any], problem: str | None) -> None:
    declared = {"labelSelector": ParameterDefinition.model_validate(LABEL_SELECTOR)}
    if problem is None:
        assert resolve_parameters(declared, {"labelSelector": given}, "assignment 'a'", "a.json") == {"labelSelector": given}
        return
    with pytest.raises(InputError, match=re.escape(f"assignment 'a': parameter 'labelSelector' does not match its "
                                                   f"schema {problem}" if problem.startswith("at ") else problem)):
        resolve_parameters(declared, {"labelSelector": given}, "assignment 'a'", "a.json")


def test_the_default_of_an_object_parameter_is_not_revalidated() -> None:
    """Only "parameter inputs during assignment" are validated: the definition's own default is taken as written."""
    declared = {"labelSelector": ParameterDefinition.model_validate({**LABEL_SELECTOR, "defaultValue": {"x": 1}})}
    assert resolve_parameters(declared, {}, "assignment 'a'", "a.json") == {"labelSelector": {"x": 1}}


# ---- effect-audit-if-not-exists / effect-deploy-if-not-exists: details.name of nested resources -------------------
SERVER = arm("Microsoft.Sql/servers", "myServer", location="eastus")


def database(name: str, status: str, server: str = "myServer") -> dict[str, Any]:
    return arm("Microsoft.Sql/servers/databases", f"{server}/{name}", properties={"status": status})


def online_database_rule(name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"type": "Microsoft.Sql/servers/databases", "existenceCondition": {
        "field": "Microsoft.Sql/servers/databases/status", "equals": "Online"}}
    if name is not None:
        details["name"] = name
    return {"if": {"field": "type", "equals": "Microsoft.Sql/servers"},
            "then": {"effect": "auditIfNotExists", "details": details}}


@pytest.mark.parametrize(("name", "expected"), [
    (None, "Compliant"),  # any related resource of the type
    # "To retrieve a specific resource ... "name": "parentResourceName/nestedResourceName""
    ("myServer/online", "Compliant"),
    ("myServer/offline", "NonCompliant"),
    ("otherServer/online", "NonCompliant"),  # another parent's database is not the one named
    # "To retrieve a collection of nested resources, a wildcard character ? can be provided in place of the last name
    # segment": every database of the server; "combined with field functions ... [concat(field('name'), '/?')]"
    ("myServer/?", "Compliant"),
    ("[concat(field('name'), '/?')]", "Compliant"),
    ("otherServer/?", "NonCompliant"),
])
def test_nested_resources_by_name_and_by_wildcard(name: str | None, expected: str) -> None:
    related = {"microsoft.sql/servers/databases": [database("offline", "Offline"), database("online", "Online")]}
    assert state(compiled(online_database_rule(name)), SERVER, related) == expected


def test_the_wildcard_takes_every_nested_resource_of_the_parent_only() -> None:
    related = {"microsoft.sql/servers/databases": [database("online", "Online", server="otherServer"),
                                                    database("offline", "Offline")]}
    assert state(compiled(online_database_rule("myServer/?")), SERVER, related) == "NonCompliant"
    assert state(compiled(online_database_rule("otherServer/?")), SERVER, related) == "Compliant"


# ---- effect-modify: "Skipped modification" and the details the page requires -------------------------------------
VM = arm("Microsoft.Compute/virtualMachines", "vm-1", location="eastus")
ROLES = ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"]


def modify_rule(operations: list[dict[str, Any]], types: list[str], **details: Any) -> dict[str, Any]:
    return {"if": {"field": "type", "in": types},
            "then": {"effect": "modify", "details": {"roleDefinitionIds": ROLES, "operations": operations, **details}}}


def test_an_identity_operation_makes_other_resources_than_vms_not_applicable() -> None:
    """"When a modify operation attempts to add or replace the identity.type field on a resource other than a Virtual
    Machine or Virtual Machine Scale Set, policy evaluation is skipped altogether ... the resource is considered not
    applicable to the policy"."""
    storage = arm(STORAGE, "sa", location="eastus")
    for operation in ("addOrReplace", "Add"):
        policy = compiled(modify_rule([{"operation": operation, "field": "identity.type", "value": "SystemAssigned"}],
                                      ["Microsoft.Compute/virtualMachines", STORAGE]))
        assert state(policy, VM) == "NonCompliant"
        assert state(policy, storage) == "not applicable"
    tags_only = compiled(modify_rule([{"operation": "addOrReplace", "field": "tags['env']", "value": "prod"}],
                                     ["Microsoft.Compute/virtualMachines", STORAGE]))
    assert state(tags_only, storage) == "NonCompliant"


@pytest.mark.parametrize(("operations", "details", "message"), [
    # "Options are: addOrReplace, Add, and Remove"
    ([{"operation": "replace", "field": "tags['env']", "value": "x"}], {}, "addOrReplace, Add or Remove"),
    # "This property is required if operation is addOrReplace or Add"
    ([{"operation": "addOrReplace", "field": "tags['env']"}], {}, "needs a value"),
    ([{"operation": "Add", "field": "tags['env']"}], {}, "needs a value"),
    # "Remove is only supported for resource tags"
    ([{"operation": "Remove", "field": f"{STORAGE}/allowBlobPublicAccess"}], {}, "removes tags only"),
    ([{"operation": "addOrReplace", "value": "x"}], {}, "needs the field"),
    # operations: "An array of all tag operations"
    ({"operation": "Remove", "field": "tags['env']"}, {}, "must be an array"),
    # conflictEffect: "Available values: audit, deny, disabled"
    ([{"operation": "Remove", "field": "tags['env']"}], {"conflictEffect": "block"}, "audit, deny or disabled"),
])
def test_modify_details_the_page_rules_out_are_refused(operations: Any, details: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(InputError, match=message):
        compiled(modify_rule(operations, [STORAGE], **details))


def test_modify_details_the_page_allows_compile() -> None:
    """Example 2's operations (Remove of a tag, addOrReplace of one) with conflictEffect deny; names in any case."""
    operations = [{"operation": "Remove", "field": "tags['env']"},
                  {"operation": "ADDORREPLACE", "field": "tags.environment", "value": "Test"},
                  {"operation": "remove", "field": "[concat('tags[', 'old', ']')]"}]
    for conflict in ("deny", "Audit", "disabled"):
        assert compiled(modify_rule(operations, [STORAGE], conflictEffect=conflict)) is not None
