"""``arcpolicy test``: run Rego unit tests (``test_*`` rules in ``*_test.rego``) as ``opa test`` does.

regopy has no test runner, so tests are discovered from the source and each one is queried as
``data.<package>.<test_rule>``: it passes when that value is ``true``.

regopy 1.5 can crash while compiling some tests (``with input as {...}`` and built-ins), and a
crash takes every query of that program with it. So each test file runs in its own child
process, compiled with the policies and the test files it uses; when that child crashes, each
of its tests runs alone in a child (the file's other tests blanked out), and a test whose child
crashes is an ``ERROR`` saying so while the others report as usual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import orjson
import regopy

from engine.errors import InputError
from engine.rego.engines import compile_modules, new_interpreter, output_error
from engine.rego.isolation import EngineCrash, call_isolated
from engine.rego.modules import RegoModule, discover, read_modules
from engine.rego.references import References, unresolved

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


def run_tests(paths: Iterable[str | Path]) -> list[TestResult]:
    """Compile every module under ``paths`` (tests included) and run each ``test_*`` rule.

    A file that does not compile, or imports or calls something no loaded file defines, is bad
    input (InputError, file and line).
    """
    modules = list(read_modules(discover(paths, include_tests=True)))
    accepted, diagnostics = compile_modules(modules)
    accepted, reference_problems = unresolved(accepted)
    if diagnostics or reference_problems:
        first = (diagnostics or reference_problems)[0]
        raise InputError(first.file, first.message, location=f"line {first.line}")
    references = References(accepted)
    results: list[TestResult] = []
    for module in accepted:
        if module.is_test and module.test_rules:
            results.extend(_run_file(module, _program(module, accepted, references)))
    return results


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
