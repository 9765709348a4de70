"""Array functions (templates/template-functions-array), with those the array page shares with the
string and object pages (``concat``, ``contains``, ``empty``, ``length``, ``first`` ...)."""

from __future__ import annotations

from typing import Any

from engine.expressions.functions.values import identity, json_equal, to_string
from engine.expressions.registry import (
    ANY,
    ARRAY,
    COLLECTION,
    INTEGER,
    NUMBER,
    SEQUENCE,
    EvaluationError,
    kind_of,
)
from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.limits import MAX_RANGE_COUNT


@F.function("concat", 0, None)
def _concat(*values: Any) -> Any:
    """Arrays joined, else strings. The docs require a first argument (Azure refuses to create a rule calling
    ``concat()``); Microsoft's conformance cases evaluate ``concat()`` to ``""``, and so does arcpolicy."""
    if values and all(isinstance(value, list) for value in values):
        return [item for value in values for item in value]
    return "".join(to_string(value) for value in values)


@F.function("createArray", 0, None)
def _create_array(*values: Any) -> list[Any]:
    return list(values)


@F.function("array", 1, 1)
def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@F.function("union", 1, None, takes=(COLLECTION,))
def _union(*values: Any) -> Any:
    """Arrays: every item once, in first-seen order. Objects: later members overwrite earlier ones, and
    objects under the same name merge recursively, while arrays under it are replaced, not merged
    (templates/template-functions-object#union, its deep-merge example)."""
    if all(isinstance(value, dict) for value in values):
        merged: dict[str, Any] = {}
        for value in values:
            merged = deep_merge(merged, value)
        return merged
    if all(isinstance(value, list) for value in values):
        seen: set[str] = set()
        out: list[Any] = []
        for item in (item for value in values for item in value):
            key = identity(item)
            if key not in seen:
                seen.add(key)
                out.append(item)
        return out
    raise EvaluationError("union() takes all arrays or all objects")


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` merged into a copy of ``base``: member names match case-insensitively (ARM's property
    names) and keep the first spelling; objects under one name merge, anything else is replaced."""
    merged = dict(base)
    names = {name.lower(): name for name in merged}
    for name, item in update.items():
        existing = names.setdefault(name.lower(), name)
        current = merged.get(existing)
        merged[existing] = deep_merge(current, item) if isinstance(current, dict) and isinstance(item, dict) else item
    return merged


@F.function("intersection", 2, None, takes=(COLLECTION,))
def _intersection(first: Any, *others: Any) -> Any:
    if isinstance(first, dict):
        return {key: item for key, item in first.items() if all(other.get(key) == item for other in others)}
    members = [{identity(item) for item in other} for other in others]
    return [item for item in first if all(identity(item) in member for member in members)]


@F.function("contains", 2, 2)
def _contains(container: Any, item: Any) -> bool:
    """Case-sensitive for strings and arrays, case-insensitive for object keys (ARM semantics)."""
    if isinstance(container, str):
        return to_string(item) in container
    if isinstance(container, list):
        return any(json_equal(member, item) for member in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item.lower() in (key.lower() for key in container)
    raise EvaluationError(f"contains() expects a string, array or object, got {kind_of(container)}")


@F.function("empty", 1, 1)
def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


@F.function("length", 1, 1)
def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise EvaluationError(f"length() expects a string, array or object, got {kind_of(value)}")


@F.function("first", 1, 1, takes=(SEQUENCE,))
def _first(value: Any) -> Any:
    return value[0] if value else None if isinstance(value, list) else ""


@F.function("last", 1, 1, takes=(SEQUENCE,))
def _last(value: Any) -> Any:
    return value[-1] if value else None if isinstance(value, list) else ""


@F.function("skip", 2, 2, takes=(SEQUENCE, INTEGER))
def _skip(value: Any, count: int) -> Any:
    return value[max(0, count):]


@F.function("take", 2, 2, takes=(SEQUENCE, INTEGER))
def _take(value: Any, count: int) -> Any:
    return value[:max(0, count)]


@F.function("indexOf", 2, 2, takes=(SEQUENCE, ANY))
def _index_of(value: Any, item: Any) -> int:
    """A string's first position of a substring, case-insensitively (template-functions-string#indexof); an
    array's first index of an item, compared as ``equals`` compares (template-functions-array#indexof);
    -1 when absent."""
    if isinstance(value, str):
        return value.lower().find(_substring_of(item, "indexOf").lower())
    return next((index for index, member in enumerate(value) if json_equal(member, item)), -1)


@F.function("lastIndexOf", 2, 2, takes=(SEQUENCE, ANY))
def _last_index_of(value: Any, item: Any) -> int:
    """As ``indexOf``, the last position."""
    if isinstance(value, str):
        return value.lower().rfind(_substring_of(item, "lastIndexOf").lower())
    return next((index for index in range(len(value) - 1, -1, -1) if json_equal(value[index], item)), -1)


def _substring_of(item: Any, function: str) -> str:
    if not isinstance(item, str):
        raise EvaluationError(f"{function}() on a string looks for a string, got {kind_of(item)}")
    return item


@F.function("flatten", 1, 1, takes=(ARRAY,))
def _flatten(arrays: list[Any]) -> list[Any]:
    """An array of arrays as one array, one level deep (template-functions-array#flatten)."""
    if not all(isinstance(item, list) for item in arrays):
        raise EvaluationError("flatten() takes an array of arrays")
    return [item for inner in arrays for item in inner]


@F.function("indexFromEnd", 2, 2, takes=(ARRAY, INTEGER))
def _index_from_end(items: list[Any], position: int) -> Any:
    """The item ``position`` places from the end (1 is the last); an error outside the array."""
    if not 1 <= position <= len(items):
        raise EvaluationError(f"indexFromEnd(): {position} from the end is outside an array of {len(items)} items")
    return items[-position]


@F.function("tryIndexFromEnd", 2, 2, takes=(ARRAY, INTEGER))
def _try_index_from_end(items: list[Any], position: int) -> Any:
    """As ``indexFromEnd``, null outside the array."""
    return items[-position] if 1 <= position <= len(items) else None


@F.function("range", 2, 2, takes=(INTEGER,))
def _range(start: int, count: int) -> list[int]:
    """ARM: ``count`` is a non-negative integer up to 10,000 and ``start + count`` at most 2,147,483,647
    (template-functions-array#range)."""
    if not 0 <= count <= MAX_RANGE_COUNT or start + count > 2_147_483_647:
        raise EvaluationError(f"range() takes a count from 0 to {MAX_RANGE_COUNT:,} and start + count up to "
                              f"2,147,483,647, got start {start} and count {count}")
    return list(range(start, start + count))


@F.function("min", 1, None)
def _min(*values: Any) -> Any:
    return min(_numbers(values, "min"))


@F.function("max", 1, None)
def _max(*values: Any) -> Any:
    return max(_numbers(values, "max"))


def _numbers(values: tuple[Any, ...], function: str) -> list[int | float]:
    """min/max take integers, or one array of integers (ARM)."""
    items = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
    if not items or not all(NUMBER.admits(item) for item in items):
        raise EvaluationError(f"{function}() takes integers or a non-empty array of integers")
    return items
