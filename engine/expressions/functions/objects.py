"""Object functions (templates/template-functions-object); ``union``, ``intersection``, ``contains``,
``empty`` and ``length`` also take arrays and are in :mod:`.arrays`."""

from __future__ import annotations

from typing import Any

from engine.expressions.functions.values import parse_json, text
from engine.expressions.registry import ARRAY, OBJECT, TEXT, EvaluationError
from engine.expressions.registry import COMMON_FUNCTIONS as F


@F.function("createObject", 0, None)
def _create_object(*pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        raise EvaluationError("createObject() takes key/value pairs")
    return {text(pairs[index], "createObject"): pairs[index + 1] for index in range(0, len(pairs), 2)}


@F.function("null", 0, 0)
def _null() -> None:
    return None


@F.function("json", 1, 1, takes=(TEXT,))
def _json(value: str) -> Any:
    return parse_json(value, "json")


@F.function("items", 1, 1, takes=(OBJECT,))
def _items(value: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"key": name, "value": member}, ...]`` in alphabetical order of the names ("The items() function
    sorts the objects in the alphabetical order", template-functions-object#items)."""
    return [{"key": name, "value": value[name]} for name in sorted(value, key=lambda name: (name.lower(), name))]


@F.function("objectKeys", 1, 1, takes=(OBJECT,))
def _object_keys(value: dict[str, Any]) -> list[str]:
    """The object's member names (template-functions-object#objectkeys)."""
    return list(value)


@F.function("shallowMerge", 1, 1, takes=(ARRAY,))
def _shallow_merge(objects: list[Any]) -> dict[str, Any]:
    """The objects of an array merged at their top level only: a later member replaces an earlier one of the
    same name whole, nested objects included (template-functions-object#shallowmerge)."""
    merged: dict[str, Any] = {}
    names: dict[str, str] = {}
    for item in objects:
        if not isinstance(item, dict):
            raise EvaluationError("shallowMerge() takes an array of objects")
        for name, member in item.items():
            merged[names.setdefault(name.lower(), name)] = member
    return merged


@F.function("tryGet", 2, None)
def _try_get(item: Any, *keys: Any) -> Any:
    """ARM ``tryGet(itemToTest, keyOrIndex, ...)``: the value at each key (object, case-insensitive) or
    index (array) in turn, null as soon as one is missing instead of an error."""
    for key in keys:
        if isinstance(item, dict) and isinstance(key, str):
            item = next((value for name, value in item.items() if name.lower() == key.lower()), None)
        elif isinstance(item, list) and isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(item):
            item = item[key]
        else:
            return None
    return item
