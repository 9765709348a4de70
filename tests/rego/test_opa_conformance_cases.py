"""OPA's own conformance cases (test/cases/testdata/v1) on arcpolicy's default path, judged by the real OPA.

Each case (modules, a query, optional input and data: tests/rego/data/opa_cases/, OPA's files with
their expected answers left out) is asked of the real OPA as written, and of arcpolicy the way a
policy is evaluated: the case's modules, its data written as packages (arcpolicy loads no data
documents), and a policy whose ``violation`` holds one object per solution of the query, loaded
with ``RegoLibrary`` (regorus's VM where it is conformant, the interpreter with OPA's built-ins
otherwise). Data no package can hold (``data.foo := "bar"`` at the top) is given to arcpolicy's
interpreter as a data document instead. Both result sets must be equal, or, where OPA's strict bridge stops on a built-in's
error (OPA's default makes that expression undefined), arcpolicy must find no solution or an
error; an OPA compile error must be a load diagnostic. The few cases where regorus differs and
arcpolicy cannot make OPA's answer are listed with the reason (docs/rego.md, "Where regorus
differs from OPA"): the test fails when one of them starts agreeing too, so the list stays true.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import opa_bindings
import pytest
import yaml
from rego.opa_oracle import BUILTIN_ERROR_CODES

from engine.rego import RegoLibrary
from engine.rego.engines import RegoRuntimeError
from engine.rego.regorus_engine import error_message, new_interpreter

CASES_DIR = Path(__file__).parent / "data" / "opa_cases"
CASES = [case for path in sorted(CASES_DIR.glob("*.yaml")) for case in yaml.safe_load(path.read_text())["cases"]]
WRAPPER_PACKAGE = "arcpolicy_case"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Where regorus differs from OPA and arcpolicy cannot give OPA's answer (docs/rego.md says why).
KNOWN_DIFFERENCES = {
    "sprintf/big_int": "a number beyond 64 bits given to an arcpolicy extension: `not an i64`",
    "sprintf/big_int/max_cert_serial_number": "a number beyond 64 bits given to an arcpolicy extension",
    "regression/function refs and package extent": "a package's document omits a function's ref-head path",
    "refheads/general, set leaf, deep query": "a `contains` rule with a literal key hides one with a variable key",
    "defaultkeyword/function with var arg, ref head": "a package's document omits a function's ref-head path",
    "functions/nested complete doc with conflict, else": "two definitions of one rule whose `else` values differ: "
                                                         "OPA reports the conflict, regorus not",
    "strings/sprintf: float too big": "a number literal beyond float64 (`2e308`): regorus refuses the module at load",
    "jsonbuiltins/yaml unmarshal error": "a built-in's error in the output form with `_` (`yaml.unmarshal(s, _)`): "
                                         "regorus's VM takes the expression as true",
    # out of scope: a built-in arcpolicy does not provide (Go's text/template); the load says so and names `opa`
    **dict.fromkeys([f"rendertemplate/{case}" for case in ("simple", "simpleint", "complex", "missingkey")],
                    "strings.render_template (Go's text/template) is reported not evaluated, as docs/rego.md says"),
}


def _canonical(value: Any) -> str:
    """JSON text with whole floats as integers: OPA writes ``1e9 / 1e0`` as 1000000000, regorus 1e9."""
    def whole(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer() and abs(item) < 2**63:
            return int(item)
        if isinstance(item, list):
            return [whole(element) for element in item]
        if isinstance(item, dict):
            return {key: whole(element) for key, element in item.items()}
        return item
    return json.dumps(whole(value), sort_keys=True)


def _opa(case: dict[str, Any]) -> list[dict[str, Any]] | opa_bindings.OpaError:
    engine = opa_bindings.OpaEngine()
    try:
        for number, module in enumerate(case["modules"]):
            engine.add_policy(f"case_{number}.rego", module)
        if case.get("data"):
            engine.add_data(case["data"])
        return engine.eval_query(case["query"], case.get("input", {}))
    except opa_bindings.OpaError as error:
        return error
    finally:
        engine.close()


def _data_packages(data: dict[str, Any]) -> list[str] | None:
    """``data`` as an author writes it without data documents: one package per top-level key (None when a
    top-level value is not an object or a key is not a rule name: no package can hold it)."""
    if not all(isinstance(rules, dict) and all(_NAME.fullmatch(rule) for rule in rules) for rules in data.values()):
        return None
    return [f"package {package}\n\n" + "".join(f"{rule} := {json.dumps(value)}\n" for rule, value in rules.items())
            for package, rules in data.items()]


def _wrapper(query: str, variables: list[str]) -> str:
    """A policy whose violations are the query's solutions, one object of its variables each."""
    details = ", ".join(f'"{name}": {name}' for name in variables)
    body = "\n".join(f"\t{line}" for line in query.splitlines())
    return (f'package {WRAPPER_PACKAGE}\n\nviolation contains {{"msg": "solution", "details": {{{details}}}}} '
            f"if {{\n{body}\n}}\n")


def _with_data(case: dict[str, Any], variables: list[str]) -> list[Any] | RegoRuntimeError | list[str]:
    """A case whose data no package holds: arcpolicy's interpreter (regorus with OPA's built-ins) with the data."""
    try:
        interpreter = new_interpreter([*((f"case_{number}.rego", module) for number, module in enumerate(case["modules"])),
                                       ("wrapper.rego", _wrapper(case["query"], variables))])
    except RuntimeError as error:
        return [error_message(error)]
    interpreter.add_data_json(json.dumps(case["data"]))
    interpreter.set_input_json(json.dumps(case.get("input", {})))
    try:
        violations = json.loads(interpreter.eval_rule_as_json(f"data.{WRAPPER_PACKAGE}.violation"))
    except RuntimeError as error:
        return RegoRuntimeError(error_message(error))
    return [violation["details"] for violation in violations or []]


