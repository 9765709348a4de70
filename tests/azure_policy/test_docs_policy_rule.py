"""Every example of the docs page "Azure Policy definition structure policy rule" with its documented outcome
(MicrosoftDocs/azure-docs articles/governance/policy/concepts/definition-structure-policy-rule.md), section
by section: logical operators, conditions, fields, value, count (field count and value count examples),
policy functions.

The NSG examples read ``Microsoft.Network/networkSecurityGroups/securityRules[*]...`` through its published
alias paths (``Get-AzPolicyAlias``: ``securityRules[*].direction`` reads
``properties.securityRules[*].properties.direction``), on ARM JSON of a network security group.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from template.outputs import template_outputs

from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.functions import RuleContext, registry_with_parameters
from engine.azure_policy.policy import compile_policy
from engine.errors import InputError
from engine.expressions import EvaluationError, compile_value
from remediation.template import TemplateError

from .builders import alias_table, audit_rule, expression_value, matches

GROUP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/contoso-netrg"


def resource(resource_type: str, name: str, **fields: Any) -> dict[str, Any]:
    namespace, _, kind = resource_type.partition("/")
    return {"id": f"{GROUP}/providers/{namespace}/{kind}/{name}", "name": name, "type": resource_type,
            "location": "eastus2", **fields}


# ---- Logical operators -------------------------------------------------------------------------------------------
def test_not_nested_in_all_of() -> None:
    """"The following example shows a not operation that is nested within an allOf operation"."""
    condition = {"allOf": [{"not": {"field": "tags", "containsKey": "application"}},
                           {"field": "type", "equals": "Microsoft.Storage/storageAccounts"}]}
    assert matches(condition, resource("Microsoft.Storage/storageAccounts", "sa", tags={})) is True
    assert matches(condition, resource("Microsoft.Storage/storageAccounts", "sa", tags={"application": "x"})) is False
    assert matches(condition, resource("Microsoft.Network/virtualNetworks", "vnet", tags={})) is False


# ---- Conditions --------------------------------------------------------------------------------------------------
VM = resource("Microsoft.Compute/virtualMachines", "Web-Server-01", tags={"env": "Prod"})


@pytest.mark.parametrize(("condition", "expected"), [
    # "match": "#" a digit, "?" a letter, "." any character, any other character itself; case-sensitive
    ({"field": "name", "match": "???-??????-##"}, True),
    ({"field": "name", "match": "...-......-.."}, True),
    ({"field": "name", "match": "web-server-##"}, False),
    ({"field": "name", "match": "???-??????-#"}, False),
    ({"field": "name", "notMatch": "web-server-##"}, True),
    # "Case-insensitive alternatives are available in matchInsensitively and notMatchInsensitively"
    ({"field": "name", "matchInsensitively": "web-server-##"}, True),
    ({"field": "name", "notMatchInsensitively": "web-server-##"}, False),
    # "all other conditions that evaluate a stringValue are case-insensitive"
    ({"field": "name", "equals": "WEB-SERVER-01"}, True),
    ({"field": "name", "notEquals": "web-server-01"}, False),
    ({"field": "name", "like": "web-*"}, True),
    ({"field": "name", "notLike": "WEB-*"}, False),
    ({"field": "name", "contains": "SERVER"}, True),
    ({"field": "name", "notContains": "server"}, False),
    ({"field": "name", "in": ["db-01", "web-server-01"]}, True),
    ({"field": "name", "notIn": ["WEB-SERVER-01"]}, False),
    ({"field": "tags", "containsKey": "ENV"}, True),
    ({"field": "tags", "notContainsKey": "env"}, False),
    ({"field": "tags.env", "equals": "prod"}, True),
    # less ... greaterOrEquals: dates, strings, integers
    ({"field": "name", "less": "web-server-02"}, True),
    ({"field": "name", "greaterOrEquals": "WEB-SERVER-01"}, True),
    ({"value": "2024-05-01T00:00:00Z", "lessOrEquals": "2024-05-01T00:00:00Z"}, True),
    ({"value": 3, "greater": 2}, True),
    # "exists": "bool"
    ({"field": "tags.env", "exists": "true"}, True),
    ({"field": "tags.owner", "exists": "false"}, True),
])
def test_conditions(condition: dict[str, Any], expected: bool) -> None:
    assert matches(condition, VM) is expected


def test_less_between_different_types_is_an_error() -> None:
    """"For less, lessOrEquals, greater, and greaterOrEquals, if the property type doesn't match the condition
    type, an error is thrown"."""
    with pytest.raises((EvaluationError, ValueError), match="type"):
        matches({"field": "name", "less": 5}, VM)


