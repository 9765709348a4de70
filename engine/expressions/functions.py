"""Functions common to Azure Policy rules and ARM templates, each a registered unit.

Semantics follow the ARM template function reference (string, array, object, comparison,
logical, numeric and conversion functions). Context functions (``parameters``, ``field``,
``resourceGroup`` ...) are registered by the stages that own the context.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from engine.expressions.arm_hashes import arm_guid, unique_string
from engine.expressions.registry import (
    ANY,
    COLLECTION,
    INTEGER,
    NUMBER,
    SCALAR,
    SEQUENCE,
    TEXT,
    TEXT_OR_NULL,
    EvaluationError,
    kind_of,
    within_size,
)
from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.limits import MAX_RANGE_COUNT, MAX_VALUE_SIZE

Thunk = Callable[[], Any]


def _text(value: Any, function: str) -> str:
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


# ---- logical -----------------------------------------------------------------------------
@F.function("if", 3, 3, lazy=True)
def _if(condition: Thunk, when_true: Thunk, when_false: Thunk) -> Any:
    return when_true() if _boolean(condition(), "if") else when_false()


@F.function("and", 1, None, lazy=True)
def _and(*operands: Thunk) -> bool:
    return all(_boolean(operand(), "and") for operand in operands)


@F.function("or", 1, None, lazy=True)
def _or(*operands: Thunk) -> bool:
    return any(_boolean(operand(), "or") for operand in operands)


@F.function("not", 1, 1)
def _not(value: Any) -> bool:
    return not _boolean(value, "not")


@F.function("true", 0, 0)
def _true() -> bool:
    return True


@F.function("false", 0, 0)
def _false() -> bool:
    return False


@F.function("null", 0, 0)
def _null() -> None:
    return None


def _boolean(value: Any, function: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise EvaluationError(f"{function}() expects a boolean, got {kind_of(value)}")


# ---- comparison --------------------------------------------------------------------------
@F.function("equals", 2, 2)
def _equals(left: Any, right: Any) -> bool:
    return left == right


def _ordered(function: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def implementation(left: Any, right: Any) -> bool:
        if isinstance(left, bool) or isinstance(right, bool) or (type(left) is not type(right) and not (
                isinstance(left, int | float) and isinstance(right, int | float))):
            raise EvaluationError(f"{function}() compares two numbers or two strings, got "
                                  f"{kind_of(left)} and {kind_of(right)}")
        return compare(left, right)

    return implementation


F.function("less", 2, 2)(_ordered("less", lambda left, right: left < right))
F.function("lessOrEquals", 2, 2)(_ordered("lessOrEquals", lambda left, right: left <= right))
F.function("greater", 2, 2)(_ordered("greater", lambda left, right: left > right))
F.function("greaterOrEquals", 2, 2)(_ordered("greaterOrEquals", lambda left, right: left >= right))


@F.function("coalesce", 1, None)
def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


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


# ---- strings -----------------------------------------------------------------------------
@F.function("concat", 1, None)
def _concat(*values: Any) -> Any:
    if all(isinstance(value, list) for value in values):
        return [item for value in values for item in value]
    return "".join(to_string(value) for value in values)


@F.function("format", 1, None, takes=(TEXT, ANY))
def _format(template: Any, *values: Any) -> str:
    """C#-style composite formatting: ``{0}``, ``{1:N2}``; ``{{`` and ``}}`` are braces."""
    text, out, position = _text(template, "format"), [], 0
    while position < len(text):
        char = text[position]
        if char == "{" and text.startswith("{{", position):
            out.append("{")
            position += 2
        elif char == "}" and text.startswith("}}", position):
            out.append("}")
            position += 2
        elif char == "{":
            end = text.find("}", position)
            if end < 0:
                raise EvaluationError(f"format(): unclosed '{{' at character {position}")
            index_text, _, spec = text[position + 1:end].partition(":")
            try:
                value = values[int(index_text)]
            except (ValueError, IndexError):
                raise EvaluationError(f"format(): no argument for {{{index_text}}}") from None
            out.append(_format_one(value, spec))
            position = end + 1
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _format_one(value: Any, spec: str) -> str:
    if spec[:1] in ("N", "n") and NUMBER.admits(value):
        return f"{value:,.{_digits(spec, 2)}f}"
    if spec[:1] in ("D", "d") and INTEGER.admits(value):
        return str(value).zfill(_digits(spec, 0))
    return to_string(value)


