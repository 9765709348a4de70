"""The oracle is the real OPA (Go): OPA's own answers where other Rego engines differ, its strict built-in errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from rego.opa_oracle import UNDEFINED, OpaError, OpaOracle, agrees

from engine.rego.modules import read_module
from engine.rego.references import dependency_order

PROBE = """package probe

fraction := sprintf("%.1f", [60])
marshalled := json.marshal({"html": "<a & b>"})
upper_sharp_s := upper("gießen")
code_points := count("🚀 launch pad")
lowered := lower(input.value)
conflict := 1 if input.conflict
conflict := 2 if input.conflict
"""


@pytest.fixture(scope="module")
def oracle() -> OpaOracle:
    with OpaOracle([("probe.rego", PROBE)]) as opa:
        yield opa


def test_the_oracle_answers_as_go_opa_does(oracle: OpaOracle) -> None:
    assert oracle.document("probe.fraction") == "%!f(int64=60)"  # Go's fmt is handed an int64
    assert oracle.document("probe.marshalled") == '{"html":"\\u003ca \\u0026 b\\u003e"}'
    assert oracle.document("probe.upper_sharp_s") == "GIEßEN"
    assert oracle.document("probe/code_points") == 12
    assert oracle.query("x := data.probe.lowered", {"value": "ABC"}) == [{"x": "abc"}]
    assert oracle.query("x := data.probe.lowered", {}) == []
    assert oracle.document("probe.lowered", {}) is UNDEFINED


def test_a_builtin_error_stops_the_strict_bridge_and_is_told_apart_from_other_errors(oracle: OpaOracle) -> None:
    with pytest.raises(OpaError) as builtin:
        oracle.document("probe.lowered", {"value": 5})
    assert builtin.value.code == "eval_type_error" and builtin.value.builtin
    assert "lower: operand 1 must be string but got number" in builtin.value.message
    with pytest.raises(OpaError) as conflict:
        oracle.document("probe.conflict", {"conflict": True})
    assert conflict.value.code == "eval_conflict_error" and not conflict.value.builtin


def test_a_batch_gives_each_input_its_own_answer(oracle: OpaOracle) -> None:
    inputs = [{"value": "A"}, {}, {"value": 5}, {"value": "Ü"}] * 3
    answers = oracle.documents("probe.lowered", inputs, batch=5)
    assert answers[:2] == ["a", UNDEFINED] and answers[3] == "ü"
    assert isinstance(answers[2], OpaError) and answers[2].builtin
    assert [str(answer) for answer in answers] == [str(answer) for answer in answers[:4]] * 3


def test_agreement_under_opas_default_evaluation(oracle: OpaOracle) -> None:
    builtin_error = oracle.documents("probe.lowered", [{"value": 5}])[0]
    conflict = oracle.documents("probe.conflict", [{"conflict": True}])[0]
    assert agrees("a", "a", False) and not agrees("a", "b", False) and not agrees("a", "a", True)
    assert agrees(UNDEFINED, UNDEFINED, False) and not agrees(UNDEFINED, False, False)
    assert agrees(conflict, None, True) and not agrees(conflict, 1, False)
    # OPA's default makes the failing expression undefined; the strict bridge raises instead
    assert agrees(builtin_error, UNDEFINED, False, expression=True) and agrees(builtin_error, None, True, expression=True)
    assert not agrees(builtin_error, "5", False, expression=True)
    assert agrees(builtin_error, "anything the rule gives", False)


def test_the_oracle_reports_opas_coverage_and_prints(tmp_path: Path) -> None:
    (tmp_path / "c.rego").write_text('package c\n\nallow if {\n\tprint("checking", input.user)\n\tinput.user == "a"\n}\n'
                                     '\ndeny if input.user == "b"\n')
    with OpaOracle.from_paths([tmp_path]) as opa:
        assert opa.query("x := data.c.allow", {"user": "a"}, coverage=True) == [{"x": True}]
        assert opa.prints == [("checking a", f"{tmp_path / 'c.rego'}:4")]
        coverage = opa.last_coverage
    assert coverage is not None
    report = coverage["files"][str(tmp_path / "c.rego")]
    assert report["covered"] and report["not_covered"]  # `deny` was never evaluated


def test_modules_are_uploaded_after_the_packages_they_use(tmp_path: Path) -> None:
    """An OPA server compiles each uploaded module with those it has: a caller before its callee is refused."""
    (tmp_path / "a_policy.rego").write_text("package p\n\nimport data.q.lib\n\nx := lib.double(2)\n")
    (tmp_path / "b_top.rego").write_text("package top\n\nx := data.p.x\n")
    (tmp_path / "z_lib.rego").write_text("package q.lib\n\ndouble(n) := n * 2\n")
    modules = [read_module(path) for path in sorted(tmp_path.glob("*.rego"))]
    assert [module.package for module in dependency_order(modules)] == ["q.lib", "p", "top"]
    with OpaOracle([(modules[0].name, modules[0].source)]) as caller_alone, pytest.raises(OpaError) as refused:
        caller_alone.query("true")
    assert refused.value.code == "rego_type_error" and "undefined function" in refused.value.message
