"""OPA's ``sprintf`` (Go's fmt, see :mod:`.go_fmt`), ``upper`` and ``lower`` (Go's per-rune simple case mapping)."""

from __future__ import annotations

from typing import Any

from engine.rego.opa_builtins import builtin, go_fmt, operand


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
