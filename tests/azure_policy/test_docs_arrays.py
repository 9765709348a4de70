"""Every example of the docs page "Author policies for array properties on Azure resources", with its documented
result (MicrosoftDocs/azure-docs articles/governance/policy/how-to/author-policies-for-arrays.md: the current
page, and the 2019 version's "Evaluating the [*] alias" table, which the current page dropped).

The page's aliases (``Microsoft.Test/resourceType/...``) name no real type: arcpolicy reads them by Azure's
default convention (``<type>/<path>`` reads ``properties.<path>``), which is what the page's example resource
content shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InputError

from .builders import expression_value, matches

T = "Microsoft.Test/resourceType"
# "To summarize, see the following example resource content"
RESOURCE: dict[str, Any] = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/resourceType/example", "name": "example",
    "type": T, "tags": {"env": "prod"},
    "properties": {
        "stringArray": ["a", "b", "c"],
        "objectArray": [{"property": "value1", "nestedArray": [1, 2]}, {"property": "value2", "nestedArray": [3, 4]}],
    },
}


# ---- "Referencing resource properties" ----------------------------------------------------------------------
def test_field_function_returns_the_literal_value() -> None:
    """``{"value": "[take(field('Microsoft.Test/resourceType/property'), 7)]", "equals": "prefix_"}``."""
    resource = {**RESOURCE, "properties": {"property": "prefix_value"}}
    condition = {"value": f"[take(field('{T}/property'), 7)]", "equals": "prefix_"}
    assert matches(condition, resource) is True
    assert matches(condition, {**RESOURCE, "properties": {"property": "other_value"}}) is False


def test_the_length_of_an_array_through_field() -> None:
    """"Referencing the array": ``[length(field('Microsoft.Test/resourceType/stringArray'))]`` greater than 0."""
    assert matches({"value": f"[length(field('{T}/stringArray'))]", "greater": 0}, RESOURCE) is True
    # "The main scenario where referencing the array property is useful is when checking whether it exists"
    assert matches({"field": f"{T}/stringArray", "exists": "true"}, RESOURCE) is True
    assert matches({"field": f"{T}/missingArray", "exists": "true"}, RESOURCE) is False


def test_a_field_condition_on_an_array_alias_holds_when_all_members_do() -> None:
    """"the following condition is true only if all the members of stringArray are equal to 'value'", and
    "This condition is true if the values of all property properties in objectArray are equal to 'value'"."""
    assert matches({"field": f"{T}/stringArray[*]", "equals": "value"}, RESOURCE) is False
    assert matches({"field": f"{T}/stringArray[*]", "equals": "value"},
                   {**RESOURCE, "properties": {"stringArray": ["value", "VALUE"]}}) is True
    assert matches({"field": f"{T}/objectArray[*].property", "equals": "value"}, RESOURCE) is False
    assert matches({"field": f"{T}/objectArray[*].property", "equals": "value"},
                   {**RESOURCE, "properties": {"objectArray": [{"property": "value"}, {"property": "value"}]}}) is True


def test_the_length_of_an_array_alias_collection() -> None:
    """"it's possible to get the length of the array with [length(field('.../objectArray[*].property'))]"."""
    assert expression_value(f"[length(field('{T}/objectArray[*].property'))]", RESOURCE) == 2


# ---- the two summary tables -------------------------------------------------------------------------------------
# "When using the field condition on the example resource content, the results are as follows" (selected values),
# each row checked through conditions that see exactly those values.
@pytest.mark.parametrize(("condition", "expected"), [
    # missingArray: null
    ({"field": f"{T}/missingArray", "exists": "false"}, True),
    # missingArray[*] and missingArray[*].property: an empty collection of values
    ({"count": {"field": f"{T}/missingArray[*]"}, "equals": 0}, True),
    ({"count": {"field": f"{T}/missingArray[*]", "where": {"field": f"{T}/missingArray[*].property",
                                                           "exists": "true"}}, "equals": 0}, True),
    # stringArray: ["a", "b", "c"]
    ({"field": f"{T}/stringArray", "exists": "true"}, True),
    # stringArray[*]: "a", "b", "c"
    ({"field": f"{T}/stringArray[*]", "in": ["a", "b", "c"]}, True),
    ({"field": f"{T}/stringArray[*]", "in": ["a", "b"]}, False),
    ({"count": {"field": f"{T}/stringArray[*]"}, "equals": 3}, True),
    # objectArray[*]: the two objects
    ({"count": {"field": f"{T}/objectArray[*]"}, "equals": 2}, True),
    ({"field": f"{T}/objectArray[*]", "containsKey": "nestedArray"}, True),
    # objectArray[*].property: "value1", "value2"
    ({"field": f"{T}/objectArray[*].property", "in": ["value1", "value2"]}, True),
    ({"field": f"{T}/objectArray[*].property", "equals": "value1"}, False),
    # objectArray[*].nestedArray: [1, 2], [3, 4]
    ({"field": f"{T}/objectArray[*].nestedArray", "exists": "true"}, True),
    # objectArray[*].nestedArray[*]: 1, 2, 3, 4
    ({"field": f"{T}/objectArray[*].nestedArray[*]", "in": [1, 2, 3, 4]}, True),
    ({"field": f"{T}/objectArray[*].nestedArray[*]", "less": 5}, True),
    ({"field": f"{T}/objectArray[*].nestedArray[*]", "greater": 1}, False),
    ({"count": {"field": f"{T}/objectArray[*].nestedArray[*]"}, "equals": 4}, True),
])
def test_field_condition_selected_values(condition: dict[str, Any], expected: bool) -> None:
    assert matches(condition, RESOURCE) is expected


# "When using the field() function on the example resource content, the results are as follows"
@pytest.mark.parametrize(("expression", "returned"), [
    (f"[field('{T}/missingArray')]", ""),
    (f"[field('{T}/missingArray[*]')]", []),
    (f"[field('{T}/missingArray[*].property')]", []),
    (f"[field('{T}/stringArray')]", ["a", "b", "c"]),
    (f"[field('{T}/stringArray[*]')]", ["a", "b", "c"]),
    (f"[field('{T}/objectArray[*]')]", RESOURCE["properties"]["objectArray"]),
    (f"[field('{T}/objectArray[*].property')]", ["value1", "value2"]),
    (f"[field('{T}/objectArray[*].nestedArray')]", [[1, 2], [3, 4]]),
    (f"[field('{T}/objectArray[*].nestedArray[*]')]", [1, 2, 3, 4]),
])
def test_field_function_returned_values(expression: str, returned: Any) -> None:
    assert expression_value(expression, RESOURCE) == returned


def test_length_of_field_of_a_missing_array_works() -> None:
    """The issue's finding: ``field()`` of a missing array gave null, so ``length(field(...))`` failed; the table
    gives ``""`` and ``[]``, whose lengths are 0."""
    assert expression_value(f"[length(field('{T}/missingArray'))]", RESOURCE) == 0
    assert expression_value(f"[length(field('{T}/missingArray[*]'))]", RESOURCE) == 0
    assert expression_value(f"[length(field('{T}/missingArray[*].property'))]", RESOURCE) == 0
    assert matches({"value": f"[empty(field('{T}/missingArray[*]'))]", "equals": True}, RESOURCE) is True


# ---- "Count expressions" ------------------------------------------------------------------------------------------
def _count(field: str, where: dict[str, Any] | None = None, **operator: Any) -> dict[str, Any]:
    return {"count": {"field": field, **({"where": where} if where else {})}, **operator}


def test_count_without_where_is_the_length() -> None:
    """"the following count expression is evaluated to true since stringArray has three members" and "since there
    there are four array members in the nestedArray arrays"."""
    assert matches(_count(f"{T}/stringArray[*]", equals=3), RESOURCE) is True
    assert matches(_count(f"{T}/objectArray[*].nestedArray[*]", greaterOrEquals=4), RESOURCE) is True


