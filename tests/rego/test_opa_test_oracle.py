"""``arcpolicy test`` against the real OPA (v1.20, tests/rego/opa_oracle.py): the same outcome for every test and
every case of a table-driven test, and the same coverage per file.

OPA's bindings evaluate queries, not ``opa test`` itself, so this file derives what ``opa test`` reports from
OPA's answers, following OPA's tester/runner.go on its own (it shares no code with engine/rego/testing.py):
tests are found in the source text (``test_*`` and ``todo_test_*`` rule heads at the start of a line, as
``opa fmt`` writes them), a second rule of one name is renamed as OPA's runner renames it (``#01``), a
table-driven test gets the ``print`` of its case names where OPA's compiler records them (after the statement
that binds the key's variable), and each test's rule is asked with coverage on. Its coverage is the union of
every evaluation's covered ranges; a range stays not covered when no evaluation covered it. The bridge stops
at a built-in's error where ``opa test`` would go on (it evaluates strictly), so the author set has none;
nor does the bridge report coverage for an evaluation that failed, so the tests that are an ERROR on OPA are
left out of both sides' coverage.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rego.opa_oracle import OpaError, OpaOracle

from engine.rego.coverage import coverage_json
from engine.rego.testing import run_tests
from policies import LIBRARY

REPO = LIBRARY.parent
SETS = {"authors": [Path(__file__).parent / "data" / "opa_test_authors"], "shipped library": [LIBRARY / "rego"],
        "examples/policy-repo": [REPO / "examples" / "policy-repo"]}
_PACKAGE = re.compile(r"^package[ \t]+(\S+)", re.MULTILINE)
_HEAD = re.compile(r"^(todo_)?(test_\w+)(\[[^\]\n]+\])?", re.MULTILINE)
_CASE = "__oracle_case__"


@dataclass(frozen=True)
class OracleTest:
    file: str
    package: str
    name: str  # as OPA reports it
    rule: str  # as asked (a renamed duplicate)
    skip: bool
    table: bool


def prepare(files: list[Path]) -> tuple[list[tuple[str, str]], list[OracleTest], dict[str, list[tuple[int, int]]]]:
    """The modules as OPA's runner compiles them, the tests, and the (row, column) where case prints were put."""
    modules, tests, injected = [], [], {}
    seen: dict[str, int] = {}
    for file in files:
        source = file.read_text()
        package = "data." + _PACKAGE.search(source).group(1)
        lines = source.split("\n")
        for head in _HEAD.finditer(source):
            todo, name, key = head.groups()
            row = source.count("\n", 0, head.start())
            if todo:
                tests.append(OracleTest(str(file), package, "todo_" + name, "todo_" + name, True, False))
                continue
            count = seen.get(f"{package}.{name}", 0)
            seen[f"{package}.{name}"] = count + 1
            rule = f"{name}_oracle_duplicate_{count:02d}" if count else name
            lines[row] = lines[row].replace(name, rule, 1)
            if key:  # after the first statement naming the key's variable: OPA's test-case point
                variable = re.match(r"\[(\w+)", key).group(1)
                binding = next(number for number in range(row + 1, len(lines))
                               if re.search(rf"\b{variable}\b", lines[number]))
                injected.setdefault(str(file), []).append((binding + 1, len(lines[binding].encode()) + 3))
                lines[binding] += f'; print("{_CASE}", json.marshal([{key[1:-1]}]))'
            tests.append(OracleTest(str(file), package, f"{name}#{count:02d}" if count else name, rule, False,
                                    bool(key)))
        modules.append((str(file), "\n".join(lines)))
    return modules, tests, injected


def opa_outcome(test: OracleTest, rows: list[dict[str, Any]], prints: list[tuple[str, str]]) -> tuple[str, tuple]:
    """What OPA's runner makes of a test rule's value (runTest, subResults)."""
    if not rows:
        return "FAIL", ()
    value = rows[0]["x"]
    if not test.table:
        return ("PASS" if value is True else "FAIL"), ()
    failing = {key: case is not True for key, case in value.items()}
    for message, _ in prints:
        if message.startswith(_CASE):
            [reached] = json.loads(message.removeprefix(_CASE).strip())
            failing.setdefault(reached if isinstance(reached, str) else json.dumps(reached), True)
    return ("FAIL" if any(failing.values()) else "PASS"), tuple(sorted(failing.items()))


def opa_test(paths: list[Path]) -> tuple[list[tuple[str, str, tuple]], dict[str, tuple[set[int], set[int]]]]:
    files = [found for path in paths for found in sorted(path.rglob("*.rego"))]
    modules, tests, injected = prepare(files)
    outcomes, covered, not_covered = [], {}, None
    with OpaOracle(modules) as oracle:
        for test in tests:
            if test.skip:
                outcomes.append((f"{test.package}.{test.name}", "SKIPPED", ()))
                continue
            try:
                rows = oracle.query(f"x := {test.package}.{test.rule}", coverage=True)
            except OpaError as error:
                assert not error.builtin, f"the author set must not raise built-in errors (strict bridge): {error}"
                outcomes.append((f"{test.package}.{test.name}", "ERROR", ()))
                continue
            outcomes.append((f"{test.package}.{test.name}", *opa_outcome(test, rows, oracle.prints)))
            report = oracle.last_coverage["files"]
            for file, ranges in report.items():
                covered.setdefault(file, set()).update(_ranges(ranges.get("covered", [])))
            evaluation = {file: _ranges(ranges.get("not_covered", [])) - _injected(injected.get(file, []))
                          for file, ranges in report.items()}
            not_covered = evaluation if not_covered is None else {
                file: not_covered.get(file, set()) & evaluation.get(file, set()) for file in evaluation}
    return outcomes, {file: (_rows(covered.get(file, set())), _rows((not_covered or {}).get(file, set())))
                      for file, _ in modules}


