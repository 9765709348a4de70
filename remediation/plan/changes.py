"""What an update changes: each field the plan writes whose live value differs, before -> after.

An update writes its body over the live resource (a PATCH), so a reviewer needs the fields that change,
not the whole body: ``releaseTrain: Preview -> Stable``. Fields compare as apply compares them with the
live state (property names and strings ignoring case; a ``location`` ARM drops from a type that has none
is no change). Protected settings and secret-looking keys show ``***`` on both sides (their values are in
no plan, and ARM never returns them), and values secret by their origin are masked too.
"""

from __future__ import annotations

from typing import Any

from engine.secret_keys import is_secret_key
from engine.secret_values import scrub_data
from remediation.plan.merge import agree, same_key
from remediation.plan.models import FieldChange

MASKED = "***"
DROPPED_BY_ARM = frozenset({"location"})  # templates set it on types that have none; ARM drops it


def field_changes(live: dict[str, Any] | None, body: dict[str, Any] | None) -> list[FieldChange]:
    """The fields of ``body`` whose value in ``live`` differs, in the body's order."""
    changes: list[FieldChange] = []
    _compare(live or {}, True, body or {}, "", False, changes)
    return changes


def _compare(live: Any, found: bool, wanted: Any, path: str, secret: bool, changes: list[FieldChange]) -> None:
    """``secret``: a key on the way down is secret-looking (protected settings), so the values are masked."""
    if isinstance(wanted, dict) and wanted:
        for key, value in wanted.items():
            live_key = same_key(live, key) if found and isinstance(live, dict) else None
            if live_key is None and not path and key.lower() in DROPPED_BY_ARM:
                continue
            _compare(live[live_key] if live_key is not None else None, live_key is not None, value,
                     f"{path}.{key}" if path else key, secret or is_secret_key(key), changes)
        return
    if secret:
        changes.append(FieldChange(path=path, before=MASKED if found else None, after=MASKED))
    elif not found or not _same(live, wanted):
        changes.append(FieldChange(path=path, before=scrub_data(live) if found else None, after=scrub_data(wanted)))


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return len(left) == len(right) and all(
            (key := same_key(right, name)) is not None and _same(value, right[key]) for name, value in left.items())
    return agree(left, right)