def test_count_where_evaluates_each_member_as_if_it_were_the_only_one() -> None:
    """The iteration table: "a" true, "b" false, "c" false, "And thus the count will return 1"."""
    where = {"field": f"{T}/stringArray[*]", "equals": "a"}
    assert matches(_count(f"{T}/stringArray[*]", where, equals=1), RESOURCE) is True
    for member, expected in (("a", True), ("b", False), ("c", False)):
        single = {**RESOURCE, "properties": {"stringArray": [member]}}
        assert matches(_count(f"{T}/stringArray[*]", where, equals=1), single) is expected


def test_count_where_with_a_complex_expression() -> None:
    """Iteration 1 ("value1"; 1, 2) false, iteration 2 ("value2"; 3, 4) true: "the count returns 1"."""
    where = {"allOf": [{"field": f"{T}/objectArray[*].property", "equals": "value2"},
                       {"field": f"{T}/objectArray[*].nestedArray[*]", "greater": 2}]}
    assert matches(_count(f"{T}/objectArray[*]", where, equals=1), RESOURCE) is True
    assert matches(_count(f"{T}/objectArray[*]", where, equals=2), RESOURCE) is False


def test_count_where_can_refer_to_fields_outside_the_array() -> None:
    """``tags.env`` => "prod" in both iterations: both true."""
    where = {"field": "tags.env", "equals": "prod"}
    assert matches(_count(f"{T}/objectArray[*]", where, equals=2), RESOURCE) is True


