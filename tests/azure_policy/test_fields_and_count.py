"""Fields, aliases (incl. [*] arrays and map keys), field names built by expressions, and count.

Cases follow the docs pages "definition structure policy rule" (fields, tags['x'], tags.x,
value and count examples) and "Author policies for array properties on Azure resources".
"""

from __future__ import annotations

import pytest

from engine.azure_policy.aliases import Alias, AliasTable
from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.functions import RuleContext
from engine.azure_policy.policy import compile_policy
from engine.errors import InputError
from engine.expressions import EvaluationError

from .builders import NOW, audit_rule, cluster, extension, matches

OWNER = cluster("c1", tags={"environment": "production", "cost.center": "42", "owner": "team-a"}, kind="Provisioned")
STATUSES = [{"code": "InstallationSucceeded", "level": "Information"},
            {"code": "HelmRelease", "level": "Warning"}]
MONITOR = extension(OWNER, "azuremonitor-containers", "Microsoft.AzureMonitor.Containers", statuses=STATUSES,
                    configurationSettings={"logAnalyticsWorkspaceResourceID": "/ws/1", "amalogs.enabled": "true"})


@pytest.mark.parametrize(("condition", "expected"), [
    ({"field": "id", "like": "/subscriptions/*/connectedClusters/c1"}, True),
    ({"field": "fullName", "equals": "c1"}, True),
    ({"field": "kind", "exists": False}, True),
    ({"field": "location", "equals": "WESTEUROPE"}, True),
    ({"field": "tags['environment']", "equals": "production"}, True),
    ({"field": "tags.environment", "equals": "production"}, True),
    ({"field": "tags[cost.center]", "equals": "42"}, True),
    ({"field": "tags['cost.center']", "equals": "42"}, True),
    ({"field": "TAGS['ENVIRONMENT']", "equals": "production"}, True),
    ({"field": "microsoft.kubernetes/CONNECTEDCLUSTERS/Distribution", "equals": "k3s"}, True),
    # docs: "[concat('tags[', parameters('tagName'), ']')]" (the "Require a tag" pattern)
    ({"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "true"}, True),
])
def test_fields_of_a_cluster(condition: dict, expected: bool) -> None:
    assert matches(condition, OWNER, tagName="owner") is expected


def test_field_name_built_by_an_expression_reads_per_resource() -> None:
    condition = {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "true"}
    assert matches(condition, OWNER, tagName="owner") is True
    assert matches(condition, OWNER, tagName="department") is False


@pytest.mark.parametrize(("condition", "expected"), [
    ({"field": "Microsoft.KubernetesConfiguration/extensions/extensionType",
      "equals": "microsoft.azuremonitor.containers"}, True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/scope.cluster.releaseNamespace",
      "equals": "kube-system"}, True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/configurationSettings",
      "containsKey": "logAnalyticsWorkspaceResourceID"}, True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/configurationSettings['amalogs.enabled']",
      "equals": "true"}, True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/configurationSettings.logAnalyticsWorkspaceResourceID",
      "equals": "/ws/1"}, True),
    # [*] outside count: every element must satisfy the condition (logical and)
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].level", "in": ["Information", "Warning"]},
     True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].level", "equals": "Information"}, False),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].code", "notEquals": "Failed"}, True),
])
def test_extension_aliases(condition: dict, expected: bool) -> None:
    assert matches(condition, MONITOR) is expected


def test_array_alias_over_an_empty_array_is_vacuously_true() -> None:
    empty = extension(OWNER, "flux", "microsoft.flux", statuses=[])
    assert matches({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].level",
                    "equals": "Error"}, empty) is True


@pytest.mark.parametrize(("count", "operator", "expected"), [
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*]"}, {"equals": 2}, True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*]",
      "where": {"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].level", "equals": "warning"}},
     {"equals": 1}, True),
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*]",
      "where": {"allOf": [
          {"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].level", "equals": "warning"},
          {"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*].code", "like": "Helm*"}]}},
     {"greater": 0}, True),
    # current() of a field count is the element being counted
    ({"field": "Microsoft.KubernetesConfiguration/extensions/statuses[*]",
      "where": {"value": "[current('Microsoft.KubernetesConfiguration/extensions/statuses[*].code')]",
                "like": "Install*"}}, {"equals": 1}, True),
    # value count, docs example: count the letters equal to 'a'
    ({"value": ["a", "b", "c"], "name": "letter", "where": {"value": "[current('letter')]", "equals": "a"}},
     {"equals": 1}, True),
    ({"value": "[parameters('required')]", "name": "key",
      "where": {"field": "Microsoft.KubernetesConfiguration/extensions/configurationSettings",
                "containsKey": "[current('key')]"}}, {"equals": "[length(parameters('required'))]"}, False),
    ({"value": ["x", "y"]}, {"equals": 2}, True),
    # nested value counts, each current() by name
    ({"value": [1, 2], "name": "outer", "where": {"count": {"value": [2, 3], "name": "inner",
                                                            "where": {"value": "[current('inner')]",
                                                                      "equals": "[current('outer')]"}},
                                                  "equals": 1}}, {"equals": 1}, True),
])
def test_count(count: dict, operator: dict, expected: bool) -> None:
    condition = {"count": count, **operator}
    assert matches(condition, MONITOR, required=["logAnalyticsWorkspaceResourceID", "missing"]) is expected


