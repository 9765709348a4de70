"""String functions (templates/template-functions-string); those that also take arrays are in
:mod:`.arrays`, the base64 and URI ones in :mod:`.encoding`."""

from __future__ import annotations

from typing import Any

from engine.expressions.arm_hashes import arm_guid, unique_string
from engine.expressions.dotnet import format_composite
from engine.expressions.functions.values import refuse_oversize, text, to_string
from engine.expressions.registry import ANY, ARRAY, INTEGER, SCALAR, TEXT, TEXT_OR_NULL, EvaluationError
from engine.expressions.registry import COMMON_FUNCTIONS as F


@F.function("format", 1, None, takes=(TEXT, ANY))
def _format(template: str, *values: Any) -> str:
    """.NET composite formatting with the invariant culture ("It uses the same formatting options as the
    System.String.Format method in .NET"): ``{0}``, ``{1,8}``, ``{2:N0}``; ``{{`` and ``}}`` are braces."""
    return format_composite(template, values, _format_text, "format")


def _format_text(value: Any) -> str:
    """A value as String.Format writes an ARM value: booleans as .NET writes them (``True``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return to_string(value)


# null is "" to toLower/toUpper, as in Azure Policy's engine (Microsoft's port of it:
# ExpressionBuiltInFunctions.GetSingleStringParameter accepts a string or null): DINE built-ins
# lower-case aliases a resource may lack (toLower(field('Microsoft.Compute/imagePublisher'))).
F.function("toLower", 1, 1, takes=(TEXT_OR_NULL,))(lambda value: "" if value is None else value.lower())
F.function("toUpper", 1, 1, takes=(TEXT_OR_NULL,))(lambda value: "" if value is None else value.upper())
F.function("trim", 1, 1, takes=(TEXT,))(lambda value: value.strip())


@F.function("split", 2, 2, takes=(TEXT, ANY))
def _split(value: str, delimiters: Any) -> list[str]:
    separators = delimiters if isinstance(delimiters, list) else [text(delimiters, "split")]
    parts = [value]
    for separator in separators:
        parts = [piece for part in parts for piece in part.split(text(separator, "split"))]
    return parts


@F.function("join", 2, 2, takes=(ARRAY, TEXT))
def _join(items: list[Any], delimiter: str) -> str:
    """``join(inputArray, delimiter)``: the array's strings (numbers and booleans written as ``string()``
    writes them) with the delimiter between them."""
    if any(isinstance(item, list | dict) for item in items):
        raise EvaluationError("join() joins strings, numbers and booleans, not arrays or objects")
    return delimiter.join(to_string(item) for item in items)


@F.function("replace", 3, 3, takes=(TEXT,))
def _replace(value: str, old: str, new: str) -> str:
    occurrences = value.count(old) if old else len(value) + 1
    refuse_oversize(len(value) + occurrences * (len(new) - len(old)), "replace")
    return value.replace(old, new)


@F.function("substring", 2, 3, takes=(TEXT, INTEGER))
def _substring(value: str, start: int, length: int | None = None) -> str:
    """Fails when the substring leaves the string ("The index and length parameters must refer to a location
    within the string", template-functions-string#substring)."""
    if start < 0 or start > len(value) or (length is not None and (length < 0 or start + length > len(value))):
        raise EvaluationError(f"substring(): the index and length parameters must refer to a location within the "
                              f"string: index {start}, length {length}, string of {len(value)} characters")
    return value[start:] if length is None else value[start:start + length]


@F.function("startsWith", 2, 2, takes=(TEXT,))
def _starts_with(value: str, prefix: str) -> bool:
    return value.lower().startswith(prefix.lower())


@F.function("endsWith", 2, 2, takes=(TEXT,))
def _ends_with(value: str, suffix: str) -> bool:
    return value.lower().endswith(suffix.lower())


@F.function("padLeft", 2, 3, takes=(SCALAR, INTEGER, TEXT))
def _pad_left(value: Any, width: int, padding: str = " ") -> str:
    refuse_oversize(width, "padLeft")
    return to_string(value).rjust(width, padding[:1] or " ")


@F.function("uniqueString", 1, None, takes=(TEXT,))
def _unique_string(*values: str) -> str:
    """ARM's 13-character base-32 hash of the arguments (see :mod:`engine.expressions.arm_hashes`)."""
    return unique_string(*values)


@F.function("guid", 1, None, takes=(TEXT,))
def _guid(*values: str) -> str:
    """ARM's name-based GUID of the arguments (see :mod:`engine.expressions.arm_hashes`)."""
    return arm_guid(*values)


F.function("string", 1, 1)(to_string)