def _ours(case: dict[str, Any], variables: list[str], folder: Path) -> list[Any] | RegoRuntimeError | list[str]:
    """The solutions on arcpolicy's default path; a RegoRuntimeError; or the load's diagnostics (strings)."""
    packages = _data_packages(case.get("data") or {})
    if packages is None:
        return _with_data(case, variables)
    for number, module in enumerate([*case["modules"], *packages]):
        (folder / f"case_{number}.rego").write_text(module)
    (folder / "wrapper.rego").write_text(_wrapper(case["query"], variables))
    library = RegoLibrary.load([folder])
    if library.diagnostics:
        return [str(diagnostic) for diagnostic in library.diagnostics]
    try:
        answer = library.engine.results(case.get("input", {}), shared=True)
    except RegoRuntimeError as error:
        return error
    return [violation["details"] for violation in answer[WRAPPER_PACKAGE][0]["violation"]]


def _judged(case: dict[str, Any], folder: Path) -> tuple[bool, str]:
    """Whether arcpolicy agrees with OPA on ``case``, and both answers."""
    opa = _opa(case)
    variables = sorted(opa[0]) if isinstance(opa, list) and opa else []
    ours = _ours(case, variables, folder)
    shown = f"OPA {opa!r}, arcpolicy {ours!r}"
    if isinstance(opa, opa_bindings.OpaError):
        compile_error = "rego_" in opa.message or opa.code in ("parse_error", "compile_error")
        if compile_error:
            return isinstance(ours, list) and all(isinstance(item, str) for item in ours) and bool(ours), shown
        if any(code in opa.message for code in BUILTIN_ERROR_CODES):
            return isinstance(ours, RegoRuntimeError) or ours == [], shown
        return isinstance(ours, RegoRuntimeError), shown
    if not isinstance(ours, list) or any(isinstance(item, str) for item in ours):
        return False, shown
    return {_canonical(row) for row in opa} == {_canonical(row) for row in ours}, shown


def test_opas_conformance_cases_answer_as_opa(tmp_path: Path, record_property) -> None:
    differing: dict[str, str] = {}
    for number, case in enumerate(CASES):
        folder = tmp_path / str(number)
        folder.mkdir()
        agreed, shown = _judged(case, folder)
        if not agreed:
            differing[case["note"]] = shown
    unexpected = {note: shown for note, shown in differing.items() if note not in KNOWN_DIFFERENCES}
    assert not unexpected, "\n".join(f"{note}: {shown}" for note, shown in unexpected.items())
    assert set(differing) == set(KNOWN_DIFFERENCES), "listed differences that now agree: " + ", ".join(
        sorted(set(KNOWN_DIFFERENCES) - set(differing)))
    record_property("figure", f"OPA conformance cases: {len(CASES)} of OPA's own cases, "
                              f"{len(CASES) - len(differing)} agree, {len(differing)} listed differences")


def test_the_cases_cover_many_families() -> None:
    families = {case["note"].split("/")[0] for case in CASES}
    assert len(CASES) >= 150 and len(families) >= 6, (len(CASES), families)


@pytest.mark.parametrize("source", [
    'package test\n\np[q].r := i if q := ["a", "b"][i]\n\np.a.r := 1\n',
    "package test\n\np.q[r].s := 1 if r := input.name\n",
])
def test_a_general_ref_head_is_answered_as_opa(tmp_path: Path, source: str) -> None:
    """The VM builds these documents wrongly; the interpreter answers such packages (engine.rego.regorus_engine)."""
    case = {"note": "ref head", "modules": [source], "query": "data.test.p = x", "input": {"name": "n"}}
    agreed, shown = _judged(case, tmp_path)
    assert agreed, shown


@pytest.mark.parametrize("body", ["x := input.missing", "_ := input.names[5]", "x = input.missing", "y := 1\n\tx := input.y"])
def test_an_assignment_never_read_is_answered_as_opa(tmp_path: Path, body: str) -> None:
    """regorus's VM took ``x := <undefined>`` as true when ``x`` is never read (a violation on every cluster);
    such packages go to the interpreter (engine.rego.regorus_engine._unused_assignment)."""
    case = {"note": "unused assignment", "modules": [f"package test\n\np if {{\n\t{body}\n\ttrue\n}}\n"],
            "query": "data.test.p = x", "input": {"name": "n"}}
    agreed, shown = _judged(case, tmp_path)
    assert agreed, shown


@pytest.mark.parametrize("body", [
    'crypto.sha256("a", x)',
    'io.jwt.decode("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", [_, x, _])',
    'net.cidr_merge(["10.0.0.0/9",\n\t\t"10.128.0.0/9"], x)',
    'not net.cidr_intersects("10.0.0.0/8", "11.0.0.0/8", true)\n\tx := 1',
])
def test_an_added_builtin_in_the_output_form_is_answered_as_opa(tmp_path: Path, body: str) -> None:
    """``f(args, out)`` of a built-in arcpolicy adds to regorus (engine/rego/source_rewrites.py)."""
    case = {"note": "output form", "modules": [f"package test\n\np := x if {{\n\t{body}\n}}\n"],
            "query": "data.test.p = x"}
    agreed, shown = _judged(case, tmp_path)
    assert agreed and "'x':" in shown, shown