def test_nested_count_expressions() -> None:
    """The nested count: the outer where holds for the member with property "value2" whose nestedArray holds 3
    (inner loop: 3 then 4), not for the first (inner loop: 1 then 2)."""
    inner = _count(f"{T}/objectArray[*].nestedArray[*]", {"field": f"{T}/objectArray[*].nestedArray[*]", "equals": 3},
                   greater=0)
    where = {"allOf": [{"field": f"{T}/objectArray[*].property", "equals": "value2"}, inner]}
    assert matches(_count(f"{T}/objectArray[*]", where, equals=1), RESOURCE) is True
    # the inner count alone, per outer member: 0 for the first, 1 for the second
    per_member = _count(f"{T}/objectArray[*]", {"allOf": [
        {"field": f"{T}/objectArray[*].property", "equals": "value1"}, inner]}, equals=0)
    assert matches(per_member, RESOURCE) is True


# ---- "The field() function inside where conditions" ---------------------------------------------------------------
def test_field_function_of_the_counted_alias_is_a_single_member_array() -> None:
    """"when referring to the counted array member with a field() function inside the where condition, it
    returns an array with a single member": "a" equals ["a"] is false in every iteration, the count is 0."""
    where = {"field": f"{T}/stringArray[*]", "equals": f"[field('{T}/stringArray[*]')]"}
    assert matches(_count(f"{T}/stringArray[*]", where, equals=0), RESOURCE) is True


def test_first_of_field_of_the_counted_alias_is_the_member() -> None:
    """"wrap it with a first() template function": true in all three iterations."""
    where = {"field": f"{T}/stringArray[*]", "equals": f"[first(field('{T}/stringArray[*]'))]"}
    assert matches(_count(f"{T}/stringArray[*]", where, equals=3), RESOURCE) is True


def test_field_function_below_the_counted_alias_selects_from_the_member() -> None:
    """Concept 3: "Referencing the counted array alias inside the where condition returns a collection with a
    single value selected from the array member that is evaluated in the current iteration"."""
    where = {"value": f"[field('{T}/objectArray[*].nestedArray[*]')]", "in": [[3, 4]]}
    assert matches(_count(f"{T}/objectArray[*]", where, equals=1), RESOURCE) is True
    where = {"value": f"[field('{T}/objectArray[*].property')]", "in": [["value1"]]}
    assert matches(_count(f"{T}/objectArray[*]", where, equals=1), RESOURCE) is True
    where = {"value": f"[length(field('{T}/objectArray[*].property'))]", "equals": 1}
    assert matches(_count(f"{T}/objectArray[*]", where, equals=2), RESOURCE) is True


