"""Logical functions (templates/template-functions-logical): ``if``, ``and`` and ``or`` evaluate only
the arguments they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.expressions.functions.values import boolean
from engine.expressions.registry import COMMON_FUNCTIONS as F

Thunk = Callable[[], Any]


@F.function("if", 3, 3, lazy=True)
def _if(condition: Thunk, when_true: Thunk, when_false: Thunk) -> Any:
    return when_true() if boolean(condition(), "if") else when_false()


@F.function("and", 1, None, lazy=True)
def _and(*operands: Thunk) -> bool:
    return all(boolean(operand(), "and") for operand in operands)


@F.function("or", 1, None, lazy=True)
def _or(*operands: Thunk) -> bool:
    return any(boolean(operand(), "or") for operand in operands)


@F.function("not", 1, 1)
def _not(value: Any) -> bool:
    return not boolean(value, "not")


@F.function("true", 0, 0)
def _true() -> bool:
    return True


@F.function("false", 0, 0)
def _false() -> bool:
    return False


@F.function("bool", 1, 1)
def _bool(value: Any) -> bool:
    """``bool('true')``, ``bool(1)`` (template-functions-logical#bool); the strings '1' and '0' too, as Azure
    Policy's engine reads them (regorus's ``fn_bool_from_1_string``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return value.strip() == "1"
    return boolean(value, "bool")
