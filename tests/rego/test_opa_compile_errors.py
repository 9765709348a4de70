"""Policies OPA refuses to compile are refused by arcpolicy too, at the same place, judged by the real OPA.

Each broken policy is given to the real OPA (its compile error: code and line) and loaded by
arcpolicy (``RegoLibrary.load``: a diagnostic ``file:line:column: message`` and the policy
skipped; ``arcpolicy test``: that one line and exit 2). Policies OPA compiles, near the broken ones
(a local variable named like a rule, a user function named like a built-in, two defaults of two
rules), must load without a diagnostic. See engine/rego/compile_checks.py and docs/rego.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import opa_bindings
import pytest

from engine.cli.main import main
from engine.rego import RegoLibrary

HEAD = "package test\n\n"
VIOLATION = '\nviolation contains {"msg": "m"} if false\n'

# name: (modules, OPA's error code, the line arcpolicy must name in the first module)
REFUSED: dict[str, tuple[list[str], str, int]] = {
    "count() without its argument": ([HEAD + "p if { count() }\n"], "rego_type_error", 3),
    "count with two outputs": ([HEAD + "p if { count([1], x, y) }\n"], "rego_type_error", 3),
    "object.get with two arguments": ([HEAD + 'p := object.get({}, "a")\n'], "rego_type_error", 3),
    "a rule and its partial set": ([HEAD + "p := 1\np contains 2\n"], "rego_type_error", 3),
    "a function with two arities": ([HEAD + "f(x) := 1\nf(x, y) := 2\n"], "rego_type_error", 3),
    "a partial set and a function": ([HEAD + "p contains 1\np(x) := 1\n"], "rego_type_error", 3),
    "a rule and its partial object": ([HEAD + 'p := 1\np[k] := 2 if k := "a"\n'], "rego_type_error", 3),
    "two defaults of one rule": ([HEAD + "default p := 1\ndefault p := 2\n"], "rego_type_error", 4),
    "two defaults in two files": ([HEAD + "default p := 1\n", HEAD + "default p := 2\n"], "rego_type_error", 3),
    "a default holding a variable": ([HEAD + "default p := x\n"], "rego_parse_error", 3),
    "a default holding a reference": ([HEAD + "default p := input.x\n"], "rego_parse_error", 3),
    "two rules using each other": ([HEAD + "p if q\nq if p\n"], "rego_recursion_error", 3),
    "a partial set over itself": ([HEAD + "p contains x if { some x in p }\n"], "rego_recursion_error", 3),
    "a recursive function": ([HEAD + "f(x) := y if { y := f(x - 1) }\n"], "rego_recursion_error", 3),
    "a partial object over its keys": ([HEAD + "p[k] := 1 if { some k in object.keys(p) }\n"],
                                       "rego_recursion_error", 3),
    "recursion through imports": ([HEAD + "import data.other\n\np if other.q\n",
                                   "package other\n\nimport data.test\n\nq if test.p\n"], "rego_recursion_error", 5),
}

ACCEPTED: dict[str, list[str]] = {
    "a local variable named like a rule": [HEAD + "q if p\n\np if {\n\tq := 1\n\tq == 1\n}\n"],
    "a user function named like a built-in": [HEAD + "lower(a, b, c) := 1\n\np := lower(1, 2, 3)\n"],
    "count with its output variable": [HEAD + "p if { count([1], 1) }\n"],
    "defaults of two rules": [HEAD + "default p := 1\n\ndefault q := 2\n"],
    "a default function": [HEAD + "default f(x) := 1\n\nf(x) := x if x > 0\n"],
    "a default of a composite constant": [HEAD + 'default p := {"a": [1, {"b": null}]}\n'],
    "an else chain": [HEAD + "p := 1 if false else := 2\n"],
    "rules using each other's results without a cycle": [HEAD + "a := b + 1\n\nb := c * 2\n\nc := 3\n"],
    "import under an alias": [HEAD + "import data.other as o\n\np if o.q\n", "package other\n\nq := true\n"],
}


def _opa_error(modules: list[str]) -> str | None:
    """The real OPA's compile error for ``modules`` (message with its code), None when it compiles them."""
    engine = opa_bindings.OpaEngine()
    try:
        for number, module in enumerate(modules):
            engine.add_policy(f"m{number}.rego", module)
        engine.eval_query("x := data", {})
    except opa_bindings.OpaError as error:
        return error.message
    finally:
        engine.close()
    return None


def _load(tmp_path: Path, modules: list[str]) -> RegoLibrary:
    for number, module in enumerate(modules):
        (tmp_path / f"m{number}.rego").write_text(module + VIOLATION)
    return RegoLibrary.load([tmp_path])


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_policy_opa_refuses_is_refused_at_its_place(tmp_path: Path, name: str) -> None:
    modules, code, line = REFUSED[name]
    opa = _opa_error(modules)
    assert opa is not None and code in opa, opa
    library = _load(tmp_path, modules)
    refusals = [diagnostic for diagnostic in library.diagnostics if code in diagnostic.message]
    assert any(found.line == line for found in refusals), (refusals, library.diagnostics)
    assert re.search(rf"\bm\d\.rego:{line}\b", opa), opa  # OPA names the same line
    skipped = {found.file for found in library.diagnostics}
    assert not skipped & {module.name for module in library.bundle.modules}  # refused files are not evaluated


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_a_policy_opa_compiles_loads_without_a_diagnostic(tmp_path: Path, name: str) -> None:
    modules = ACCEPTED[name]
    assert _opa_error(modules) is None
    assert _load(tmp_path, modules).diagnostics == []


def test_arcpolicy_test_reports_the_refusal_in_one_line_and_exits_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "p.rego").write_text(HEAD + "p if q\n\nq if p\n")
    (tmp_path / "p_test.rego").write_text("package test_test\n\nimport data.test\n\ntest_p if test.p\n")
    assert main(["test", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "p.rego: line 3 column 1" in error[0] and "rego_recursion_error" in error[0], error