def _digits(spec: str, default: int) -> int:
    """The precision of ``N2`` / ``D8``, bounded like every string a function builds."""
    digits = int(spec[1:] or default)
    _within_size(digits, "format")
    return digits


# null is "" to toLower/toUpper, as in Azure Policy's engine (Microsoft's port of it:
# ExpressionBuiltInFunctions.GetSingleStringParameter accepts a string or null): DINE built-ins
# lower-case aliases a resource may lack (toLower(field('Microsoft.Compute/imagePublisher'))).
F.function("toLower", 1, 1, takes=(TEXT_OR_NULL,))(lambda value: "" if value is None else value.lower())
F.function("toUpper", 1, 1, takes=(TEXT_OR_NULL,))(lambda value: "" if value is None else value.upper())
F.function("trim", 1, 1, takes=(TEXT,))(lambda value: _text(value, "trim").strip())


@F.function("split", 2, 2, takes=(TEXT, ANY))
def _split(value: Any, delimiters: Any) -> list[str]:
    text = _text(value, "split")
    separators = delimiters if isinstance(delimiters, list) else [_text(delimiters, "split")]
    parts = [text]
    for separator in separators:
        parts = [piece for part in parts for piece in part.split(separator)]
    return parts


@F.function("replace", 3, 3, takes=(TEXT,))
def _replace(value: Any, old: Any, new: Any) -> str:
    occurrences = value.count(old) if old else len(value) + 1
    _within_size(len(value) + occurrences * (len(new) - len(old)), "replace")
    return value.replace(old, new)


@F.function("substring", 2, 3, takes=(TEXT, INTEGER))
def _substring(value: Any, start: int, length: int | None = None) -> str:
    text = _text(value, "substring")
    if start < 0 or start > len(text) or (length is not None and (length < 0 or start + length > len(text))):
        raise EvaluationError(f"substring(): start {start} and length {length} are outside a string of {len(text)} "
                              "characters")
    return text[start:] if length is None else text[start:start + length]


@F.function("startsWith", 2, 2, takes=(TEXT,))
def _starts_with(value: Any, prefix: Any) -> bool:
    return _text(value, "startsWith").lower().startswith(_text(prefix, "startsWith").lower())


@F.function("endsWith", 2, 2, takes=(TEXT,))
def _ends_with(value: Any, suffix: Any) -> bool:
    return _text(value, "endsWith").lower().endswith(_text(suffix, "endsWith").lower())


@F.function("indexOf", 2, 2, takes=(TEXT,))
def _index_of(value: Any, part: Any) -> int:
    return _text(value, "indexOf").lower().find(_text(part, "indexOf").lower())


@F.function("lastIndexOf", 2, 2, takes=(TEXT,))
def _last_index_of(value: Any, part: Any) -> int:
    return _text(value, "lastIndexOf").lower().rfind(_text(part, "lastIndexOf").lower())


@F.function("padLeft", 2, 3, takes=(SCALAR, INTEGER, TEXT))
def _pad_left(value: Any, width: int, padding: str = " ") -> str:
    _within_size(width, "padLeft")
    return to_string(value).rjust(width, padding[:1] or " ")


def _within_size(size: int, function: str) -> None:
    """Refuse before building a value over the template size limit (see :mod:`engine.limits`)."""
    if size > MAX_VALUE_SIZE:
        raise EvaluationError(f"{function}() would build {size:,} characters or items, over the {MAX_VALUE_SIZE:,} "
                              "limit of a template")


@F.function("uniqueString", 1, None, takes=(TEXT,))
def _unique_string(*values: Any) -> str:
    """ARM's 13-character base-32 hash of the arguments (see :mod:`engine.expressions.arm_hashes`)."""
    return unique_string(*(_text(value, "uniqueString") for value in values))


@F.function("guid", 1, None, takes=(TEXT,))
def _guid(*values: Any) -> str:
    """ARM's name-based GUID of the arguments (see :mod:`engine.expressions.arm_hashes`)."""
    return arm_guid(*(_text(value, "guid") for value in values))


