"""Formulations the Azure Policy docs make equal give equal verdicts, on random resources (Hypothesis, derandomised).

The docs promise these equalities without an example for each value; a difference between the two sides is a
conformance bug whichever side is wrong:

- "The ``not`` syntax inverts the result of the condition" (policy rule page, logical operators): each negated
  condition (``notEquals``, ``notLike``, ``notContains``, ``notIn``, ``notMatch``, ``notMatchInsensitively``,
  ``notContainsKey``) and ``exists: false`` equal ``not`` of their positive form on a single-valued field; by the
  same page ``allOf`` is a logical and and ``anyOf`` a logical or, so De Morgan's laws hold.
- ``in`` takes a list of values (conditions): ``in [a, b]`` is ``anyOf [equals a, equals b]``.
- ``field`` and ``value`` conditions (fields, value): ``[field('name')]`` read in a ``value`` condition compares
  as the ``field`` condition does (``location`` aside: location fields are normalized, values are not).
- ``[*]`` in a ``field`` condition evaluates "each element in the array ... individually with logical and"
  (fields), and ``count`` "evaluates each array member for a condition expression and sums the true results"
  (count): on an existing array, the ``[*]`` condition holds exactly when the count of members meeting it is the
  array's length, in a ``field count`` and (members having the property) in a ``value count`` over ``field()`` of
  the same alias.
- ``less`` is the complement of ``greaterOrEquals`` and ``greater`` of ``lessOrEquals`` on a value that exists
  ("if the property type doesn't match the condition type, an error is thrown": then both fail alike).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.azure_policy.conditions import ConditionError
from engine.errors import InputError
from engine.expressions import EvaluationError

from .builders import alias_table, matches

EXAMPLES = int(os.environ.get("ARCPOLICY_FUZZ_EXAMPLES", "200"))
TYPE = "Microsoft.Test/things"
ALIASES = alias_table(TYPE, {"items[*]": "properties.items[*]", "items[*].name": "properties.items[*].name",
                             "label": "properties.label", "size": "properties.size"})
FIELDS = [f"{TYPE}/label", f"{TYPE}/size", "name", "tags", "location"]
WORDS = st.sampled_from(["a", "A", "ab", "AB", "b", "web-01", "Web-01", "", "x*", "é", "É", "10", "9", "eastus"])
VALUES = st.one_of(WORDS, st.integers(-3, 12), st.booleans())
NEGATIONS = [("notEquals", "equals"), ("notLike", "like"), ("notContains", "contains"), ("notIn", "in"),
             ("notMatch", "match"), ("notMatchInsensitively", "matchInsensitively"),
             ("notContainsKey", "containsKey")]
ITEMS = st.lists(st.fixed_dictionaries({}, optional={"name": WORDS}), max_size=3)


def thing(label: Any, size: Any, items: list[Any] | None, tags: dict[str, str] | None) -> dict[str, Any]:
    properties = {name: value for name, value in (("label", label), ("size", size), ("items", items))
                  if value is not None}
    resource = {"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
                      f"{TYPE}/t-1", "name": "t-1", "type": TYPE, "location": "eastus", "properties": properties}
    return resource if tags is None else {**resource, "tags": tags}


def verdict(condition: dict[str, Any], resource: dict[str, Any]) -> bool | str:
    """The condition's outcome, or the kind of error evaluating it raised (the same error is the same verdict)."""
    try:
        return matches(condition, resource, aliases=ALIASES)
    except (ConditionError, EvaluationError, InputError) as error:
        return type(error).__name__


def assert_equal(left: dict[str, Any], right: dict[str, Any], resource: dict[str, Any]) -> None:
    assert verdict(left, resource) == verdict(right, resource), (left, right, resource)


RESOURCES = st.builds(thing, st.one_of(st.none(), VALUES), st.one_of(st.none(), st.integers(-3, 12), WORDS),
                      st.one_of(st.none(), ITEMS), st.one_of(st.none(), st.dictionaries(WORDS.filter(bool), WORDS,
                                                                                         max_size=2)))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(RESOURCES, st.sampled_from(FIELDS), VALUES, VALUES, st.sampled_from(NEGATIONS))
def test_a_negated_condition_is_not_of_its_positive_form(resource, field, value, other, negation) -> None:
    negated, positive = negation
    expected = [value, other] if positive == "in" else value
    assert_equal({"field": field, negated: expected}, {"not": {"field": field, positive: expected}}, resource)
    assert_equal({"field": field, "exists": False}, {"not": {"field": field, "exists": True}}, resource)


@FUZZ
@given(RESOURCES, st.sampled_from(FIELDS), VALUES, VALUES)
def test_in_is_any_of_equals_and_not_in_all_of_not_equals(resource, field, value, other) -> None:
    assert_equal({"field": field, "in": [value, other]},
                 {"anyOf": [{"field": field, "equals": value}, {"field": field, "equals": other}]}, resource)
    assert_equal({"field": field, "notIn": [value, other]},
                 {"allOf": [{"field": field, "notEquals": value}, {"field": field, "notEquals": other}]}, resource)


@FUZZ
@given(RESOURCES, st.sampled_from(FIELDS), VALUES)
def test_de_morgan_and_field_read_through_value(resource, field, value) -> None:
    first, second = {"field": field, "equals": value}, {"field": "name", "like": "t-*"}
    assert_equal({"not": {"anyOf": [first, second]}}, {"allOf": [{"not": first}, {"not": second}]}, resource)
    assert_equal({"not": {"allOf": [first, second]}}, {"anyOf": [{"not": first}, {"not": second}]}, resource)
    if field != "location":
        assert_equal(first, {"value": f"[field('{field}')]", "equals": value}, resource)


@FUZZ
@given(RESOURCES, st.sampled_from([f"{TYPE}/label", f"{TYPE}/size"]), VALUES,
       st.sampled_from([("less", "greaterOrEquals"), ("greater", "lessOrEquals")]))
def test_an_order_is_the_complement_of_its_converse_on_an_existing_value(resource, field, value, pair) -> None:
    if field.rsplit("/", 1)[1] not in resource["properties"]:
        return
    order, converse = pair
    assert_equal({"field": field, order: value}, {"not": {"field": field, converse: value}}, resource)


@FUZZ
@given(ITEMS, st.sampled_from(["equals", "notEquals", "like", "notLike", "contains", "in", "notIn", "exists"]),
       VALUES, VALUES)
def test_a_star_condition_holds_when_every_member_counts(items, operator, value, other) -> None:
    resource = thing(None, None, items, None)
    expected = [value, other] if operator in ("in", "notIn") else True if operator == "exists" else value
    member = {"field": f"{TYPE}/items[*].name", operator: expected}
    length = f"[length(field('{TYPE}/items[*]'))]"
    assert_equal(member, {"count": {"field": f"{TYPE}/items[*]", "where": member}, "equals": length}, resource)
    # A value count reads the values field() collects; which value a member without the property gives there the
    # docs do not say (arcpolicy collects none, as for a member without a nested array), so only members with one.
    if operator != "exists" and all("name" in item for item in items):
        assert_equal(member, {"count": {"value": f"[field('{TYPE}/items[*].name')]", "name": "member",
                                        "where": {"value": "[current('member')]", operator: expected}},
                              "equals": length}, resource)
