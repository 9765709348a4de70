"""Case-insensitive comparisons, non-ASCII included (docs/azure-policy-conformance.md, "Case folding").

Condition values compare as .NET's ``InvariantCultureIgnoreCase`` (docs "policy rule", conditions: "String
comparisons are made using InvariantCultureIgnoreCase"; only ``match``/``notMatch`` are case-sensitive): full
case folding of normalized text. Names (ARM property names, tag names, ``containsKey``) compare as
``OrdinalIgnoreCase`` (.NET "Best practices for comparing strings": equivalent to comparing ``ToUpperInvariant``
of both sides, one character to one character).
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.azure_policy.casing import name_key, value_key
from engine.azure_policy.fields import MISSING, lookup

from .builders import matches

RESOURCE = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/resourceType/r",
            "type": "Microsoft.Test/resourceType", "name": "r",
            "tags": {"street": "Straße", "label": "ﬃce", "greek": "ΚΟΣΜΟΣ", "city": "İstanbul", "dotless": "\u0131rmak",
                     "Café": "accent key"},
            "properties": {"Größe": "large", "ÉTAT": "prêt", "title": "Ǆemal"}}


@pytest.mark.parametrize(("condition", "expected"), [
    # German sharp s: folds to "ss" (InvariantCultureIgnoreCase: Straße equals STRASSE)
    ({"field": "tags.street", "equals": "STRASSE"}, True),
    ({"field": "tags.street", "equals": "strasse"}, True),
    ({"field": "tags.street", "notEquals": "STRASSE"}, False),
    ({"field": "tags.street", "in": ["Hauptstrasse", "STRASSE"]}, True),
    ({"field": "tags.street", "contains": "SS"}, True),
    ({"field": "tags.street", "like": "STR*SE"}, True),
    ({"field": "tags.street", "greater": "strasse"}, False),
    ({"field": "tags.street", "lessOrEquals": "STRASSE"}, True),
    # a ligature is its letters
    ({"field": "tags.label", "equals": "FFICE"}, True),
    ({"field": "tags.label", "contains": "ffi"}, True),
    # Greek: capital, small and final sigma are one letter
    ({"field": "tags.greek", "equals": "κοσμος"}, True),
    ({"field": "tags.greek", "equals": "κοσμοσ"}, True),
    # Turkish: the invariant culture is not Turkish: dotted capital I is not i, dotless i is not I
    ({"field": "tags.city", "equals": "istanbul"}, False),
    ({"field": "tags.city", "equals": "İSTANBUL"}, True),
    ({"field": "tags.dotless", "equals": "IRMAK"}, False),
    ({"field": "tags.dotless", "equals": "irmak"}, False),
    # a digraph letter's capital and small forms
    ({"field": "Microsoft.Test/resourceType/title", "equals": "ǆemal"}, True),
    # match stays case-sensitive; matchInsensitively folds case
    ({"field": "tags.street", "match": "Stra.e"}, True),
    ({"field": "tags.street", "match": "stra.e"}, False),
    ({"field": "tags.street", "matchInsensitively": "STRA.E"}, True),
])
def test_condition_values_compare_as_invariant_culture_ignoring_case(condition: dict[str, Any],
                                                                     expected: bool) -> None:
    assert matches(condition, RESOURCE) is expected


def test_canonical_equivalence() -> None:
    decomposed = {**RESOURCE, "tags": {"cafe": "Cafe\u0301"}}
    assert matches({"field": "tags.cafe", "equals": "CAFÉ"}, decomposed) is True
    assert matches({"field": "tags.cafe", "equals": "CAFE"}, decomposed) is False  # an accent is not case


@pytest.mark.parametrize(("name", "found"), [
    ("größe", "large"),   # ö and Ö: one character each, ToUpperInvariant maps one to the other
    ("GRÖSSE", MISSING),  # ß upper-cases to SS only in full mapping: OrdinalIgnoreCase keeps it apart
    ("état", "prêt"),
    ("title", "Ǆemal"),
])
def test_property_names_compare_as_ordinal_ignore_case(name: str, found: Any) -> None:
    assert lookup(RESOURCE["properties"], name) == found


def test_tag_names_and_contains_key_compare_as_names() -> None:
    assert matches({"field": "tags['CAFÉ']", "equals": "accent key"}, RESOURCE) is True
    assert matches({"field": "tags", "containsKey": "CAFÉ"}, RESOURCE) is True
    assert matches({"field": "tags", "containsKey": "STREET"}, RESOURCE) is True
    sharp = {**RESOURCE, "tags": {"Maß": "1"}}
    assert matches({"field": "tags", "containsKey": "MASS"}, sharp) is False
    assert matches({"field": "tags", "containsKey": "MAß"}, sharp) is True


def test_the_two_foldings() -> None:
    assert value_key("Straße") == value_key("STRASSE") == "strasse"
    assert value_key("ﬃ") == "ffi"
    assert name_key("straße") == "STRAßE"  # simple mapping: ß has no one-character upper case
    assert name_key("café") == name_key("CAFÉ")
    assert name_key("ﬃ") != name_key("FFI")
