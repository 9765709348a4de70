"""Comparison functions (templates/template-functions-comparison)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import EvaluationError, kind_of


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