# ---- Fields -----------------------------------------------------------------------------------------------------
DATABASE = {"id": f"{GROUP}/providers/Microsoft.Sql/servers/myServer/databases/myDatabase", "name": "myDatabase",
            "type": "Microsoft.Sql/servers/databases", "location": "East US 2",
            "identity": {"type": "SystemAssigned, UserAssigned"},
            "tags": {"Acct.CostCenter": "42", "'My.Apostrophe.Tag'": "quoted", "tag.with.dots": "dots"}}


@pytest.mark.parametrize(("condition", "expected"), [
    # fullName: "the resource name prepended by any parent resource names (for example myServer/myDatabase)"
    ({"field": "fullName", "equals": "myServer/myDatabase"}, True),
    ({"field": "name", "equals": "myDatabase"}, True),
    # location: "Location fields are normalized to support various formats. For example, East US 2 is considered
    # equal to eastus2"
    ({"field": "location", "equals": "eastus2"}, True),
    ({"field": "location", "equals": "EAST US 2"}, True),
    ({"field": "location", "in": ["westus", "eastus2"]}, True),
    ({"field": "location", "notIn": ["eastus2"]}, False),
    ({"field": "location", "notEquals": "East US"}, True),
    ({"field": "location", "like": "east us*"}, True),
    # id: "Returns the resource ID of the resource that is being evaluated"
    ({"field": "id", "like": "/subscriptions/*/providers/Microsoft.Sql/servers/myServer/databases/myDatabase"}, True),
    # identity.type: None, SystemAssigned, "SystemAssigned, UserAssigned", UserAssigned
    ({"field": "identity.type", "equals": "SystemAssigned, UserAssigned"}, True),
    ({"field": "identity.type", "exists": "true"}, True),
    # tags['<tagName>'], tags['''<tagName>'''] and tags.<tagName>, tags[tagName], tags[tag.with.dots]
    ({"field": "tags['Acct.CostCenter']", "equals": "42"}, True),
    ({"field": "tags['''My.Apostrophe.Tag''']", "equals": "quoted"}, True),
    ({"field": "tags[tag.with.dots]", "equals": "dots"}, True),
    ({"field": "tags['tag.with.dots']", "equals": "dots"}, True),
    ({"field": "tags[Acct.CostCenter]", "exists": "true"}, True),
])
def test_fields(condition: dict[str, Any], expected: bool) -> None:
    assert matches(condition, DATABASE) is expected


def test_location_normalization_applies_to_the_resource_value_too() -> None:
    """Both sides are normalized: a resource in ``eastus2`` equals "East US 2" (and is in ["East US 2"])."""
    stored = {**DATABASE, "location": "eastus2"}
    assert matches({"field": "location", "equals": "East US 2"}, stored) is True
    assert matches({"field": "location", "in": ["East US 2", "West Europe"]}, stored) is True
    assert matches({"field": "location", "notIn": ["East US 2"]}, stored) is False


def test_array_alias_fields_are_evaluated_per_element_with_a_logical_and() -> None:
    """"In field expressions referring to array alias [*] each element in the array is evaluated individually with
    logical and between elements": an element that lacks the property makes exists false."""
    items = {"id": f"{GROUP}/providers/Microsoft.Test/resourceType/r", "type": "Microsoft.Test/resourceType",
             "properties": {"items": [{"name": "a"}, {"other": 1}]}}
    assert matches({"field": "Microsoft.Test/resourceType/items[*].name", "exists": True}, items) is False
    assert matches({"field": "Microsoft.Test/resourceType/items[*].name", "exists": False}, items) is False
    named = {**items, "properties": {"items": [{"name": "a"}, {"name": "b"}]}}
    assert matches({"field": "Microsoft.Test/resourceType/items[*].name", "exists": True}, named) is True


