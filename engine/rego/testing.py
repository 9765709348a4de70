"""``arcpolicy test``: run Rego unit tests as ``opa test`` does (OPA's tester/runner.go).

:mod:`engine.rego.test_discovery` finds the tests (``test_*`` rules of any loaded file,
``todo_test_*`` skipped, duplicates renamed ``#01``, table-driven tests with their cases) and
each one is evaluated as its rule, ``data.<package>.<name>``, as OPA's runner does:

- PASS when the value is ``true``; FAIL when it is undefined or anything else (a partial set
  included); ERROR when the evaluation raises (conflicting values, a built-in the engine lacks):
  that test only, the others run;
- a table-driven test (a partial object) has one sub-result per case: a key whose value is not
  ``true``, or a case that reached OPA's test-case point without producing its key, fails, and
  the test fails when one of its cases does;
- what ``print()`` writes is the test's output, one line per call.

The default engine, regorus, runs every test in one interpreter in this process and, with
``coverage=True``, reports the lines evaluated (:mod:`engine.rego.coverage`).

With ``engine="regopy"``, regopy 1.5 can crash while compiling some tests (``with input as
{...}`` and built-ins), and a crash takes every query of that program with it. So each file's
tests run in their own child process, compiled with the policies and the test files they use;
when that child crashes, each of its tests runs alone in a child (the file's other tests blanked
out), and a test whose child crashes is an ``ERROR`` saying so while the others report as usual.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import orjson
import regopy
import regorus

from engine.errors import InputError
from engine.rego.compile_checks import refused_by_opa
from engine.rego.coverage import FileCoverage, Range, file_coverage
from engine.rego.coverage_probes import instrument
from engine.rego.engine_kinds import DEFAULT_ENGINE
from engine.rego.engines import Diagnostic, compile_modules, new_interpreter, output_error
from engine.rego.isolation import EngineCrash, call_isolated
from engine.rego.modules import RegoModule, discover, read_modules
from engine.rego.opa_builtins import NOT_PROVIDED
from engine.rego.references import BuiltinCheck, References, regopy_builtin, unresolved
from engine.rego.regorus_engine import check_modules, diagnostic, error_message, regorus_builtin
from engine.rego.regorus_engine import new_interpreter as new_regorus_interpreter
from engine.rego.test_discovery import TestCase, TestPlan, plan_tests

Outcome = Literal["PASS", "FAIL", "ERROR", "SKIPPED"]

_TOP_LEVEL = re.compile(r"^(?:default[ \t]+)?([A-Za-z_]\w*)")
_NOT_A_RULE = frozenset({"package", "import", "else"})  # else continues the rule above it
_PRINT_PLACE = re.compile(r"^.*?:\d+: ", re.DOTALL)  # regorus prefixes what print() wrote with file:line
_UNDEFINED = object()
_MISSING_BUILTIN = re.compile(r"could not find function ([\w.]+)")


@dataclass(frozen=True)
class SubResult:
    """One case of a table-driven test (nested when its value is itself an object of cases)."""

    name: str
    fail: bool
    sub_results: tuple[SubResult, ...] = ()


@dataclass(frozen=True)
class TestResult:
    """One test's outcome; ``output`` is what its print() calls wrote, ``error`` why it is an ERROR."""

    __test__ = False  # not a pytest test class

    test: TestCase
    outcome: Outcome
    duration_ns: int = 0
    output: str = ""
    error: str = ""
    sub_results: tuple[SubResult, ...] = ()

    @property
    def file(self) -> str:
        return self.test.file

    @property
    def name(self) -> str:
        """OPA's full name: ``data.<package>.<test>``."""
        return f"{self.test.package}.{self.test.name}"


@dataclass(frozen=True)
class TestRun:
    """The outcome of every test and, when asked for, the coverage of every file."""

    __test__ = False

    results: list[TestResult]
    coverage: list[FileCoverage] | None = None


