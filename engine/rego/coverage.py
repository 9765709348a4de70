"""Coverage of ``arcpolicy test --coverage``, counted as ``opa test --coverage`` counts it (OPA v1.20's cover package).

OPA's report has, per file, ``covered`` ranges (each expression evaluated and each rule head whose
rule produced a value, from its first to its last row and column) and ``not_covered`` ranges (each
rule head and each expression but ``some`` declarations, from the parsed module, not contained in
a covered range). ``covered_lines`` and ``not_covered_lines`` count the distinct rows those ranges
touch (a row can be in both: a one-line test whose head is covered and whose second expression
was never reached), ``coverage`` is ``100 * covered / (covered + not_covered)``, 0 for a file with
neither, and the totals add the files' rows up. :mod:`engine.rego.coverage_probes` finds the
ranges and what the tests reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Range:
    """From (row, column) to (row, column) of the last character's end, as OPA's ``Location.End``."""

    start_row: int
    start_col: int
    end_row: int
    end_col: int

    def contains(self, other: Range) -> bool:
        return ((self.start_row, self.start_col) <= (other.start_row, other.start_col)
                and (self.end_row, self.end_col) >= (other.end_row, other.end_col))

    def rows(self) -> range:
        return range(self.start_row, self.end_row + 1)


@dataclass(frozen=True)
class FileCoverage:
    """One file's covered and not-covered ranges (sorted) and OPA's figures over their rows."""

    path: str
    covered: tuple[Range, ...]
    not_covered: tuple[Range, ...]

    @property
    def covered_lines(self) -> int:
        return _row_count(self.covered)

    @property
    def not_covered_lines(self) -> int:
        return _row_count(self.not_covered)

    @property
    def percent(self) -> float:
        return _percent(self.covered_lines, self.not_covered_lines)


def _row_count(ranges: Iterable[Range]) -> int:
    return len({row for found in ranges for row in found.rows()})


def _percent(covered: int, not_covered: int) -> float:
    return 100.0 * covered / (covered + not_covered) if covered + not_covered else 0.0


def file_coverage(path: str, coverable: Iterable[Range], hits: Iterable[Range]) -> FileCoverage:
    """OPA's ``Cover.Report`` for one file: ``coverable`` heads and expressions, ``hits`` what evaluation reached."""
    covered = sorted(set(hits))
    not_covered = sorted({found for found in coverable if not any(hit.contains(found) for hit in covered)})
    return FileCoverage(path, tuple(covered), tuple(not_covered))


def _number(value: float) -> float | int:
    """As Go's encoding/json writes a float64: ``100``, not ``100.0``."""
    return int(value) if value == int(value) else value


def _ranges_json(ranges: Sequence[Range]) -> list[dict[str, Any]]:
    return [{"start": {"row": found.start_row, "col": found.start_col},
             "end": {"row": found.end_row, "col": found.end_col}} for found in ranges]


def coverage_json(files: Sequence[FileCoverage]) -> dict[str, Any]:
    """The report in ``opa test --coverage``'s JSON shape (empty fields omitted, as Go's ``omitempty`` does)."""
    report: dict[str, Any] = {"files": {}}
    for found in sorted(files, key=lambda each: each.path):
        entry: dict[str, Any] = {}
        if found.covered:
            entry["covered"] = _ranges_json(found.covered)
        if found.not_covered:
            entry["not_covered"] = _ranges_json(found.not_covered)
        if found.covered_lines:
            entry["covered_lines"] = found.covered_lines
        if found.not_covered_lines:
            entry["not_covered_lines"] = found.not_covered_lines
        if found.percent:
            entry["coverage"] = _number(found.percent)
        report["files"][found.path] = entry
    covered = sum(found.covered_lines for found in files)
    not_covered = sum(found.not_covered_lines for found in files)
    report.update(covered_lines=covered, not_covered_lines=not_covered,
                  coverage=_number(_percent(covered, not_covered)))
    return report
