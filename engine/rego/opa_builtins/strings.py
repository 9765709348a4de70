"""OPA's ``sprintf`` (Go's fmt, see :mod:`.go_fmt`), ``upper`` and ``lower`` (Go's per-rune simple case mapping),
``strings.replace_n`` (Go's strings.Replacer), ``indexof`` (an empty search string is an error) and ``strings.split_n``."""

from __future__ import annotations

from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, go_fmt, operand


@builtin("sprintf", 2)
def sprintf(template: Any, values: Any) -> str:
    return go_fmt.sprintf(operand("sprintf", 1, template, str), operand("sprintf", 2, values, list))


def _simple_upper(character: str) -> str:
    """Go's unicode.ToUpper: one rune for one (``ß`` stays ``ß``, where Python's full mapping gives ``SS``)."""
    upper = character.upper()
    if len(upper) == 1:
        return upper
    title = character.title()
    return title if len(title) == 1 else character


def _simple_lower(character: str) -> str:
    """Go's unicode.ToLower: ``İ`` is ``i`` (Python's full mapping adds a combining dot)."""
    lower = character.lower()
    return lower if len(lower) == 1 else lower[0]


@builtin("upper", 1, unicode_only=True)
def upper(text: Any) -> str:
    return "".join(map(_simple_upper, operand("upper", 1, text, str)))


@builtin("lower", 1, unicode_only=True)
def lower(text: Any) -> str:
    return "".join(map(_simple_lower, operand("lower", 1, text, str)))


@builtin("strings.replace_n", 2)
def replace_n(patterns: Any, text: Any) -> str:
    """Go's strings.NewReplacer over the pairs in key order: one pass, at each place the first key (in that
    order) found there is replaced; regorus replaces key by key, each over the previous one's result."""
    pairs = sorted(operand("strings.replace_n", 1, patterns, dict).items())
    if not all(isinstance(key, str) for key, _ in pairs):
        raise BuiltinError("strings.replace_n: operand 1 non-string key found in pattern object")
    if not all(isinstance(value, str) for _, value in pairs):
        raise BuiltinError("strings.replace_n: operand 1 non-string value found in pattern object")
    text = operand("strings.replace_n", 2, text, str)
    if any(not key for key, _ in pairs):
        raise BuiltinError("strings.replace_n: an empty key is not supported here")  # Go inserts it between runes
    out, position = [], 0
    while position < len(text):
        found = next(((key, value) for key, value in pairs if text.startswith(key, position)), None)
        if found is None:
            out.append(text[position])
            position += 1
        else:
            out.append(found[1])
            position += len(found[0])
    return "".join(out)


@builtin("indexof", 2)
def indexof(text: Any, search: Any) -> int:
    """The index in characters (runes); OPA refuses an empty search string, where regorus answers -1."""
    text, search = operand("indexof", 1, text, str), operand("indexof", 2, search, str)
    if not search:
        raise BuiltinError("indexof: empty search character")
    return text.find(search)


@builtin("indexof_n", 2)
def indexof_n(text: Any, search: Any) -> list[int]:
    """Every index, overlapping ones included, in characters; an empty search string is an error (regorus: every
    index)."""
    text, search = operand("indexof_n", 1, text, str), operand("indexof_n", 2, search, str)
    if not search:
        raise BuiltinError("indexof_n: empty search character")
    return [index for index in range(len(text) - len(search) + 1) if text.startswith(search, index)]


@builtin("strings.count", 2)
def count(text: Any, search: Any) -> int:
    """Go's strings.Count: non-overlapping occurrences; an empty search string counts the characters plus one
    (regorus panics)."""
    text, search = operand("strings.count", 1, text, str), operand("strings.count", 2, search, str)
    return text.count(search) if search else len(text) + 1


@builtin("strings.split_n", 3)
def split_n(text: Any, delimiter: Any, limit: Any) -> list[str]:
    """The first ``limit`` parts of Go's strings.Split, or the last ``-limit`` ones for a negative limit (an empty
    delimiter splits into characters, an empty text into no parts); the limit is an integer (``2.0`` is refused)."""
    text = operand("strings.split_n", 1, text, str)
    delimiter = operand("strings.split_n", 2, delimiter, str)
    limit = operand("strings.split_n", 3, limit, int, float)
    if isinstance(limit, float) or not -(2**63) <= limit < 2**63:
        raise BuiltinError("strings.split_n: operand 3 must be integer number but got floating-point number")
    parts = text.split(delimiter) if delimiter else list(text)
    return parts[:limit] if limit >= 0 else parts[max(len(parts) + limit, 0):]
