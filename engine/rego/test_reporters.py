"""``arcpolicy test``'s reports, written as ``opa test`` writes them (OPA's tester/reporter.go).

- ``pretty`` (``opa test``'s default): the tests that did not pass, grouped under their file
  (with ``-v`` every test, its cases and what its ``print()`` calls wrote, after a FAILURES
  section), then PASS / FAIL / SKIPPED / ERROR counted apart over the total. A table-driven
  test counts once per case, as OPA counts it.
- ``json`` (``opa test --format json``): one object per test, OPA's ``Result`` fields:
  ``location``, ``package``, ``name``, ``duration`` (nanoseconds), ``fail``, ``skip``,
  ``error``, ``output`` (base64, as Go encodes bytes), ``sub_results``.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from engine.rego.testing import SubResult, TestResult

_RULE = "-" * 80


def counts(results: Sequence[TestResult]) -> Counter[str]:
    """PASS / FAIL / SKIPPED / ERROR as OPA counts them: a table-driven test once per case (its leaves)."""
    counted: Counter[str] = Counter()
    for result in results:
        if result.outcome in ("SKIPPED", "ERROR") or not result.sub_results:
            counted[result.outcome] += 1
            continue
        for _, case in _cases(result.sub_results):
            if not case.sub_results:
                counted["FAIL" if case.fail else "PASS"] += 1
    return counted


def _cases(sub_results: Sequence[SubResult], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], SubResult]]:
    """Each case with the names leading to it, depth-first in name order (OPA's SubResultMap.Iter)."""
    for case in sub_results:
        yield (*path, case.name), case
        yield from _cases(case.sub_results, (*path, case.name))


def go_duration(nanoseconds: int) -> str:
    """A duration as Go's ``time.Duration.String`` writes it (``0s``, ``812ns``, ``41.5µs``, ``1.234567ms``, ``2.5s``)."""
    if nanoseconds == 0:
        return "0s"
    if nanoseconds < 1_000:
        return f"{nanoseconds}ns"
    if nanoseconds < 1_000_000:
        return _decimal(nanoseconds, 1_000) + "µs"
    if nanoseconds < 1_000_000_000:
        return _decimal(nanoseconds, 1_000_000) + "ms"
    hours, rest = divmod(nanoseconds, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _decimal(rest, 1_000_000_000) + "s"
    return f"{hours}h{minutes}m{seconds}" if hours else f"{minutes}m{seconds}" if minutes else seconds


def _decimal(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _headline(result: TestResult) -> str:
    if result.outcome == "SKIPPED":
        return f"{result.name}: SKIPPED"
    return f"{result.name}: {result.outcome} ({go_duration(result.duration_ns)})"


def _indented(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.split("\n"))


def pretty_report(results: Sequence[TestResult], verbose: bool = False) -> str:
    """``opa test``'s text: failures (``-v``: every test), then the counts. No evaluation trace is shown."""
    lines: list[str] = []
    counted = counts(results)
    if counted["FAIL"] and verbose:
        lines += ["FAILURES", _RULE]
        for failure in (result for result in results if result.outcome == "FAIL"):
            lines += [_headline(failure), ""]
            if failure.sub_results:
                lines.append("")
                for path, case in _cases(failure.sub_results):
                    if case.fail and not case.sub_results:  # a failed case with its lineage
                        lines += [_indented(f"{name}: FAIL", 2 + 2 * depth) for depth, name in enumerate(path)]
            lines.append("")
        lines += ["SUMMARY", _RULE]
    last_file = ""
    shown = False
    for result in results:
        if verbose or result.outcome != "PASS":
            if result.file != last_file:
                if last_file:
                    lines.append("")
                lines.append(f"{result.file}:")
                last_file = result.file
            shown = True
            lines.append(_headline(result))
            lines += [_indented(f"{case.name}: {'FAIL' if case.fail else 'PASS'}", 2 * len(path))
                      for path, case in _cases(result.sub_results) if case.fail or verbose]
            if result.output:
                lines += ["", _indented(result.output.strip()), ""]
        if result.error:
            lines.append(f"  {result.error}")
    if shown:
        lines.append(_RULE)
    total = sum(counted.values())
    lines += [f"{label}: {counted[outcome]}/{total}" for outcome, label in
              (("PASS", "PASS"), ("FAIL", "FAIL"), ("SKIPPED", "SKIPPED"), ("ERROR", "ERROR")) if counted[outcome]]
    return "\n".join(lines) + "\n"


def json_report(results: Sequence[TestResult]) -> str:
    """``opa test --format json``: an array of OPA's test results, indented as Go's MarshalIndent does."""
    return json.dumps([_result_json(result) for result in results], indent=2, ensure_ascii=False) + "\n"


def _result_json(result: TestResult) -> dict[str, Any]:
    """OPA's ``tester.Result`` fields in its order; empty ones omitted as Go's ``omitempty`` does."""
    document: dict[str, Any] = {}
    if result.error:
        document["error"] = {"code": _error_code(result.error), "message": result.error}
    document["location"] = {"file": result.test.file, "row": result.test.row, "col": result.test.col}
    if result.sub_results:
        document["sub_results"] = _sub_results_json(result.sub_results)
    document["package"] = result.test.package
    document["name"] = result.test.name
    if result.output:
        document["output"] = base64.b64encode(result.output.encode()).decode()
    document["duration"] = result.duration_ns
    if result.outcome == "FAIL":
        document["fail"] = True
    if result.outcome == "SKIPPED":
        document["skip"] = True
    return document


def _sub_results_json(sub_results: Sequence[SubResult]) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for case in sub_results:
        entry: dict[str, Any] = {}
        if case.sub_results:
            entry["sub_results"] = _sub_results_json(case.sub_results)
        if case.name:
            entry["name"] = case.name
        if case.fail:
            entry["fail"] = True
        cases[case.name] = entry
    return cases


def _error_code(message: str) -> str:
    """OPA's code for conflicting rule values; the engines do not classify their other errors."""
    return "eval_conflict_error" if "multiple outputs" in message or "conflict" in message else "eval_error"


REPORTERS: dict[str, Callable[[Sequence[TestResult], bool], str]] = {
    "pretty": pretty_report,
    "json": lambda results, _verbose: json_report(results),
}