@F.function("base64", 1, 1, takes=(TEXT,))
def _base64(value: Any) -> str:
    return base64.b64encode(_text(value, "base64").encode()).decode()


@F.function("base64ToString", 1, 1, takes=(TEXT,))
def _base64_to_string(value: Any) -> str:
    return base64.b64decode(_text(value, "base64ToString")).decode()


# ---- arrays and objects ------------------------------------------------------------------
@F.function("createArray", 0, None)
def _create_array(*values: Any) -> list[Any]:
    return list(values)


@F.function("array", 1, 1)
def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@F.function("createObject", 0, None)
def _create_object(*pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        raise EvaluationError("createObject() takes key/value pairs")
    return {_text(pairs[index], "createObject"): pairs[index + 1] for index in range(0, len(pairs), 2)}


@F.function("union", 1, None, takes=(COLLECTION,))
def _union(*values: Any) -> Any:
    if all(isinstance(value, dict) for value in values):
        merged: dict[str, Any] = {}
        for value in values:
            merged.update(value)
        return merged
    if all(isinstance(value, list) for value in values):
        seen: set[str] = set()
        out: list[Any] = []
        for item in (item for value in values for item in value):
            identity = _identity(item)
            if identity not in seen:
                seen.add(identity)
                out.append(item)
        return out
    raise EvaluationError("union() takes all arrays or all objects")


@F.function("intersection", 2, None, takes=(COLLECTION,))
def _intersection(first: Any, *others: Any) -> Any:
    if isinstance(first, dict):
        return {key: item for key, item in first.items() if all(other.get(key) == item for other in others)}
    members = [{_identity(item) for item in other} for other in others]
    return [item for item in first if all(_identity(item) in member for member in members)]


def _identity(item: Any) -> str:
    """An array item's value as one hashable key: union and intersection in linear time (10,000-item
    arrays compared item by item took seconds)."""
    return json.dumps(item, sort_keys=True, default=repr)


@F.function("contains", 2, 2)
def _contains(container: Any, item: Any) -> bool:
    """Case-sensitive for strings and arrays, case-insensitive for object keys (ARM semantics)."""
    if isinstance(container, str):
        return to_string(item) in container
    if isinstance(container, list):
        return item in container
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


# ---- conversion and numbers --------------------------------------------------------------
F.function("string", 1, 1)(to_string)


@F.function("int", 1, 1)
def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"int() cannot convert {kind_of(value)} to an integer") from None


@F.function("bool", 1, 1)
def _bool(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    return _boolean(value, "bool")


@F.function("json", 1, 1, takes=(TEXT,))
def _json(value: Any) -> Any:
    try:
        return json.loads(_text(value, "json"))
    except json.JSONDecodeError as error:
        raise EvaluationError(f"json(): {error.msg}") from None


F.function("add", 2, 2, takes=(NUMBER,))(lambda left, right: left + right)
F.function("sub", 2, 2, takes=(NUMBER,))(lambda left, right: left - right)
F.function("mul", 2, 2, takes=(NUMBER,))(lambda left, right: left * right)


@F.function("div", 2, 2, takes=(NUMBER,))
def _div(left: int, right: int) -> int:
    if right == 0:
        raise EvaluationError("div() by zero")
    return int(left / right)


@F.function("mod", 2, 2, takes=(NUMBER,))
def _mod(left: int, right: int) -> int:
    if right == 0:
        raise EvaluationError("mod() by zero")
    return left - right * int(left / right)


# ---- dates -------------------------------------------------------------------------------
# ARM's date functions (template-functions-date): dateTimeFromEpoch(1683040573) is
# '2023-05-02T15:16:13Z' and dateTimeToEpoch reverses it (whole seconds since 1970-01-01 UTC).
@F.function("dateTimeToEpoch", 1, 1)
def _date_time_to_epoch(value: Any) -> int:
    text = _text(value, "dateTimeToEpoch")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EvaluationError(f"dateTimeToEpoch(): not an ISO 8601 date and time: {json.dumps(text)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


@F.function("dateTimeFromEpoch", 1, 1)
def _date_time_from_epoch(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvaluationError(f"dateTimeFromEpoch() expects an integer, got {json.dumps(value)}")
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise EvaluationError(f"dateTimeFromEpoch(): {value} is out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
