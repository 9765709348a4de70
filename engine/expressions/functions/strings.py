"""String functions (templates/template-functions-string); those that also take arrays are in
:mod:`.arrays`."""

from __future__ import annotations

import base64
from typing import Any

from engine.expressions.arm_hashes import arm_guid, unique_string
from engine.expressions.functions.values import refuse_oversize, text, to_string
from engine.expressions.registry import ANY, INTEGER, NUMBER, SCALAR, TEXT, TEXT_OR_NULL, EvaluationError
from engine.expressions.registry import COMMON_FUNCTIONS as F


@F.function("format", 1, None, takes=(TEXT, ANY))
def _format(template: Any, *values: Any) -> str:
    """C#-style composite formatting: ``{0}``, ``{1:N2}``; ``{{`` and ``}}`` are braces."""
    pattern, out, position = text(template, "format"), [], 0
    while position < len(pattern):
        char = pattern[position]
        if char == "{" and pattern.startswith("{{", position):
            out.append("{")
            position += 2
        elif char == "}" and pattern.startswith("}}", position):
            out.append("}")
            position += 2
        elif char == "{":
            end = pattern.find("}", position)
            if end < 0:
                raise EvaluationError(f"format(): unclosed '{{' at character {position}")
            index_text, _, spec = pattern[position + 1:end].partition(":")
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
    refuse_oversize(digits, "format")
    return digits


# null is "" to toLower/toUpper, as in Azure Policy's engine (Microsoft's port of it:
# ExpressionBuiltInFunctions.GetSingleStringParameter accepts a string or null): DINE built-ins
# lower-case aliases a resource may lack (toLower(field('Microsoft.Compute/imagePublisher'))).
F.function("toLower", 1, 1, takes=(TEXT_OR_NULL,))(lambda value: "" if value is None else value.lower())
F.function("toUpper", 1, 1, takes=(TEXT_OR_NULL,))(lambda value: "" if value is None else value.upper())
F.function("trim", 1, 1, takes=(TEXT,))(lambda value: text(value, "trim").strip())


@F.function("split", 2, 2, takes=(TEXT, ANY))
def _split(value: Any, delimiters: Any) -> list[str]:
    whole = text(value, "split")
    separators = delimiters if isinstance(delimiters, list) else [text(delimiters, "split")]
    parts = [whole]
    for separator in separators:
        parts = [piece for part in parts for piece in part.split(separator)]
    return parts


@F.function("replace", 3, 3, takes=(TEXT,))
def _replace(value: Any, old: Any, new: Any) -> str:
    occurrences = value.count(old) if old else len(value) + 1
    refuse_oversize(len(value) + occurrences * (len(new) - len(old)), "replace")
    return value.replace(old, new)


@F.function("substring", 2, 3, takes=(TEXT, INTEGER))
def _substring(value: Any, start: int, length: int | None = None) -> str:
    whole = text(value, "substring")
    if start < 0 or start > len(whole) or (length is not None and (length < 0 or start + length > len(whole))):
        raise EvaluationError(f"substring(): start {start} and length {length} are outside a string of {len(whole)} "
                              "characters")
    return whole[start:] if length is None else whole[start:start + length]


@F.function("startsWith", 2, 2, takes=(TEXT,))
def _starts_with(value: Any, prefix: Any) -> bool:
    return text(value, "startsWith").lower().startswith(text(prefix, "startsWith").lower())


@F.function("endsWith", 2, 2, takes=(TEXT,))
def _ends_with(value: Any, suffix: Any) -> bool:
    return text(value, "endsWith").lower().endswith(text(suffix, "endsWith").lower())


@F.function("indexOf", 2, 2, takes=(TEXT,))
def _index_of(value: Any, part: Any) -> int:
    return text(value, "indexOf").lower().find(text(part, "indexOf").lower())


@F.function("lastIndexOf", 2, 2, takes=(TEXT,))
def _last_index_of(value: Any, part: Any) -> int:
    return text(value, "lastIndexOf").lower().rfind(text(part, "lastIndexOf").lower())


@F.function("padLeft", 2, 3, takes=(SCALAR, INTEGER, TEXT))
def _pad_left(value: Any, width: int, padding: str = " ") -> str:
    refuse_oversize(width, "padLeft")
    return to_string(value).rjust(width, padding[:1] or " ")


@F.function("uniqueString", 1, None, takes=(TEXT,))
def _unique_string(*values: Any) -> str:
    """ARM's 13-character base-32 hash of the arguments (see :mod:`engine.expressions.arm_hashes`)."""
    return unique_string(*(text(value, "uniqueString") for value in values))


@F.function("guid", 1, None, takes=(TEXT,))
def _guid(*values: Any) -> str:
    """ARM's name-based GUID of the arguments (see :mod:`engine.expressions.arm_hashes`)."""
    return arm_guid(*(text(value, "guid") for value in values))


@F.function("base64", 1, 1, takes=(TEXT,))
def _base64(value: Any) -> str:
    return base64.b64encode(text(value, "base64").encode()).decode()


@F.function("base64ToString", 1, 1, takes=(TEXT,))
def _base64_to_string(value: Any) -> str:
    return base64.b64decode(text(value, "base64ToString")).decode()


F.function("string", 1, 1)(to_string)