@pytest.mark.parametrize(("condition", "location", "message"), [
    # (an invalid alias in 'if' makes the policy not applicable, as in Azure: see test_applicability.py)
    ({"field": "name", "equalz": "x"}, "policyRule.if", "no condition operator"),
    ({"field": "name", "value": "x", "equals": "x"}, "policyRule.if", "exactly one of"),
    ({"allOf": {"field": "name", "equals": "x"}}, "policyRule.if.allOf", "a list of conditions"),
    ({"field": "name", "match": 5}, "policyRule.if.match", "string pattern"),
    ({"count": {"field": "Microsoft.KubernetesConfiguration/extensions/extensionType"}, "equals": 1},
     "policyRule.if.count.field", "array alias"),
    ({"value": "[concat('a']", "equals": "a"}, "policyRule.if.value", "bad expression"),
])
def test_bad_rules_are_load_time_errors_naming_the_place(condition: dict, location: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        audit_rule(condition)
    assert raised.value.location == location
    assert message in raised.value.one_line()
    assert raised.value.source == "test.json"


# Azure Policy's rule limits (definition-structure-policy-rule, "Policy rule limits"): at most 10 value
# count expressions per rule, at most 100 items in an array written in one; computed arrays (a built-in's
# parameter default has 115) are bounded by arcpolicy's 10,000 iterations, nested counts multiplied.
def _value_count(items: object, where: dict | None = None) -> dict:
    return {"count": {"value": items, "name": "item", **({"where": where} if where else {})}, "greater": -1}


def test_a_rule_holds_at_most_ten_value_counts() -> None:
    assert matches({"allOf": [_value_count([1]) for _ in range(10)]}, OWNER) is True
    with pytest.raises(InputError) as raised:
        audit_rule({"allOf": [_value_count([1]) for _ in range(11)]})
    assert raised.value.location == "policyRule.if.allOf[10].count"
    assert "at most 10 value count expressions" in raised.value.one_line()


def test_an_array_written_in_a_value_count_holds_at_most_100_items() -> None:
    equals_itself = {"value": "[current('item')]", "equals": "[current('item')]"}
    assert matches(_value_count(list(range(100)), equals_itself), OWNER) is True
    with pytest.raises(InputError) as raised:
        audit_rule(_value_count(list(range(101)), equals_itself))
    assert raised.value.location == "policyRule.if.count.value"
    assert "at most 100 times" in raised.value.one_line() and "101 items" in raised.value.one_line()
    # a parameter's array may hold more, as Microsoft's built-ins' defaults do
    assert matches(_value_count("[parameters('offers')]", equals_itself), OWNER, offers=list(range(115))) is True


@pytest.mark.parametrize(("outer", "inner", "bounded"), [(100, 100, True), (101, 100, False), (2, 5001, False)])
def test_nested_value_counts_over_computed_arrays_are_bounded_together(outer: int, inner: int,
                                                                       bounded: bool) -> None:
    nested = {"count": {"value": f"[range(0, {inner})]", "name": "inner",
                        "where": {"value": "[current('inner')]", "equals": "[current('outer')]"}}, "greater": -1}
    condition = {"count": {"value": f"[range(0, {outer})]", "name": "outer", "where": nested}, "equals": outer}
    if bounded:
        assert matches(condition, OWNER) is True
    else:
        with pytest.raises(EvaluationError, match=f"iterates {outer * inner} times.*allows 10000"):
            matches(condition, OWNER)


# ---- where the docs leave it open, answered as Microsoft's conformance cases do (docs/azure-policy-conformance.md) ----
T = "Microsoft.Test/resourceType"
ARRAYS = {"type": T, "apiVersion": "2019-06-01", "name": "vm-1",
          "properties": {"items": [{"name": "a", "tags": ["x"]}, {"name": "b"}], "empty": []}}


@pytest.mark.parametrize(("condition", "expected"), [
    # all of none holds, any of none does not (the schema's minItems only keeps Azure from creating them)
    ({"allOf": []}, True),
    ({"anyOf": []}, False),
    ({"not": {"anyOf": []}}, True),
    # "field": "apiVersion" reads the version the resource JSON was read at
    ({"field": "apiVersion", "less": "2020-01-01"}, True),
    ({"field": "apiVersion", "equals": "2019-06-01"}, True),
    # an index in a field path reads that element (out of range: missing)
    ({"field": f"{T}/items[1].name", "equals": "b"}, True),
    ({"field": f"{T}/items[0].name", "equals": "b"}, False),
    ({"field": f"{T}/items[5].name", "exists": True}, False),
    # like: '?' is any one character, '*' any run
    ({"field": "name", "like": "vm-?"}, True),
    ({"field": "name", "like": "vm?1"}, True),
    ({"field": "name", "like": "vm-??"}, False),
    ({"field": "name", "like": "*-?"}, True),
    ({"field": "name", "like": "v*?*1"}, True),
    ({"field": "name", "notLike": "vm-?"}, False),
    # a [*] condition over a missing array holds for nothing, whatever the operator; over an empty one, for all
    ({"field": f"{T}/missing[*]", "equals": "a"}, False),
    ({"field": f"{T}/missing[*].name", "exists": False}, False),
    ({"field": f"{T}/missing[*].name", "notEquals": "a"}, False),
    ({"field": f"{T}/empty[*]", "equals": "a"}, True),
    # ... also a nested [*] missing in one element
    ({"field": f"{T}/items[*].tags[*]", "equals": "x"}, False),
    # while field() of it is [] and a count counts none
    ({"value": f"[length(field('{T}/missing[*].name'))]", "equals": 0}, True),
    ({"count": {"field": f"{T}/missing[*]"}, "equals": 0}, True),
    ({"count": {"field": f"{T}/items[*].tags[*]"}, "equals": 1}, True),
])
def test_what_the_docs_leave_open_is_answered_as_microsofts_cases_do(condition: dict, expected: bool) -> None:
    assert matches(condition, ARRAYS) is expected


def test_tags_star_is_every_member_of_a_tags_array() -> None:
    assert matches({"field": "tags[*]", "contains": "prod"}, {"tags": ["prod-web", "prod-api"]}) is True
    assert matches({"field": "tags[*]", "contains": "prod"}, {"tags": ["prod-web", "dev-api"]}) is False
    assert matches({"field": "tags[*]", "contains": "prod"}, {"tags": {"env": "prod"}}) is False


def test_parameter_names_that_differ_only_in_case_are_refused() -> None:
    with pytest.raises(ValueError, match="differ only in case"):
        audit_rule({"field": "name", "equals": "[parameters('a')]"}, declared={"a": {"type": "String"},
                                                                               "A": {"type": "String"}})


def _definition(rule: dict, parameters: dict | None = None) -> PolicyDefinition:
    return PolicyDefinition.model_validate({"id": "/d", "name": "d", "mode": "All", "parameters": parameters or {},
                                            "policyRule": rule, "source": "test.json"})


POLICY = {"assignmentId": "/a", "definitionId": "/d", "setDefinitionId": "", "definitionReferenceId": ""}


def test_a_parameter_left_unset_fails_only_where_the_rule_reads_it() -> None:
    rule = {"if": {"allOf": [{"field": "type", "equals": T},
                             {"field": "name", "notIn": "[parameters('allowed')]"}]}, "then": {"effect": "audit"}}
    policy = compile_policy(_definition(rule, {"allowed": {"type": "Array"}}), {}, POLICY, unset=frozenset({"allowed"}))
    assert policy is not None
    assert policy.condition.test(RuleContext({"type": "Other/type", "name": "n"}, NOW, {})) is False
    with pytest.raises(EvaluationError, match="no value and it has no defaultValue"):
        policy.condition.test(RuleContext({"type": T, "name": "n"}, NOW, {}))


@pytest.mark.parametrize(("modifiable", "refused"), [(False, True), (True, False), (None, False)])
def test_a_modify_operation_on_an_alias_no_version_marks_modifiable_is_refused(modifiable: bool | None,
                                                                               refused: bool) -> None:
    table = AliasTable({f"{T}/endpoint".lower(): Alias(f"{T}/endpoint", ("properties", "endpoint"),
                                                       modifiable=modifiable)})
    rule = {"if": {"field": "type", "equals": T}, "then": {"effect": "modify", "details": {
        "roleDefinitionIds": ["/r"], "operations": [
            {"operation": "addOrReplace", "field": "tags['env']", "value": "prod"},
            {"operation": "addOrReplace", "field": f"{T}/endpoint", "value": "https://e"}]}}}
    if refused:
        with pytest.raises(InputError, match="no API version marks the alias Modifiable") as raised:
            compile_policy(_definition(rule), {}, POLICY, aliases=table)
        assert raised.value.location == "policyRule.then.details.operations[1].field"
    else:
        assert compile_policy(_definition(rule), {}, POLICY, aliases=table) is not None
