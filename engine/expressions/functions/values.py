"""How ARM turns values into strings and booleans, and the checks every family shares."""

from __future__ import annotations

import json
from typing import Any

from engine.expressions.registry import EvaluationError, kind_of, within_size
from engine.limits import MAX_VALUE_SIZE


def text(value: Any, function: str) -> str:
    """``value`` if it is a string, else the error of ``function`` expecting one."""
    if not isinstance(value, str):
        raise EvaluationError(f"{function}() expects a string, got {kind_of(value)}")
    return value


def to_string(value: Any) -> str:
    """ARM's string(): strings unchanged, booleans lower-case, objects and arrays as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(within_size(value, "string()"), separators=(",", ":"))
    return str(value)


def boolean(value: Any, function: str) -> bool:
    """A boolean, or the strings 'true' / 'false' in any case (ARM's conversion)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise EvaluationError(f"{function}() expects a boolean, got {kind_of(value)}")


def refuse_oversize(size: int, function: str) -> None:
    """Refuse before building a value over the template size limit (see :mod:`engine.limits`)."""
    if size > MAX_VALUE_SIZE:
        raise EvaluationError(f"{function}() would build {size:,} characters or items, over the {MAX_VALUE_SIZE:,} "
                              "limit of a template")


def identity(item: Any) -> str:
    """An array item's value as one hashable key: union and intersection in linear time (10,000-item
    arrays compared item by item took seconds)."""
    return json.dumps(item, sort_keys=True, default=repr)
