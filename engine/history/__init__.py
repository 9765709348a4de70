"""Scan history: the store (SQLite or PostgreSQL), diff between scans and compliance trends."""

from __future__ import annotations

from engine.history.diff import ScanDiff, diff_states
from engine.history.store import HistoryStore, ScanRecord, safe_url
from engine.history.trend import Trend, build_trend, overall_svg, render_trend_html
from engine.output.context import ScanMetadata


def diff_scans(store: HistoryStore, before: str, after: str) -> ScanDiff:
    """Diff two stored scans, each named by id, unique prefix or ``latest[~N]``."""
    old, new = store.resolve(before), store.resolve(after)
    return diff_states(old.scan_id, store.states(old.scan_id), new.scan_id, store.states(new.scan_id))


__all__ = ["HistoryStore", "ScanDiff", "ScanMetadata", "ScanRecord", "Trend", "build_trend", "diff_scans",
           "diff_states", "overall_svg", "render_trend_html", "safe_url"]
