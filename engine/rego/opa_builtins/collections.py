"""OPA's ``array.flatten`` (regorus lacks it)."""

from __future__ import annotations

from typing import Any

from engine.rego.opa_builtins import builtin, operand


@builtin("array.flatten", 1)
def flatten(array: Any) -> list[Any]:
    """One level of nesting removed: ``[1, [2, [3]]]`` is ``[1, 2, [3]]``."""
    flat: list[Any] = []
    for item in operand("array.flatten", 1, array, list):
        flat.extend(item if isinstance(item, list) else [item])
    return flat
