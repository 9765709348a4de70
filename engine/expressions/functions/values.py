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


def json_equal(left: Any, right: Any) -> bool:
    """ARM's equality of two JSON values: by kind and value, strings case-sensitive, ``true`` never ``1``
    (Python's ``True == 1`` is not ARM's), arrays in order, objects by their members."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(item, right[key]) for key, item in left.items())
    if isinstance(left, list | dict) or isinstance(right, list | dict):
        return False
    return bool(left == right)


def parse_json(value: str, function: str) -> Any:
    """JSON text as ARM reads it (Newtonsoft.Json): strict JSON, and also single-quoted strings, unquoted
    property names and comments (``base64ToJson`` of ``{'one': 'a'}``, templates/template-functions-string)."""
    try:
        return json.loads(value)
    except json.JSONDecodeError as strict_error:
        try:
            return json.loads(_strict_json(value))
        except json.JSONDecodeError:
            raise EvaluationError(f"{function}(): {strict_error.msg} at character {strict_error.pos}") from None


def _strict_json(text: str) -> str:
    """``text`` rewritten as strict JSON, in one pass without recursion (nesting is json's to bound)."""
    out: list[str] = []
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        if char in "'\"":
            end, pieces = position + 1, []
            while end < length and text[end] != char:
                if text[end] == "\\" and end + 1 < length:
                    pieces.append(text[end:end + 2] if text[end + 1] != "'" else "'")
                    end += 2
                    continue
                pieces.append('\\"' if text[end] == '"' else text[end])
                end += 1
            out.append('"' + "".join(pieces) + '"')
            position = end + 1
        elif text.startswith("//", position):
            end = text.find("\n", position)
            position = length if end < 0 else end
        elif text.startswith("/*", position):
            end = text.find("*/", position + 2)
            position = length if end < 0 else end + 2
        elif char.isalpha() or char in "_$":
            end = position
            while end < length and (text[end].isalnum() or text[end] in "_$"):
                end += 1
            word = text[position:end]
            out.append(word if word in ("true", "false", "null") else json.dumps(word))
            position = end
        else:
            out.append(char)
            position += 1
    return "".join(out)