def _ranges(ranges: list[dict[str, Any]]) -> set[tuple[int, int, int, int]]:
    return {(found["start"]["row"], found["start"].get("col", 0), found["end"]["row"], found["end"].get("col", 0))
            for found in ranges}


def _injected(places: list[tuple[int, int]]) -> set[tuple[int, int, int, int]]:
    """Not the case prints this file put in (their ranges start at the column they were appended at)."""
    return {(row, column, row, end) for row, column in places for end in range(column, column + 200)}


def _rows(ranges: set[tuple[int, int, int, int]]) -> set[int]:
    return {row for start, _, end, _ in ranges for row in range(start, end + 1)}


@pytest.mark.parametrize("test_set", SETS, ids=lambda name: name.replace("/", "-").replace(" ", "-"))
def test_arcpolicy_test_reports_what_opa_test_reports(test_set: str, record_property) -> None:
    expected, opa_coverage = opa_test(SETS[test_set])
    ours = [(result.name, result.outcome, tuple((case.name, case.fail) for case in result.sub_results))
            for result in run_tests(SETS[test_set]).results]
    assert ours == expected
    errors = [name for name, outcome, _ in expected if outcome == "ERROR"]
    without_errors = f"^(?!(?:{'|'.join(map(re.escape, errors))})$)" if errors else None
    coverage = run_tests(SETS[test_set], coverage=True, run=without_errors).coverage or []
    ours_coverage = {found.path: ({row for each in found.covered for row in each.rows()},
                                  {row for each in found.not_covered for row in each.rows()}) for found in coverage}
    assert ours_coverage == opa_coverage
    percent = {file: round(100 * len(hit) / (len(hit) + len(missed)), 2) for file, (hit, missed) in opa_coverage.items()
               if hit or missed}
    outcomes = [outcome for _, outcome, _ in expected]
    cases = sum(len(sub) for _, _, sub in expected)
    record_property("figure", f"opa test oracle: {test_set}: {len(expected)} tests ({outcomes.count('PASS')} PASS, "
                              f"{outcomes.count('FAIL')} FAIL, {outcomes.count('SKIPPED')} SKIPPED, "
                              f"{outcomes.count('ERROR')} ERROR; {cases} table cases) and the coverage of "
                              f"{len(percent)} files ({min(percent.values())}-{max(percent.values())}%) the same "
                              "on arcpolicy test and OPA")


def _report_rows(report: dict[str, Any], kind: str) -> dict[str, set[int]]:
    return {file: _rows(_ranges(found.get(kind, []))) for file, found in report["files"].items()}


@pytest.mark.parametrize("test_set", SETS, ids=lambda name: name.replace("/", "-").replace(" ", "-"))
def test_one_test_s_coverage_is_opas_own_report(test_set: str, record_property) -> None:
    """`arcpolicy test --coverage --run <one test>` against OPA's own report of that test's evaluation (no union,
    no rows derived here): per file and in all, `covered_lines`, `not_covered_lines` and `coverage` are OPA's;
    where docs/rego.md lists a case OPA's tracer does not record, arcpolicy may only count more as covered (its
    covered rows hold OPA's, its not-covered rows are among OPA's). Every range lies in the file as written (a
    reference written out through its import is reported at the file's own columns)."""
    files = [found for path in SETS[test_set] for found in sorted(path.rglob("*.rego"))]
    lines = {str(file): file.read_bytes().split(b"\n") for file in files}
    figures = ("covered_lines", "not_covered_lines", "coverage")
    tally: Counter[str] = Counter()
    with OpaOracle((str(file), file.read_text()) for file in files) as opa:
        for result in run_tests(SETS[test_set]).results:
            if "#" in result.name or result.sub_results or result.outcome in ("SKIPPED", "ERROR"):
                continue  # a renamed duplicate or a table: OPA's runner rewrites those (see the test above)
            opa.query(f"x := {result.name}", coverage=True)
            expected = opa.last_coverage
            ours = coverage_json(run_tests(SETS[test_set], coverage=True, run=f"^{re.escape(result.name)}$").coverage
                                 or [])
            for file, found in ours["files"].items():
                for each in found.get("covered", []) + found.get("not_covered", []):
                    for end in ("start", "end"):
                        assert each[end]["col"] <= len(lines[file][each[end]["row"] - 1]) + 1, (file, each)
            covered, not_covered = _report_rows(ours, "covered"), _report_rows(ours, "not_covered")
            opa_covered, opa_not_covered = _report_rows(expected, "covered"), _report_rows(expected, "not_covered")
            if (covered, not_covered) == (opa_covered, opa_not_covered):
                assert {name: ours[name] for name in figures} == {name: expected[name] for name in figures}
                assert {file: {name: found.get(name) for name in figures} for file, found in ours["files"].items()} \
                    == {file: {name: found.get(name) for name in figures} for file, found in expected["files"].items()}
                tally["equal"] += 1
                continue
            assert set(covered) == set(opa_covered) | set(covered) and all(
                opa_covered[file] <= covered[file] and not_covered.get(file, set()) <= opa_not_covered[file]
                for file in opa_not_covered), (result.name, covered, opa_covered, not_covered, opa_not_covered)
            tally["more covered"] += 1
    assert tally["equal"] >= 3
    record_property("figure", f"opa test oracle: {test_set}: {tally['equal']} tests with OPA's own coverage report "
                              f"figures, {tally['more covered']} counting more as covered (a case docs/rego.md lists)")