@dataclass(frozen=True)
class TestRunner:
    """One engine's way to check the modules and run the tests (``coverage``: whether it can report it)."""

    check: Callable[[Sequence[RegoModule]], tuple[list[RegoModule], list[Diagnostic]]]
    run: Callable[[TestPlan, bool], TestRun]
    is_builtin: BuiltinCheck
    coverage: bool = False


def run_tests(paths: Iterable[str | Path], engine: str = DEFAULT_ENGINE, coverage: bool = False,
              run: str | None = None) -> TestRun:
    """Compile every module under ``paths`` (tests included) and run each test (``run``: a regex on the full name).

    A file that does not compile (on the engine, or on OPA: engine.rego.compile_checks), or imports or
    calls something no loaded file defines, is bad input (InputError, file and line).
    """
    runner = TEST_RUNNERS.get(engine)
    if runner is None:
        raise InputError("--rego-engine", f"unknown engine; choose one of {', '.join(TEST_RUNNERS)}", value=engine)
    if coverage and not runner.coverage:
        raise InputError("--coverage", f"coverage needs --rego-engine {DEFAULT_ENGINE}", value=engine)
    selected = _name_filter(run)
    modules = list(read_modules(discover(paths, include_tests=True)))
    accepted, diagnostics = check_modules(modules)
    if not diagnostics:
        accepted, diagnostics = runner.check(accepted)
    accepted, refusals = refused_by_opa(accepted)
    accepted, reference_problems = unresolved(accepted, runner.is_builtin)
    if diagnostics or refusals or reference_problems:
        first = (diagnostics or refusals or reference_problems)[0]
        raise InputError(first.file, first.message, location=first.place)
    plan = plan_tests(accepted)
    return runner.run(replace(plan, tests=[test for test in plan.tests if selected(f"{test.package}.{test.name}")]),
                      coverage)


def _name_filter(pattern: str | None) -> Callable[[str], bool]:
    """``opa test --run``: a regular expression searched in each test's full name."""
    if pattern is None:
        return lambda _name: True
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise InputError("--run", f"not a regular expression: {error}", value=pattern) from None
    return lambda name: compiled.search(name) is not None


def judge(test: TestCase, value: Any, reached: Sequence[Sequence[Any]] = ()) -> tuple[Outcome, tuple[SubResult, ...]]:
    """A test's outcome from its rule's value (``_UNDEFINED`` when it has none), as OPA's runner decides.

    ``reached``: for a table-driven test, the key paths of the cases that reached OPA's test-case point.
    """
    if value is _UNDEFINED:
        return "FAIL", ()
    if not test.table:
        return ("PASS" if value is True else "FAIL"), ()
    cases = _Cases()
    if isinstance(value, dict):
        for key, case in value.items():
            cases.add_value(key, case)
    for path in reached:
        cases.reach([case_name(term) for term in path])
    frozen = cases.freeze()
    return ("FAIL" if any(case.fail for case in frozen) else "PASS"), frozen


