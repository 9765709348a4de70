"""Azure Policy's functions, against policy/concepts/definition-structure-policy-rule ("Policy functions",
and the count examples that call them): ``ipRangeContains``'s supported formats and failures, ``addDays``,
``utcNow``, ``policy()``, ``requestContext()``, the policy function example, and the template functions
the page excludes from policy rules."""

from __future__ import annotations

from typing import Any

import pytest
from azure_policy.builders import NOW, cluster, matches

from engine.azure_policy.functions import LATEST_API_VERSION, RuleContext, registry_with_parameters
from engine.expressions import EvaluationError, ExpressionSyntaxError, compile_expression

POLICY = {"assignmentId": "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/myAssignment",
          "definitionId": "/providers/Microsoft.Authorization/policyDefinitions/34c877ad",
          "setDefinitionId": "/providers/Microsoft.Authorization/policySetDefinitions/42a694ed",
          "definitionReferenceId": "StorageAccountNetworkACLs"}
RESOURCE = cluster("c1")


def evaluate(expression: str, resource: dict[str, Any] | None = None) -> Any:
    compiled = compile_expression(expression, registry_with_parameters({}))
    return compiled(RuleContext(resource or RESOURCE, NOW, POLICY))


@pytest.mark.parametrize(("range_", "target", "expected"), [
    ("10.0.0.0/24", "10.0.0.5", True), ("10.0.0.0/24", "10.0.1.5", False),  # single IP address
    ("10.0.0.0/16", "10.0.1.0/24", True), ("10.0.0.0/24", "10.0.0.0/16", False),  # CIDR range
    ("10.0.0.5", "10.0.0.5", True), ("10.0.0.5", "10.0.0.0/31", False),
    ("192.168.0.1-192.168.0.9", "192.168.0.5", True),  # "Range defined by start and end IP addresses"
    ("192.168.0.1-192.168.0.9", "192.168.0.10", False),
    ("192.168.0.0/24", "192.168.0.1-192.168.0.9", True), ("192.168.0.2-192.168.0.9", "192.168.0.0/30", False),
    ("2001:0DB8::/110", "2001:0DB8::3:FFFE", True), ("2001:0DB8::/110", "2001:0DB8::4:0", False),
    ("2001:0DB8::-2001:0DB8::3:FFFF", "2001:0DB8::3:FFFE", True),
    ("2001:0DB8::-2001:0DB8::3:FFFF", "2001:db8::/112", True),
    ("2001:db8::/32", "2001:db9::1", False),
])
def test_ip_range_contains_its_supported_formats(range_: str, target: str, expected: bool) -> None:
    assert evaluate(f"[ipRangeContains('{range_}', '{target}')]") is expected


@pytest.mark.parametrize(("range_", "target"), [
    ("10.0.0.0/24", "2001:0DB8::3:FFFE"), ("2001:0DB8::/110", "10.0.0.1"),  # "mixing between IP families"
    ("10.0.0.1-2001:db8::1", "10.0.0.1"),
    ("192.168.0.9-192.168.0.1", "192.168.0.5"),  # "Empty ranges"
    ("", "10.0.0.1"), ("10.0.0.0/24", "not an address"), ("10.0.0.0/33", "10.0.0.1"),
])
def test_ip_range_contains_fails_evaluation_as_documented(range_: str, target: str) -> None:
    """"Empty ranges, or mixing between IP families isn't allowed and results in evaluation failure": when the
    resource gives the ranges, evaluating fails; written in the rule, it is refused when compiled."""
    with pytest.raises(EvaluationError, match="ipRangeContains"):
        evaluate("[ipRangeContains(field('tags.range'), field('tags.target'))]",
                 cluster("c1", tags={"range": range_, "target": target}))
    with pytest.raises(ExpressionSyntaxError, match="ipRangeContains"):
        evaluate(f"[ipRangeContains('{range_}', '{target}')]")