def test_the_legacy_source_action_syntax_is_no_longer_supported() -> None:
    """"the following code is no longer supported": ``{"source": "action", "like": ...}``."""
    with pytest.raises(InputError):
        audit_rule({"source": "action", "like": "Microsoft.Network/publicIPAddresses/*"})
    assert matches({"field": "type", "equals": "Microsoft.Network/publicIPAddresses"},
                   resource("Microsoft.Network/publicIPAddresses", "ip")) is True


def test_use_tags_with_parameters() -> None:
    """The modify example: the tag named by tagName is missing, so the rule holds; the operation's value is the
    same tag of the resource group (``resourcegroup().tags[parameters('tagName')]``)."""
    rule = {"if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"},
            "then": {"effect": "modify", "details": {
                "operations": [{"operation": "add", "field": "[concat('tags[', parameters('tagName'), ']')]",
                                "value": "[resourcegroup().tags[parameters('tagName')]]"}],
                "roleDefinitionIds": ["/providers/microsoft.authorization/roleDefinitions/"
                                      "4a9ae827-6dc8-4573-8ac7-8239d42aa03f"]}}}
    policy = _compiled(rule, {"tagName": {"type": "String"}}, {"tagName": "costCenter"})
    untagged = resource("Microsoft.Storage/storageAccounts", "sa", tags={})
    containers = {GROUP.lower(): {"location": "eastus2", "tags": {"costCenter": "1234"}}}
    effect, outcome = policy.evaluate(untagged, {}, NOW, containers=containers)
    assert (effect.name, outcome.compliant) == ("Modify", False)
    details = policy.resolved_details(policy.context(untagged, NOW, containers))
    assert details["operations"][0]["value"] == "1234"
    tagged = resource("Microsoft.Storage/storageAccounts", "sa", tags={"costCenter": "1"})
    assert policy.evaluate(tagged, {}, NOW, containers=containers)[1].compliant is True


# ---- Value ---------------------------------------------------------------------------------------------------------
def test_value_examples() -> None:
    """``[resourceGroup().name]`` like ``*netrg`` with a type not like ``Microsoft.Network/*`` is denied; ``[less(
    length(field('tags')), 3)]`` equals "true" denies "any resource that doesn't have at least three tags"."""
    rule = {"allOf": [{"value": "[resourceGroup().name]", "like": "*netrg"},
                      {"field": "type", "notLike": "Microsoft.Network/*"}]}
    assert matches(rule, resource("Microsoft.Storage/storageAccounts", "sa")) is True
    assert matches(rule, resource("Microsoft.Network/virtualNetworks", "vnet")) is False
    few_tags = {"value": "[less(length(field('tags')), 3)]", "equals": "true"}
    assert matches(few_tags, resource("Microsoft.Storage/storageAccounts", "sa", tags={"a": "1", "b": "2"})) is True
    assert matches(few_tags, resource("Microsoft.Storage/storageAccounts", "sa",
                                      tags={"a": "1", "b": "2", "c": "3"})) is False
    # a resource without tags has fewer than three: field() of the missing tags is "" (length 0)
    assert matches(few_tags, resource("Microsoft.Storage/storageAccounts", "sa")) is True


def test_avoiding_template_failures() -> None:
    """``substring(field('name'), 0, 3)`` fails on a name shorter than three characters ("If the result of a
    template function is an error, policy evaluation fails"); the ``if()`` version compares instead."""
    failing = {"value": "[substring(field('name'), 0, 3)]", "equals": "abc"}
    assert matches(failing, resource("Microsoft.Storage/storageAccounts", "abcdef")) is True
    with pytest.raises(EvaluationError):
        matches(failing, resource("Microsoft.Storage/storageAccounts", "ab"))
    guarded = {"value": "[if(greaterOrEquals(length(field('name')), 3), substring(field('name'), 0, 3), "
                        "'not starting with abc')]", "equals": "abc"}
    assert matches(guarded, resource("Microsoft.Storage/storageAccounts", "abcdef")) is True
    assert matches(guarded, resource("Microsoft.Storage/storageAccounts", "ab")) is False


# ---- Count: the field count examples --------------------------------------------------------------------------------
NSG_TYPE = "Microsoft.Network/networkSecurityGroups"
NSG_ALIASES = alias_table(NSG_TYPE, {
    "securityRules[*]": "properties.securityRules[*]",
    **{f"securityRules[*].{name}": f"properties.securityRules[*].properties.{name}"
       for name in ("description", "direction", "access", "destinationPortRange", "priority")}})