def case_name(term: Any) -> str:
    """OPA's termToString: a string as it is, anything else as Go's JSON encoder writes it."""
    if isinstance(term, str):
        return term
    text = json.dumps(term, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass
class _Cases:
    """OPA's SubResultMap while it is built: cases from the value, then from the test-case points reached."""

    fail: bool = False
    children: dict[str, _Cases] = field(default_factory=dict)

    def add_value(self, key: str, value: Any) -> None:
        child = self.children[key] = _Cases()
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                child.add_value(inner_key, inner)
            child.fail = any(grandchild.fail for grandchild in child.children.values())
        else:
            child.fail = value is not True and value is not None

    def reach(self, path: list[str]) -> bool:
        """A case that reached the test-case point: a new one failed (it produced no key); returns its fail."""
        if not path:
            return True
        child = self.children.get(path[0])
        if child is None:
            child = self.children[path[0]] = _Cases(fail=True)
        if len(path) == 1:
            return child.fail
        if child.reach(path[1:]):
            child.fail = True
            return True
        return False

    def freeze(self) -> tuple[SubResult, ...]:
        return tuple(SubResult(name, child.fail, child.freeze()) for name, child in sorted(self.children.items()))


def _printed(lines: Iterable[str]) -> str:
    """What print() wrote, as OPA's print hook writes it: each message on its own line, no place."""
    return "".join(_PRINT_PLACE.sub("", line, count=1) + "\n" for line in lines)


def _run_with_regorus(plan: TestPlan, coverage: bool) -> TestRun:
    """Every test in one regorus interpreter; ``print()`` output gathered per test."""
    interpreter = _compiled([(module.name, module.source) for module in plan.modules])
    interpreter.set_gather_prints(True)

    def value_of(path: str) -> Any:
        answer = orjson.loads(interpreter.eval_query_as_json(f"x := data.{path.removeprefix('data.')}"))
        rows = answer.get("result", [])  # no "result" at all when undefined
        return rows[0]["bindings"]["x"] if rows else _UNDEFINED

    results = []
    for test in plan.tests:
        if test.skip:
            results.append(TestResult(test, "SKIPPED"))
            continue
        started = time.perf_counter_ns()
        try:
            value = value_of(test.path)
            output = _printed(interpreter.take_prints())
            reached = value_of(test.cases) if test.cases else []
            interpreter.take_prints()  # the cases' statements ran again: their prints are the test's already
        except RuntimeError as error:
            results.append(TestResult(test, "ERROR", time.perf_counter_ns() - started,
                                      _printed(interpreter.take_prints()), _error_text(error)))
            continue
        outcome, sub_results = judge(test, value, [] if reached is _UNDEFINED else reached)
        results.append(TestResult(test, outcome, time.perf_counter_ns() - started, output, "", sub_results))
    return TestRun(results, _coverage_with_regorus(plan) if coverage else None)


def _coverage_with_regorus(plan: TestPlan) -> list[FileCoverage]:
    """The tests again, on probed copies of the modules (:mod:`engine.rego.coverage_probes`): what they reached."""
    instrumented = instrument(plan.modules)
    interpreter = _compiled(instrumented.modules)
    interpreter.set_gather_prints(True)
    hits: dict[str, set[Range]] = {}
    for test in plan.tests:
        if test.skip:
            continue
        with contextlib.suppress(RuntimeError):  # an error ends the test; what it reached before counts
            interpreter.eval_query_as_json(f"x := data.{test.path.removeprefix('data.')}")  # JSON: a set of objects
        for file, reached in instrumented.reached(interpreter.take_prints()).items():
            hits.setdefault(file, set()).update(reached)
    return [file_coverage(file, [plan.original(file, found) for found in coverable],
                          [plan.original(file, found) for found in hits.get(file, ())])
            for file, coverable in instrumented.coverable.items()]


def _error_text(error: BaseException) -> str:
    """regorus's message; for a built-in it lacks, which one and where it is found."""
    message = error_message(error)
    missing = _MISSING_BUILTIN.search(message)
    if missing is None or missing.group(1) not in NOT_PROVIDED:
        return message
    found = "regopy has it: --rego-engine regopy" if regopy_builtin(missing.group(1)) else "only OPA has it"
    return f"{message}: a built-in of OPA that regorus lacks ({found})"


def _compiled(modules: list[tuple[str, str]]) -> regorus.Engine:
    """The rewritten modules (test_discovery, coverage_probes) in one interpreter; a rewrite it refuses is one line."""
    try:
        return new_regorus_interpreter(modules)
    except RuntimeError as error:
        found = diagnostic(error, modules[0][0] if modules else "arcpolicy test")
        raise InputError(found.file, f"arcpolicy could not prepare this file for its tests ({found.message}); "
                                     "please report it with the file", location=found.place) from None


def _run_with_regopy(plan: TestPlan, coverage: bool) -> TestRun:
    """Each file's tests in their own regopy child process (see the module docstring)."""
    references = References(plan.modules)
    results: list[TestResult] = []
    for module in plan.modules:
        tests = [test for test in plan.tests if test.file == module.name]
        if tests:
            results.extend(_run_file(module, tests, _program(module, plan.modules, references)))
    return TestRun(results)


def _program(module: RegoModule, modules: Sequence[RegoModule], references: References) -> list[RegoModule]:
    """Every policy module, plus the test modules ``module`` uses (directly or through others)."""
    wanted = {module.package}
    pending = [module]
    while pending:
        used = references.packages_used(pending.pop()) - wanted
        wanted |= used
        pending.extend(other for other in modules if other.is_test and other.package in used)
    return [other for other in modules if not other.is_test or other.package in wanted]


def _run_file(module: RegoModule, tests: list[TestCase], program: list[RegoModule]) -> list[TestResult]:
    try:
        return call_isolated(_run_program, program, tests)
    except EngineCrash:
        pass
    results = []
    for test in tests:
        alone = replace(module, source=_only_test(module.source, test.path.rsplit(".", 1)[-1]))
        try:
            results.extend(call_isolated(_run_program, [alone if other is module else other for other in program],
                                         [test]))
        except EngineCrash as crash:
            results.append(TestResult(test, "ERROR", error=str(crash)))
    return results


def _only_test(source: str, keep: str) -> str:
    """``source`` with every ``test_*`` rule but ``keep`` blanked out (lines kept, so errors still point right).

    A rule runs from its head at the start of a line to the next head, as ``opa fmt`` writes them.
    """
    lines = source.split("\n")
    blank = False
    for number, line in enumerate(lines):
        head = _TOP_LEVEL.match(line)
        if head is not None and head.group(1) not in _NOT_A_RULE:
            blank = head.group(1).startswith("test_") and head.group(1) != keep
        if blank:
            lines[number] = ""
    return "\n".join(lines)


def _run_program(program: list[RegoModule], tests: list[TestCase]) -> list[TestResult]:
    """In the child: compile ``program`` and query each test."""
    interpreter = new_interpreter()
    for module in program:
        interpreter.add_module(module.name, module.source)
    return [_run(interpreter, test) for test in tests]


def _run(interpreter: regopy.Interpreter, test: TestCase) -> TestResult:
    if test.skip:
        return TestResult(test, "SKIPPED")
    started = time.perf_counter_ns()
    try:
        value = _regopy_value(interpreter, test.path)
        reached = _regopy_value(interpreter, test.cases) if test.cases else []
    except _RegopyError as error:
        return TestResult(test, "ERROR", time.perf_counter_ns() - started, error=str(error))
    outcome, sub_results = judge(test, value, [] if reached is _UNDEFINED else reached)
    return TestResult(test, outcome, time.perf_counter_ns() - started, sub_results=sub_results)


class _RegopyError(Exception):
    """regopy raised, or answered with an error, for a test's query."""


def _regopy_value(interpreter: regopy.Interpreter, path: str) -> Any:
    try:
        output = interpreter.query(f"x := {path}")
    except (regopy.RegoError, ValueError) as error:  # ValueError: malformed output JSON
        raise _RegopyError(str(error).splitlines()[0]) from None
    if not output.ok():
        raise _RegopyError(output_error(output._impl))
    text = str(output)
    if text == "undefined":
        return _UNDEFINED
    bindings = orjson.loads(text).get("bindings", {})
    return bindings.get("x", _UNDEFINED)


TEST_RUNNERS: dict[str, TestRunner] = {
    # a call of an OPA built-in regorus lacks is an ERROR of the tests that evaluate it, not a refused run
    "regorus": TestRunner(lambda modules: (list(modules), []), _run_with_regorus,
                          lambda name: regorus_builtin(name) or name in NOT_PROVIDED, coverage=True),
    "regopy": TestRunner(compile_modules, _run_with_regopy, regopy_builtin),
}
