"""Comparison functions (templates/template-functions-comparison).

``equals`` compares JSON values (strings case-sensitively); ``less`` and its kin order numbers, or
strings as .NET's invariant culture does: ``greater('A', 'a')`` is true and ``less('A', 'a')`` false
in the page's examples, where ordinal order would say the opposite (see :func:`.dotnet.compare_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.expressions.dotnet import compare_text
from engine.expressions.functions.values import json_equal
from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import EvaluationError, kind_of


@F.function("equals", 2, 2)
def _equals(left: Any, right: Any) -> bool:
    return json_equal(left, right)


def _ordered(function: str, holds: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def implementation(left: Any, right: Any) -> bool:
        if isinstance(left, str) and isinstance(right, str):
            return holds(compare_text(left, right))
        numbers = all(isinstance(value, int | float) and not isinstance(value, bool) for value in (left, right))
        if not numbers:
            raise EvaluationError(f"{function}() compares two numbers or two strings, got "
                                  f"{kind_of(left)} and {kind_of(right)}")
        return holds((left > right) - (left < right))

    return implementation


F.function("less", 2, 2)(_ordered("less", lambda order: order < 0))
F.function("lessOrEquals", 2, 2)(_ordered("lessOrEquals", lambda order: order <= 0))
F.function("greater", 2, 2)(_ordered("greater", lambda order: order > 0))
F.function("greaterOrEquals", 2, 2)(_ordered("greaterOrEquals", lambda order: order >= 0))


@F.function("coalesce", 1, None)
def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)
