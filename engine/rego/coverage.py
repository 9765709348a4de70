"""Coverage of ``arcpolicy test --coverage``: which lines of each Rego file the tests evaluated.

regorus records the lines it evaluated (``Engine.set_enable_coverage``); this module turns its
report into per-file figures and writes them as JSON shaped like
``opa test --coverage``'s report (``files`` -> ``covered``/``not_covered`` row ranges,
``covered_lines``, ``not_covered_lines``, ``coverage`` in percent, and the same totals).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict


class FileCoverage(BaseModel):
    """One file: the lines evaluated and the lines with code the tests never reached."""

    model_config = ConfigDict(frozen=True)

    path: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        return _percent(len(self.covered), len(self.not_covered))


def file_coverage(report: dict[str, Any]) -> list[FileCoverage]:
    """regorus's coverage report (``get_coverage_report_as_json``) as FileCoverage, sorted by path."""
    return sorted((FileCoverage(path=entry["path"], covered=tuple(sorted(entry["covered"])),
                                not_covered=tuple(sorted(entry["not_covered"])))
                   for entry in report.get("files", [])), key=lambda found: found.path)


def _ranges(lines: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive lines as (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for line in lines:
        if ranges and ranges[-1][1] == line - 1:
            ranges[-1] = (ranges[-1][0], line)
        else:
            ranges.append((line, line))
    return ranges


def _percent(covered: int, not_covered: int) -> float:
    return round(100 * covered / (covered + not_covered), 2) if covered + not_covered else 100.0


def coverage_json(files: Sequence[FileCoverage]) -> dict[str, Any]:
    """The report in ``opa test --coverage``'s JSON shape."""
    covered = sum(len(found.covered) for found in files)
    not_covered = sum(len(found.not_covered) for found in files)
    return {
        "files": {found.path: {
            "covered": [{"start": {"row": first}, "end": {"row": last}} for first, last in _ranges(found.covered)],
            "not_covered": [{"start": {"row": first}, "end": {"row": last}}
                            for first, last in _ranges(found.not_covered)],
            "covered_lines": len(found.covered),
            "not_covered_lines": len(found.not_covered),
            "coverage": found.percent,
        } for found in files},
        "covered_lines": covered,
        "not_covered_lines": not_covered,
        "coverage": _percent(covered, not_covered),
    }

