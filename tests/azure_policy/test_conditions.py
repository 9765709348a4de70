"""Every condition operator and logical operator, with the documented semantics.

Cases follow the Azure Policy docs "Azure Policy definition structure policy rule"
(learn.microsoft.com/azure/governance/policy/concepts/definition-structure-policy-rule):
conditions, logical operators, value, and "match: # a digit, ? a letter, . any character".
"""

from __future__ import annotations

import pytest

from .builders import cluster, extension, matches

CLUSTER = cluster("Contoso-42", tags={"environment": "Production", "costCenter": "1234"}, totalNodeCount=3,
                  lastConnectivityTime="2026-10-30T08:00:00Z", agentVersion="1.19.1")
AIRGAPPED = cluster("edge-7", distribution="AKS_Edge_Essentials", tags={})


@pytest.mark.parametrize(("condition", "expected"), [
    # equals / notEquals: case-insensitive strings
    ({"field": "type", "equals": "microsoft.kubernetes/CONNECTEDCLUSTERS"}, True),
    ({"field": "name", "equals": "contoso-42"}, True),
    ({"field": "name", "notEquals": "contoso-42"}, False),
    ({"field": "Microsoft.Kubernetes/connectedClusters/distribution", "equals": "K3S"}, True),
    # numbers and their string forms
    ({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "equals": 3}, True),
    ({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "equals": "3"}, True),
    # like / notLike: '*' wildcard, case-insensitive (docs: "field": "type", "like": "Microsoft.Network/*")
    ({"field": "type", "like": "Microsoft.Kubernetes/*"}, True),
    ({"field": "name", "like": "CONTOSO*"}, True),
    ({"field": "name", "like": "*-42"}, True),
    ({"field": "name", "notLike": "fabrikam*"}, True),
    ({"field": "name", "like": "fabrikam*"}, False),
    # match: '#' digit, '?' letter, '.' any character, others literal; case-sensitive
    ({"field": "name", "match": "Contoso-##"}, True),
    ({"field": "name", "match": "???????.##"}, True),
    ({"field": "name", "match": "contoso-##"}, False),
    ({"field": "name", "matchInsensitively": "contoso-##"}, True),
    ({"field": "name", "match": "Contoso-#"}, False),
    ({"field": "name", "notMatch": "contoso-##"}, True),
    ({"field": "name", "notMatchInsensitively": "contoso-##"}, False),
    # contains / notContains: substring, case-insensitive
    ({"field": "name", "contains": "TOSO"}, True),
    ({"field": "name", "notContains": "fabrikam"}, True),
    # in / notIn
    ({"field": "location", "in": ["eastus", "WestEurope"]}, True),
    ({"field": "location", "notIn": ["eastus", "westeurope"]}, False),
    ({"field": "Microsoft.Kubernetes/connectedClusters/distribution", "notIn": ["aks", "eks", "gke"]}, True),
    # containsKey / notContainsKey (docs: "field": "tags", "containsKey": "application")
    ({"field": "tags", "containsKey": "COSTCENTER"}, True),
    ({"field": "tags", "notContainsKey": "application"}, True),
    ({"field": "tags", "containsKey": "application"}, False),
    # less / lessOrEquals / greater / greaterOrEquals: numbers, strings (ignoring case) and dates
    ({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "less": 4}, True),
    ({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "lessOrEquals": 3}, True),
    ({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "greater": 3}, False),
    ({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "greaterOrEquals": 3}, True),
    ({"field": "Microsoft.Kubernetes/connectedClusters/agentVersion", "less": "1.20.0"}, True),
    ({"field": "name", "greater": "CONTOSO-41"}, True),
    ({"field": "Microsoft.Kubernetes/connectedClusters/lastConnectivityTime", "less": "2026-11-01T00:00:00Z"}, True),
    # exists
    ({"field": "tags['costCenter']", "exists": "true"}, True),
    ({"field": "tags['application']", "exists": False}, True),
    ({"field": "Microsoft.Kubernetes/connectedClusters/offering", "exists": True}, False),
    # logical operators, nested as in the docs' "not nested within allOf" example
    ({"allOf": [{"not": {"field": "tags", "containsKey": "application"}},
                {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"}]}, True),
    ({"anyOf": [{"field": "location", "equals": "eastus"}, {"field": "name", "like": "contoso*"}]}, True),
    ({"anyOf": [{"field": "location", "equals": "eastus"}, {"field": "name", "like": "fabrikam*"}]}, False),
    ({"not": {"anyOf": [{"field": "location", "equals": "eastus"}]}}, True),
])
def test_operator(condition: dict, expected: bool) -> None:
    assert matches(condition, CLUSTER) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    # a missing field equals "" and null, fails every other positive test, passes the negations
    ({"field": "tags['owner']", "equals": ""}, True),
    ({"field": "tags['owner']", "equals": "team-a"}, False),
    ({"field": "tags['owner']", "notEquals": "team-a"}, True),
    ({"field": "tags['owner']", "like": "team*"}, False),
    ({"field": "tags['owner']", "notLike": "team*"}, True),
    ({"field": "tags['owner']", "contains": "team"}, False),
    ({"field": "tags['owner']", "notContains": "team"}, True),
    ({"field": "tags['owner']", "in": ["team-a"]}, False),
    ({"field": "tags['owner']", "notIn": ["team-a"]}, True),
    ({"field": "tags['owner']", "match": "????"}, False),
    ({"field": "tags['owner']", "notMatch": "????"}, True),
    ({"field": "tags['owner']", "less": "z"}, False),
    ({"field": "tags", "containsKey": "owner"}, False),
])
def test_missing_field(condition: dict, expected: bool) -> None:
    assert matches(condition, AIRGAPPED) is expected


@pytest.mark.parametrize(("actual", "expected", "outcome"), [
    (True, "true", True), (True, "True", True), (False, "false", True), (True, "false", False),
    (False, False, True), ("true", True, True),
])
def test_booleans_compare_to_their_string_forms(actual: object, expected: object, outcome: bool) -> None:
    owner = cluster("c1")
    flux = extension(owner, "flux", "microsoft.flux", autoUpgradeMinorVersion=actual)
    condition = {"field": "Microsoft.KubernetesConfiguration/extensions/autoUpgradeMinorVersion", "equals": expected}
    assert matches(condition, flux) is outcome


def test_less_between_a_number_and_a_string_is_an_evaluation_error() -> None:
    """Docs: "if the property type doesn't match the condition type, an error is thrown"."""
    from engine.azure_policy.conditions import ConditionError

    with pytest.raises(ConditionError, match="does not match"):
        matches({"field": "Microsoft.Kubernetes/connectedClusters/totalNodeCount", "less": "four"}, CLUSTER)


def test_expected_value_from_a_parameter_is_prepared_per_assignment() -> None:
    condition = {"field": "Microsoft.Kubernetes/connectedClusters/distribution",
                 "in": "[parameters('allowed')]"}
    assert matches(condition, CLUSTER, allowed=["K3s", "openshift"]) is True
    assert matches(condition, CLUSTER, allowed=["openshift"]) is False


@pytest.mark.parametrize(("condition", "expected"), [
    # a constant value condition (1,689 built-ins have one, e.g. "[parameters('effect')]" folded to a string)
    ({"value": "abc", "equals": "abc"}, True),
    ({"value": "abc", "equals": "ABD"}, False),
    ({"value": "abc", "notEquals": "abd"}, True),
    ({"value": "abc", "in": ["x", "ABC"]}, True),
    ({"value": "abc", "notIn": ["abc"]}, False),
    ({"value": "[parameters('mode')]", "equals": "strict"}, True),
    ({"allOf": [{"value": "[parameters('mode')]", "equals": "strict"},
                {"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"}]}, True),
])
def test_constant_value_condition(condition: dict, expected: bool) -> None:
    """Regression: a compile-time constant operand crashed with "cannot create weak reference"."""
    assert matches(condition, CLUSTER, mode="Strict") is expected


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("*a*a*a*a*a*a*b", "a" * 256, False),  # a backtracking regex ran > 60 s on this
    ("*a*a*a*a*a*a*b", "a" * 256 + "B", True),
    ("a*b*a", "aba", True),
    ("ab*ba", "aba", False),  # prefix and suffix may not overlap
    ("a**b", "ab", True),
    ("*", "", True),
    ("x*y*z", "x-z-y", False),
])
def test_like_matches_without_backtracking(pattern: str, name: str, expected: bool) -> None:
    assert matches({"field": "name", "like": pattern}, cluster(name)) is expected
    assert matches({"field": "name", "notLike": pattern}, cluster(name)) is not expected


def test_a_tag_the_resource_group_lacks_reads_as_null() -> None:
    """The "Inherit a tag from the resource group" built-ins compare resourceGroup().tags[name] with ''."""
    inherit = {"allOf": [{"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"},
                         {"value": "[resourceGroup().tags[parameters('tagName')]]", "notEquals": ""}]}
    assert matches(inherit, CLUSTER, tagName="owner") is False
    assert matches({"value": "[resourceGroup().tags['owner']]", "equals": ""}, CLUSTER) is True
    assert matches({"value": "[subscription().tags.owner]", "exists": False}, CLUSTER) is True


@pytest.mark.parametrize("expected", [None, True, [1], {"a": 1}])
def test_ordering_against_a_value_that_has_no_order_is_refused_when_compiled(expected) -> None:
    """``{"value": 0, "greaterOrEquals": null}`` compared 0 with None (a TypeError, exit 3; found by make fuzz)."""
    from engine.errors import InputError

    with pytest.raises(InputError, match="cannot order"):
        matches({"value": 0, "greaterOrEquals": expected}, CLUSTER)
