"""``arcpolicy test``: run Rego unit tests (``test_*`` rules in ``*_test.rego``) as ``opa test`` does.

Tests are discovered from the source and each one is evaluated as ``data.<package>.<test_rule>``:
it passes when that value is ``true``. The default engine, regorus, runs every test in one
interpreter in this process, gathers what ``print()`` calls write (shown under the test) and,
with ``coverage=True``, which lines of each file were evaluated (:mod:`engine.rego.coverage`).

With ``engine="regopy"``, regopy 1.5 can crash while compiling some tests (``with input as
{...}`` and built-ins), and a crash takes every query of that program with it. So each test file
runs in its own child process, compiled with the policies and the test files it uses; when that
child crashes, each of its tests runs alone in a child (the file's other tests blanked out), and
a test whose child crashes is an ``ERROR`` saying so while the others report as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import orjson
import regopy

from engine.errors import InputError
from engine.rego.coverage import FileCoverage, file_coverage
from engine.rego.engine_kinds import DEFAULT_ENGINE
from engine.rego.engines import Diagnostic, compile_modules, new_interpreter, output_error
from engine.rego.isolation import EngineCrash, call_isolated
from engine.rego.modules import RegoModule, discover, read_modules
from engine.rego.references import BuiltinCheck, References, regopy_builtin, unresolved
from engine.rego.regorus_engine import check_modules, error_message, regorus_builtin
from engine.rego.regorus_engine import new_interpreter as new_regorus_interpreter

Outcome = Literal["PASS", "FAIL", "ERROR"]

_TOP_LEVEL = re.compile(r"^(?:default[ \t]+)?([A-Za-z_]\w*)")
_NOT_A_RULE = frozenset({"package", "import", "else"})  # else continues the rule above it


@dataclass(frozen=True)
class TestResult:
    """One test rule's outcome; ``detail`` says why a test did not pass."""

    __test__ = False  # not a pytest test class

    file: str
    name: str
    outcome: Outcome
    detail: str = ""
    prints: tuple[str, ...] = ()


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
    run: Callable[[list[RegoModule], bool], TestRun]
    is_builtin: BuiltinCheck
    coverage: bool = False


def run_tests(paths: Iterable[str | Path], engine: str = DEFAULT_ENGINE, coverage: bool = False) -> TestRun:
    """Compile every module under ``paths`` (tests included) and run each ``test_*`` rule.

    A file that does not compile, or imports or calls something no loaded file defines, is bad
    input (InputError, file and line).
    """
    runner = TEST_RUNNERS.get(engine)
    if runner is None:
        raise InputError("--rego-engine", f"unknown engine; choose one of {', '.join(TEST_RUNNERS)}", value=engine)
    if coverage and not runner.coverage:
        raise InputError("--coverage", f"coverage needs --rego-engine {DEFAULT_ENGINE}", value=engine)
    modules = list(read_modules(discover(paths, include_tests=True)))
    accepted, diagnostics = runner.check(modules)
    accepted, reference_problems = unresolved(accepted, runner.is_builtin)
    if diagnostics or reference_problems:
        first = (diagnostics or reference_problems)[0]
        raise InputError(first.file, first.message, location=first.place)
    return runner.run(accepted, coverage)


def _run_with_regorus(modules: list[RegoModule], coverage: bool) -> TestRun:
    """Every test in one regorus interpreter; ``print()`` output gathered per test."""
    interpreter = new_regorus_interpreter([(module.name, module.source) for module in modules])
    interpreter.set_gather_prints(True)
    interpreter.set_enable_coverage(coverage)
    results = []
    for module in modules:
        for rule in module.test_rules if module.is_test else []:
            name = f"{module.package}.{rule}"
            try:
                value = orjson.loads(interpreter.eval_rule_as_json(f"data.{name}"))
            except RuntimeError as error:
                results.append(TestResult(module.name, name, "ERROR", error_message(error),
                                          tuple(interpreter.take_prints())))
                continue
            prints = tuple(interpreter.take_prints())
            if value is True:
                results.append(TestResult(module.name, name, "PASS", prints=prints))
            else:
                detail = "undefined" if value == "<undefined>" else f"value {value!r}"
                results.append(TestResult(module.name, name, "FAIL", detail, prints))
    report = file_coverage(orjson.loads(interpreter.get_coverage_report_as_json())) if coverage else None
    return TestRun(results, report)


def _run_with_regopy(accepted: list[RegoModule], coverage: bool) -> TestRun:
    """Each test file in its own regopy child process (see the module docstring)."""
    references = References(accepted)
    results: list[TestResult] = []
    for module in accepted:
        if module.is_test and module.test_rules:
            results.extend(_run_file(module, _program(module, accepted, references)))
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


def _run_file(module: RegoModule, program: list[RegoModule]) -> list[TestResult]:
    names = [f"{module.package}.{rule}" for rule in module.test_rules]
    try:
        return call_isolated(_run_program, program, module.name, names)
    except EngineCrash:
        pass
    results = []
    for rule, name in zip(module.test_rules, names, strict=True):
        alone = replace(module, source=_only_test(module.source, rule))
        try:
            results.extend(call_isolated(_run_program, [alone if other is module else other for other in program],
                                         module.name, [name]))
        except EngineCrash as crash:
            results.append(TestResult(module.name, name, "ERROR", str(crash)))
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


def _run_program(program: list[RegoModule], file: str, names: list[str]) -> list[TestResult]:
    """In the child: compile ``program`` and query each test."""
    interpreter = new_interpreter()
    for module in program:
        interpreter.add_module(module.name, module.source)
    return [_run(interpreter, file, name) for name in names]


def _run(interpreter: regopy.Interpreter, file: str, name: str) -> TestResult:
    try:
        output = interpreter.query(f"x := data.{name}")
    except (regopy.RegoError, ValueError) as error:  # ValueError: malformed output JSON
        return TestResult(file, name, "ERROR", str(error).splitlines()[0])
    if not output.ok():
        return TestResult(file, name, "ERROR", output_error(output._impl))
    text = str(output)
    value = orjson.loads(text).get("bindings", {}).get("x") if text != "undefined" else None
    if value is True:
        return TestResult(file, name, "PASS")
    return TestResult(file, name, "FAIL", "undefined" if value is None else f"value {value!r}")


TEST_RUNNERS: dict[str, TestRunner] = {
    "regorus": TestRunner(check_modules, _run_with_regorus, regorus_builtin, coverage=True),
    "regopy": TestRunner(compile_modules, _run_with_regopy, regopy_builtin),
}