RULES = f"{NSG_TYPE}/securityRules[*]"


def nsg(*rules: dict[str, Any]) -> dict[str, Any]:
    return resource(NSG_TYPE, "nsg", properties={"securityRules": [
        {"name": f"rule{index}", "properties": rule} for index, rule in enumerate(rules)]})


RDP = {"description": "My unique description", "direction": "Inbound", "access": "Allow",
       "destinationPortRange": "3389", "priority": 100}
HTTPS = {"description": "My common description", "direction": "Inbound", "access": "Allow",
         "destinationPortRange": "443", "priority": 110}
DENY_ALL = {"description": "My common description", "direction": "Outbound", "access": "Deny",
            "destinationPortRange": "*", "priority": 4000}


def where(name: str, value: Any) -> dict[str, Any]:
    return {"field": f"{RULES}.{name}", "equals": value}


@pytest.mark.parametrize(("condition", "rules", "expected"), [
    # Example 1: Check if an array is empty
    ({"count": {"field": RULES}, "equals": 0}, (), True),
    ({"count": {"field": RULES}, "equals": 0}, (RDP,), False),
    # Example 2: Check for only one array member to meet the condition expression
    ({"count": {"field": RULES, "where": where("description", "My unique description")}, "equals": 1},
     (RDP, HTTPS), True),
    # Example 3: Check for at least one array member to meet the condition expression
    ({"count": {"field": RULES, "where": where("description", "My common description")}, "greaterOrEquals": 1},
     (RDP, HTTPS, DENY_ALL), True),
    ({"count": {"field": RULES, "where": where("description", "My common description")}, "greaterOrEquals": 1},
     (RDP,), False),
    # Example 4: Check that all object array members meet the condition expression
    ({"count": {"field": RULES, "where": where("description", "description")},
      "equals": f"[length(field('{RULES}'))]"}, ({**RDP, "description": "description"},), True),
    ({"count": {"field": RULES, "where": where("description", "description")},
      "equals": f"[length(field('{RULES}'))]"}, ({**RDP, "description": "description"}, HTTPS), False),
    # Example 5: at least one array member matches multiple properties
    ({"count": {"field": RULES, "where": {"allOf": [where("direction", "Inbound"), where("access", "Allow"),
                                                    where("destinationPortRange", "3389")]}}, "greater": 0},
     (HTTPS, RDP), True),
    ({"count": {"field": RULES, "where": {"allOf": [where("direction", "Inbound"), where("access", "Allow"),
                                                    where("destinationPortRange", "3389")]}}, "greater": 0},
     (HTTPS, DENY_ALL), False),
])
def test_field_count_examples(condition: dict[str, Any], rules: tuple[dict[str, Any], ...], expected: bool) -> None:
    assert matches(condition, nsg(*rules), NSG_ALIASES) is expected


VNET_TYPE = "Microsoft.Network/virtualNetworks"
PREFIXES = f"{VNET_TYPE}/addressSpace.addressPrefixes[*]"


def vnet(*prefixes: str) -> dict[str, Any]:
    return resource(VNET_TYPE, "vnet", properties={"addressSpace": {"addressPrefixes": list(prefixes)}})


@pytest.mark.parametrize("value", [
    # Example 6: current() of the counted array alias inside where
    f"[ipRangeContains('10.0.0.0/24', current('{PREFIXES}'))]",
    # Example 7: field() of the counted array alias: an array with the single member (hence first()). As printed,
    # ``first(field(('...')))]`` opens four parentheses and closes three: transcribed with ``field('...')``.
    f"[ipRangeContains('10.0.0.0/24', first(field('{PREFIXES}')))]",
])
def test_an_address_prefix_outside_a_range(value: str) -> None:
    """Examples 6 and 7: "checks whether a virtual network contains an address prefix that isn't under the
    10.0.0.0/24 CIDR range"."""
    condition = {"count": {"field": PREFIXES, "where": {"value": value, "equals": False}}, "greater": 0}
    assert matches(condition, vnet("10.0.0.0/25", "10.0.1.0/24")) is True
    assert matches(condition, vnet("10.0.0.0/25", "10.0.0.128/26")) is False


