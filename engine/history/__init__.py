"""Scan history: the store (SQLite or PostgreSQL), diff between scans and compliance trends.

The names below are imported on first use: the store brings SQLAlchemy, which a scan without ``--store``
never needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.history.diff import ScanDiff
    from engine.history.store import HistoryStore

_HOMES = {"ScanMetadata": "store", "ScanDiff": "diff", "diff_records": "diff", "diff_states": "diff", "HistoryStore": "store", "ScanRecord": "store",
          "safe_url": "urls", "Trend": "trend", "build_trend": "trend", "overall_svg": "trend",
          "render_trend_html": "trend", "trend_json": "trend"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'engine.history' has no attribute {name!r}")
    return getattr(import_module(f"engine.history.{_HOMES[name]}"), name)


def diff_scans(store: HistoryStore, before: str, after: str) -> ScanDiff:
    """Diff two stored scans, each named by id, unique prefix or ``latest[~N]``."""
    from engine.history.diff import diff_records

    old, new = store.resolve(before), store.resolve(after)
    return diff_records(old.scan_id, store.views(old.scan_id), new.scan_id, store.views(new.scan_id))


__all__ = [*sorted(_HOMES), "diff_scans"]