def _network(prefixes: list[str]) -> dict[str, Any]:
    return {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/vnet",
            "name": "vnet", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": prefixes}}}


PREFIXES = "Microsoft.Network/virtualNetworks/addressSpace.addressPrefixes[*]"


@pytest.mark.parametrize(("prefixes", "expected"), [(["10.0.0.0/25", "10.0.0.128/25"], False),
                                                    (["10.0.0.0/25", "10.1.0.0/16"], True)])
def test_field_count_example_6_an_address_prefix_outside_a_range(prefixes: list[str], expected: bool) -> None:
    """Field count example 6: ``current()`` of the counted prefix in ``ipRangeContains``."""
    condition = {"count": {"field": PREFIXES, "where": {
        "value": f"[ipRangeContains('10.0.0.0/24', current('{PREFIXES}'))]", "equals": False}}, "greater": 0}
    assert matches(condition, _network(prefixes)) is expected


@pytest.mark.parametrize(("prefixes", "expected"), [(["10.0.0.0/25", "192.168.1.0/24"], False),
                                                    (["10.0.0.0/25", "172.16.0.0/16"], True)])
def test_value_count_example_4_prefixes_not_under_approved_ones(prefixes: list[str], expected: bool) -> None:
    """Value count example 4: nested counts, ``ipRangeContains`` of two ``current()`` values."""
    condition = {"count": {"field": PREFIXES, "where": {"count": {
        "value": "[parameters('approvedPrefixes')]", "name": "approvedPrefix",
        "where": {"value": f"[ipRangeContains(current('approvedPrefix'), current('{PREFIXES}'))]", "equals": True}},
        "equals": 0}}, "greater": 0}
    assert matches(condition, _network(prefixes), approvedPrefixes=["10.0.0.0/16", "192.168.0.0/16"]) is expected


def test_policy_function_example_name_starts_with_the_resource_group_name() -> None:
    """"Policy function example": a deny unless the name is like ``[concat(resourceGroup().name,'*')]``."""
    condition = {"not": {"field": "name", "like": "[concat(resourceGroup().name,'*')]"}}
    assert matches(condition, cluster("rg-a-cluster", group="rg-a")) is False
    assert matches(condition, cluster("cluster", group="rg-a")) is True


@pytest.mark.parametrize(("expression", "expected"), [
    ("[addDays('2024-01-15T12:00:00Z', 5)]", "2024-01-20T12:00:00Z"),
    ("[addDays('2024-01-15T12:00:00.5Z', -3)]", "2024-01-12T12:00:00.5Z"),
    ("[addDays('2024-01-30T00:00:00Z', 5)]", "2024-02-04T00:00:00Z"),
    ("[addDays(utcNow(), -1)]", "2026-10-31T12:00:00Z"),
    ("[utcNow()]", "2026-11-01T12:00:00.0000000Z"),  # "yyyy-MM-ddTHH:mm:ss.fffffffZ"
    ("[utcNow('d')]", "11/01/2026"), ("[utcNow('u')]", "2026-11-01 12:00:00Z"), ("[utcNow('yyyy-MM-dd')]", "2026-11-01"),
    ("[utcNow('M d')]", "11 1"),
    ("[policy().definitionReferenceId]", "StorageAccountNetworkACLs"),
    ("[policy().assignmentId]", POLICY["assignmentId"]),
    # "The latest API version is always used during compliance evaluation on existing resources"
    ("[requestContext().apiVersion]", LATEST_API_VERSION),
    ("[tryGet(requestContext().identity, 'idtyp')]", None),
    # on the docs' list of exclusions, evaluated as Microsoft's conformance cases do
    ("[dateTimeAdd('2025-01-15T10:00:00Z', 'P1D')]", "2025-01-16T10:00:00Z"),
    ("[dateTimeFromEpoch(1700000000)]", "2023-11-14T22:13:20Z"),
    ("[dateTimeToEpoch('2023-11-14T22:13:20Z')]", 1700000000),
    ("[concat()]", ""),
])
def test_policy_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize("name", ["copyIndex()", "deployment()", "environment()",
                                  "extensionResourceId('/x', 'A/b', 'n')", "listKeys('x', '2020-01-01')",
                                  "listAccountSas('x', '2020-01-01')", "managementGroup()", "newGuid()",
                                  "pickZones('A', 'b', 'c')", "providers('A')", "reference('x')",
                                  "resourceId('A/b', 'n')", "subscriptionResourceId('A/b', 'n')",
                                  "tenantResourceId('A/b', 'n')", "tenant()", "variables('v')"])
def test_template_functions_the_page_excludes_are_refused_when_a_rule_is_compiled(name: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="exclude it from policy rules"):
        evaluate(f"[{name}]")