# ---- "Array conditions" -----------------------------------------------------------------------------------------------
def test_equals_an_array_parameter_is_refused() -> None:
    """"Evaluation result of language expression '[parameters('allowedLocations')]' is type 'Array', expected type
    is 'String'": equals takes a string; in/notIn take the array."""
    condition = {"not": {"field": "location", "equals": "[parameters('allowedLocations')]"}}
    with pytest.raises(InputError, match="array"):
        matches(condition, RESOURCE, allowedLocations=["eastus2", "eastus", "westus2"])
    fixed = {"not": {"field": "location", "in": "[parameters('allowedLocations')]"}}
    assert matches(fixed, {**RESOURCE, "location": "westus"}, allowedLocations=["eastus2", "eastus", "westus2"])


# ---- "Evaluating the [*] alias" (the 2019 page): None, Any and All ------------------------------------------------
IP_RULES = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa", "name": "sa",
            "type": "Microsoft.Storage/storageAccounts",
            "properties": {"networkAcls": {"ipRules": [{"value": "127.0.0.1", "action": "Allow"},
                                                       {"value": "192.168.1.1", "action": "Allow"}]}}}
FIELD = "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value"


@pytest.mark.parametrize(("condition", "effect"), [
    ({"field": FIELD, "notEquals": "127.0.0.1"}, False),
    ({"field": FIELD, "notEquals": "10.0.4.1"}, True),
    ({"not": {"field": FIELD, "Equals": "127.0.0.1"}}, True),
    ({"not": {"field": FIELD, "Equals": "10.0.4.1"}}, True),
    ({"not": {"field": FIELD, "notEquals": "127.0.0.1"}}, True),
    ({"not": {"field": FIELD, "notEquals": "10.0.4.1"}}, False),
    ({"field": FIELD, "Equals": "127.0.0.1"}, False),
    ({"field": FIELD, "Equals": "10.0.4.1"}, False),
])
def test_the_star_alias_scenario_table(condition: dict[str, Any], effect: bool) -> None:
    """Each row: "Policy effect" (the if is true) or "Nothing"."""
    rule = {"allOf": [{"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules", "exists": "true"}, condition]}
    assert matches(rule, IP_RULES) is effect


# ---- "Understanding the array alias" (definition-structure-alias.md) ------------------------------------------------
def test_the_alias_page_array_alias_table() -> None:
    """``networkAcls.ipRules`` is the field as a single value; ``networkAcls.ipRules[*]`` "The elements of the ipRules
    array"; ``networkAcls.ipRules[*].action`` "The values of the action property from each element"."""
    storage = "Microsoft.Storage/storageAccounts"
    assert expression_value(f"[field('{storage}/networkAcls.ipRules')]", IP_RULES) == \
        IP_RULES["properties"]["networkAcls"]["ipRules"]
    assert expression_value(f"[field('{storage}/networkAcls.ipRules[*]')]", IP_RULES) == \
        IP_RULES["properties"]["networkAcls"]["ipRules"]
    assert expression_value(f"[field('{storage}/networkAcls.ipRules[*].action')]", IP_RULES) == ["Allow", "Allow"]
    # "Check the size of an array", "Check if all\\any\\none of the array elements meet a complex condition"
    assert matches({"count": {"field": f"{storage}/networkAcls.ipRules[*]"}, "equals": 2}, IP_RULES) is True
    assert matches({"count": {"field": f"{storage}/networkAcls.ipRules[*]", "where": {
        "field": f"{storage}/networkAcls.ipRules[*].value", "like": "192.168.*"}}, "equals": 1}, IP_RULES) is True