# ---- Count: the value count examples ----------------------------------------------------------------------------------
@pytest.mark.parametrize("condition", [
    # Example 1: named index
    {"count": {"value": ["prefix1_*", "prefix2_*"], "name": "pattern",
               "where": {"field": "name", "like": "[current('pattern')]"}}, "greater": 0},
    # Example 2: current() without an index name, "The outcome is the same as the previous example"
    {"count": {"value": ["prefix1_*", "prefix2_*"], "where": {"field": "name", "like": "[current()]"}}, "greater": 0},
    # Example 3: the patterns from an array parameter
    {"count": {"value": "[parameters('namePatterns')]", "name": "pattern",
               "where": {"field": "name", "like": "[current('pattern')]"}}, "greater": 0},
])
def test_a_name_matching_any_pattern(condition: dict[str, Any]) -> None:
    patterns = ["prefix1_*", "prefix2_*"]
    assert matches(condition, resource("Microsoft.Storage/storageAccounts", "prefix2_data"),
                   namePatterns=patterns) is True
    assert matches(condition, resource("Microsoft.Storage/storageAccounts", "prefix3_data"),
                   namePatterns=patterns) is False


def test_value_count_example_4_a_prefix_outside_the_approved_ones() -> None:
    """A field count whose where is a value count over the approved prefixes (count equals 0: not under any)."""
    condition = {"count": {"field": PREFIXES, "where": {
        "count": {"value": "[parameters('approvedPrefixes')]", "name": "approvedPrefix",
                  "where": {"value": f"[ipRangeContains(current('approvedPrefix'), current('{PREFIXES}'))]",
                            "equals": True}},
        "equals": 0}}, "greater": 0}
    approved = ["10.0.0.0/16", "192.168.0.0/24"]
    assert matches(condition, vnet("10.0.1.0/24", "192.168.0.0/25"), approvedPrefixes=approved) is False
    assert matches(condition, vnet("10.0.1.0/24", "172.16.0.0/24"), approvedPrefixes=approved) is True


RESERVED = [{"priority": 101, "access": "deny", "direction": "inbound", "destinationPortRange": 22},
            {"priority": 102, "access": "deny", "direction": "inbound", "destinationPortRange": 3389}]


def test_value_count_example_5_all_reserved_rules_are_defined() -> None:
    """"Check that all the reserved NSG rules are defined in an NSG": each reserved rule is matched by exactly one
    security rule, and their number equals the parameter's length."""
    member = {"allOf": [{"field": f"{RULES}.{name}", "equals": f"[current('reservedNsgRule').{name}]"}
                        for name in ("priority", "access", "direction", "destinationPortRange")]}
    condition = {"count": {"value": "[parameters('reservedNsgRules')]", "name": "reservedNsgRule",
                           "where": {"count": {"field": RULES, "where": member}, "equals": 1}},
                 "equals": "[length(parameters('reservedNsgRules'))]"}
    both = nsg({"priority": 101, "access": "Deny", "direction": "Inbound", "destinationPortRange": "22"},
               {"priority": 102, "access": "Deny", "direction": "Inbound", "destinationPortRange": "3389"}, HTTPS)
    one = nsg({"priority": 101, "access": "Deny", "direction": "Inbound", "destinationPortRange": "22"}, HTTPS)
    assert matches(condition, both, NSG_ALIASES, reservedNsgRules=RESERVED) is True
    assert matches(condition, one, NSG_ALIASES, reservedNsgRules=RESERVED) is False


def test_current_is_only_available_inside_a_count() -> None:
    """"The current() function is only available inside the count.where condition"."""
    with pytest.raises(EvaluationError, match="count"):
        matches({"value": "[current()]", "equals": "x"}, VM)


# ---- Policy functions --------------------------------------------------------------------------------------------
NOW = datetime(2025, 3, 19, 8, 30, 15, 123456, tzinfo=UTC)


def _compiled(rule: dict[str, Any], declared: dict[str, Any] | None = None,
              values: dict[str, Any] | None = None) -> Any:
    definition = PolicyDefinition.model_validate({"id": "/d", "name": "d", "mode": "All", "parameters": declared or {},
                                                  "policyRule": rule, "source": "docs.json"})
    info = {"assignmentId": "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/providers/Microsoft.Authorization/"
                            "policyAssignments/myAssignment",
            "definitionId": "/providers/Microsoft.Authorization/policyDefinitions/34c877ad-507e-4c82-993e-3452a6e0ad3c",
            "setDefinitionId": "/providers/Microsoft.Authorization/policySetDefinitions/"
                               "42a694ed-f65e-42b2-aa9e-8052e9740a92",
            "definitionReferenceId": "StorageAccountNetworkACLs"}
    return compile_policy(definition, values or {}, info)


