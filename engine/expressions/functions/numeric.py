"""Numeric functions (templates/template-functions-numeric); ``min`` and ``max`` also take arrays and
are in :mod:`.arrays`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import NUMBER, EvaluationError, Kind, kind_of

SCALAR_NUMBER = Kind("a string or a number", (str, int, float))


@F.function("int", 1, 1)
def _int(value: Any) -> int:
    """An integer, or a string or number of one, truncated toward zero (``int('3.7')`` is 3, as Azure
    Policy's engine reads it: regorus's ``fn_int_from_float_string``)."""
    try:
        if isinstance(value, str) and "." in value:
            return int(Decimal(value.strip()))
        return int(value)
    except (TypeError, ValueError, ArithmeticError):
        raise EvaluationError(f"int() cannot convert {kind_of(value)} to an integer") from None


@F.function("float", 1, 1, takes=(SCALAR_NUMBER,))
def _float(value: Any) -> float:
    """A string or integer as a floating point number (``float('3.0')``, ``float(3)``)."""
    try:
        return float(value)
    except ValueError:
        raise EvaluationError("float() cannot convert that string to a number") from None


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
