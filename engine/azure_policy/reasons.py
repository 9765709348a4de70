"""Reasons built from values already known valid, without re-validating them (:func:`trusted`).

Evaluation explains thousands of verdicts per second and the scan turns every one into a
:class:`PolicyState`: their values come from validated documents and the evaluators, so they are
set directly, as ``model_construct`` would (every field given), at a fraction of its cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.models.contract import _new, _set_dict, _set_extra, _set_fields, _set_private, trusted
from engine.models.results import Reason

_REASON_FIELDS = set(Reason.model_fields)
#: A reason row's members in order, as records and their JSON write them.
REASON_KEYS = ("message", "path", "field", "operator", "expected", "actual")


def reason(message: str, path: str | None = None, field: str | None = None, operator: str | None = None,
           expected: Any = None, actual: Any = None) -> Reason:
    """A :class:`Reason` from trusted values."""
    return trusted(Reason, {"message": message, "path": path, "field": field, "operator": operator,
                            "expected": expected, "actual": actual}, _REASON_FIELDS)


def reasons(rows: Iterable[tuple[str, str | None, str | None, str | None, Any, Any]]) -> list[Reason]:
    """``[reason(*row) for row in rows]`` for rows giving every field, in one loop (records build many)."""
    built = []
    for row in rows:
        instance = _new(Reason)
        _set_dict(instance, dict(zip(REASON_KEYS, row, strict=True)))
        _set_fields(instance, _REASON_FIELDS)
        _set_extra(instance, None)
        _set_private(instance, None)
        built.append(instance)
    return built