def _value(policy: Any, expression: str) -> Any:
    return compile_value(expression, registry_with_parameters({}))(
        RuleContext(VM, NOW, policy.policy_info))


def test_policy_returns_the_policy_being_evaluated() -> None:
    """``policy()`` returns assignmentId, definitionId, setDefinitionId and definitionReferenceId ("example:
    ``[policy().assignmentId]``")."""
    policy = _compiled({"if": {"value": "[policy().definitionReferenceId]", "equals": "StorageAccountNetworkACLs"},
                        "then": {"effect": "audit"}})
    assert policy.evaluate(VM, {}, NOW)[1].compliant is False
    assert _value(policy, "[policy().assignmentId]").endswith("/policyAssignments/myAssignment")
    assert set(_value(policy, "[policy()]")) == {"assignmentId", "definitionId", "setDefinitionId",
                                                 "definitionReferenceId"}


def test_utc_now_and_add_days() -> None:
    """``utcNow()``: "Universal ISO 8601 DateTime format yyyy-MM-ddTHH:mm:ss.fffffffZ"; ``addDays(dateTime,
    numberOfDaysToAdd)``."""
    assert expression_value("[utcNow()]", VM) == expression_value("[utcNow()]", VM)
    assert _value(_compiled({"if": {"value": 1, "equals": 1}, "then": {"effect": "audit"}}), "[utcNow()]") == \
        "2025-03-19T08:30:15.1234560Z"
    assert expression_value("[addDays('2025-03-19T08:30:15.1234560Z', 13)]", VM).startswith("2025-04-01T08:30:15")


def test_request_context_during_compliance_evaluation() -> None:
    """"The latest API version is always used during compliance evaluation on existing resources": offline
    arcpolicy takes a version later than any a policy names; no caller identity (``tryGet`` of ``idtyp`` is
    null, so the docs' ``equals "user"`` condition does not hold)."""
    assert matches({"value": "[requestContext().apiVersion]", "greaterOrEquals": "2024-11-01"}, VM) is True
    assert matches({"value": "[requestContext().apiVersion]", "less": "2019-08-01"}, VM) is False
    assert matches({"value": "[tryGet(requestContext().identity, 'idtyp')]", "equals": "user"}, VM) is False


def test_the_policy_function_example() -> None:
    """"enforces the resource name to start with the resource group name": deny when not like
    ``[concat(resourceGroup().name,'*')]``."""
    condition = {"not": {"field": "name", "like": "[concat(resourceGroup().name,'*')]"}}
    assert matches(condition, resource("Microsoft.Storage/storageAccounts", "contoso-netrg-data")) is False
    assert matches(condition, resource("Microsoft.Storage/storageAccounts", "fabrikam-data")) is True


# ---- Policy rule limits: "Limits enforced during authoring" ----------------------------------------------------------
CONDITION = {"field": "name", "equals": "x"}


def test_at_most_4096_condition_expressions_in_the_if() -> None:
    assert audit_rule({"anyOf": [CONDITION] * 4096}) is not None
    with pytest.raises(InputError, match="at most 4096 condition expressions"):
        audit_rule({"anyOf": [CONDITION] * 4097})


def test_at_most_128_condition_expressions_in_the_then() -> None:
    """"Applies to the existenceCondition of auditIfNotExists and deployIfNotExists policies"."""
    def rule(conditions: int) -> dict[str, Any]:
        return {"if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
                "then": {"effect": "auditIfNotExists", "details": {
                    "type": "Microsoft.Compute/virtualMachines/extensions",
                    "existenceCondition": {"anyOf": [CONDITION] * conditions}}}}

    assert _compiled(rule(128)) is not None
    with pytest.raises(InputError, match="at most 128 condition expressions"):
        _compiled(rule(129))


