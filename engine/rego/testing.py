"""``arcpolicy test``: run Rego unit tests (``test_*`` rules in ``*_test.rego``) as ``opa test`` does.

regopy has no test runner, so tests are discovered from the source and each one is queried as
``data.<package>.<test_rule>``: it passes when that value is ``true``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson
import regopy

from engine.errors import InputError
from engine.rego.engines import compile_modules, new_interpreter, output_error
from engine.rego.modules import discover, read_modules

Outcome = Literal["PASS", "FAIL", "ERROR"]


@dataclass(frozen=True)
class TestResult:
    """One test rule's outcome; ``detail`` says why a test did not pass."""

    __test__ = False  # not a pytest test class

    file: str
    name: str
    outcome: Outcome
    detail: str = ""


def run_tests(paths: Iterable[str | Path]) -> list[TestResult]:
    """Compile every module under ``paths`` (tests included) and run each ``test_*`` rule."""
    modules = list(read_modules(discover(paths, include_tests=True)))
    accepted, diagnostics = compile_modules(modules)
    if diagnostics:
        first = diagnostics[0]
        raise InputError(first.file, first.message, location=f"line {first.line}")
    interpreter = new_interpreter()
    for module in accepted:
        interpreter.add_module(module.name, module.source)
    results = []
    for module in accepted:
        if module.is_test:
            results.extend(_run(interpreter, module.name, f"{module.package}.{rule}") for rule in module.test_rules)
    return results


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