def test_at_most_5_field_count_expressions_per_array() -> None:
    count = {"count": {"field": RULES}, "greater": 0}
    assert audit_rule({"allOf": [count] * 5}, aliases=NSG_ALIASES) is not None
    with pytest.raises(InputError, match="at most 5 field count expressions per array"):
        audit_rule({"allOf": [count] * 6}, aliases=NSG_ALIASES)
    other = {"count": {"field": f"{NSG_TYPE}/securityRules[*]", "where": where("access", "Allow")}, "equals": 0}
    assert audit_rule({"allOf": [count] * 4 + [other]}, aliases=NSG_ALIASES) is not None


# ---- Policy rule limits: "Limits enforced during authoring", expressions; "Limits enforced during evaluation" --------
def test_a_policy_expression_may_hold_81920_characters_and_a_call_128_arguments() -> None:
    """Azure Policy's own limits ("Policy functions expression string length 81920", "Policy function number of
    parameters 128"), above ARM's 24,576 characters for a template expression."""
    text = "a" * (81_920 - len("[concat('')]"))
    assert audit_rule({"value": f"[concat('{text}')]", "equals": "x"}) is not None
    with pytest.raises(InputError, match="longer than Azure Policy's 81,920 characters"):
        audit_rule({"value": f"[concat('{text}a')]", "equals": "x"})
    with pytest.raises(TemplateError, match="longer than ARM's 24,576 characters"):
        template_outputs({"outputs": {"value": {"value": f"[concat('{text}')]"}}})
    ones = ", ".join(["'1'"] * 128)
    assert audit_rule({"value": f"[concat({ones})]", "equals": "1" * 128}) is not None
    with pytest.raises(InputError, match="takes at most 128 arguments in Azure Policy, got 129"):
        audit_rule({"value": f"[concat({ones}, '1')]", "equals": "x"})
    assert template_outputs({"outputs": {"value": {"value": f"[concat({ones}, '1')]"}}}) == {"value": "1" * 129}


def test_a_function_returning_more_than_the_evaluation_limits_fails_the_evaluation() -> None:
    """The page's examples: ``[concat(field('longString1'), field('longString2'))]`` (131072 characters),
    ``[union(...)]`` of deep objects (depth 128), ``[concat(field('largeArray1'), ...)]`` (32768 nodes). "Policies
    that exceed the limits during evaluation will effectively become a deny policy": the evaluation fails (an
    Error record in a scan)."""
    long = resource("Microsoft.Storage/storageAccounts", "sa", properties={"a": "x" * 65_536, "b": "y" * 65_536})
    fits = "[concat(field('Microsoft.Storage/storageAccounts/a'), field('Microsoft.Storage/storageAccounts/b'))]"
    aliases = alias_table("Microsoft.Storage/storageAccounts", {"a": "properties.a", "b": "properties.b",
                                                                "c": "properties.c"})
    assert matches({"field": "name", "equals": fits}, long, aliases) is False  # exactly 131,072 characters
    longer = {**long, "properties": {"a": "x" * 65_536, "b": "y" * 65_537}}
    with pytest.raises(EvaluationError, match="concat\\(\\) returns a string of 131,073 characters, over Azure "
                                              "Policy's 131,072"):
        matches({"field": "name", "equals": fits}, longer, aliases)
    nodes = {**long, "properties": {"a": list(range(16_383)), "b": list(range(16_384))}}
    arrays = {"value": "[length(concat(field('Microsoft.Storage/storageAccounts/a'), "
                       "field('Microsoft.Storage/storageAccounts/b')))]", "equals": 32_767}
    assert matches(arrays, nodes, aliases) is True  # the array and its 32,767 members: 32,768 nodes
    with pytest.raises(EvaluationError, match="more than 32,768 nodes"):
        matches(arrays, {**nodes, "properties": {"a": list(range(16_384)), "b": list(range(16_384))}}, aliases)
    deep: Any = "leaf"
    for _ in range(127):
        deep = {"d": deep}
    nested = {**long, "properties": {"c": deep}}
    union = {"value": "[union(field('Microsoft.Storage/storageAccounts/c'), createObject('e', 1))]", "exists": True}
    assert matches(union, {**nested, "properties": {"c": {"d": deep}}}, aliases) is True  # 128 objects deep
    with pytest.raises(EvaluationError, match="nested more than 128 levels deep"):
        matches(union, {**nested, "properties": {"c": {"d": {"d": deep}}}}, aliases)
