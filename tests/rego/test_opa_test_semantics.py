"""``arcpolicy test`` runs tests as ``opa test`` does (OPA's tester/runner.go and reporter.go), each rule here
checked by hand against that source: table-driven tests with their cases, duplicate names (``#01``),
``todo_test_`` skipped, PASS / FAIL / SKIPPED / ERROR counted apart (a table counts once per case), an ERROR
confined to its test, ``-v`` with what ``print()`` wrote, and ``--format json`` in OPA's ``Result`` shape.
tests/rego/test_opa_test_oracle.py compares outcomes and coverage with the real OPA."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.rego.testing import run_tests

TABLES = '''package tables_test

cases := [
	{"note": "one", "in": 1, "out": 2},
	{"note": "two", "in": 2, "out": 4},
	{"note": "three", "in": 3, "out": 5},
]

test_double[name] if {
	some name, case in {c.note: c | some c in cases}
	print("case", name)
	case.in * 2 == case.out
}

test_note[tc.note] if {
	some tc in cases
	tc.in < 3
}

test_nothing[name] if {
	some name in []
}

test_set contains x if {
	some x in [1]
}
'''
DUPLICATES = '''package dup_test

test_x if {
	1 == 1
}

test_x if {
	1 == 2
}

test_x if {
	2 == 2
}

todo_test_later if {
	false
}

todo_test_later if {
	true
}
'''
ERRORS = '''package errs_test

conflict = 1 if true

conflict = 2 if true

test_conflict if {
	conflict == 1
}

test_fine if {
	true
}
'''


@pytest.fixture
def authors(tmp_path: Path) -> Path:
    for name, text in (("tables_test.rego", TABLES), ("dup_test.rego", DUPLICATES), ("errs_test.rego", ERRORS)):
        (tmp_path / name).write_text(text)
    return tmp_path


def outcomes(path: Path) -> dict[str, tuple[str, tuple[tuple[str, bool], ...]]]:
    return {result.name: (result.outcome, tuple((case.name, case.fail) for case in result.sub_results))
            for result in run_tests([path]).results}


def test_table_driven_tests_have_one_result_per_case(authors: Path) -> None:
    found = outcomes(authors)
    # case "three" fails after its name was bound: a failing case, though the rule has no key for it
    assert found["data.tables_test.test_double"] == ("FAIL", (("one", False), ("three", True), ("two", False)))
    # a key expression: recorded once the statement binding tc succeeded; tc.in < 3 fails for "three"
    assert found["data.tables_test.test_note"] == ("FAIL", (("one", False), ("three", True), ("two", False)))
    assert found["data.tables_test.test_nothing"] == ("PASS", ())  # an empty table passes, as on OPA
    assert found["data.tables_test.test_set"] == ("FAIL", ())  # a partial set is not `true`


def test_duplicate_names_all_run_and_are_numbered_and_todo_tests_are_skipped(authors: Path) -> None:
    found = outcomes(authors)
    assert {name: outcome for name, (outcome, _) in found.items() if name.startswith("data.dup_test.")} == {
        "data.dup_test.test_x": "PASS", "data.dup_test.test_x#01": "FAIL", "data.dup_test.test_x#02": "PASS",
        "data.dup_test.todo_test_later": "SKIPPED"}
    skipped = [result for result in run_tests([authors]).results if result.test.name == "todo_test_later"]
    assert len(skipped) == 2  # OPA numbers test_ duplicates only: both todo rules keep their name


def test_an_error_stays_with_its_test(authors: Path) -> None:
    results = {result.name: result for result in run_tests([authors]).results}
    assert results["data.errs_test.test_conflict"].outcome == "ERROR"
    assert "conflict" in results["data.errs_test.test_conflict"].error  # regorus: "rule conflicts with rule at"
    assert results["data.errs_test.test_fine"].outcome == "PASS"


def test_the_summary_counts_pass_fail_skipped_and_error_apart(authors: Path, capsys) -> None:
    assert main(["test", str(authors)]) == 1
    out = capsys.readouterr().out
    # cases count one by one: 3 + 3 of the tables, the empty table, test_set; 3 test_x, test_fine
    assert out.endswith("-" * 80 + "\nPASS: 8/15\nFAIL: 4/15\nSKIPPED: 2/15\nERROR: 1/15\n")
    assert re.search(r"^data\.tables_test\.test_double: FAIL \(.+\)\n  three: FAIL\n\n  case one\n  case three\n"
                     r"  case two\n\n", out, re.MULTILINE)  # failing tests show what print() wrote (keys in order)
    assert re.search(r"^data\.errs_test\.test_conflict: ERROR \(.+\)\n  .*conflict", out, re.MULTILINE)
    assert "data.dup_test.todo_test_later: SKIPPED\n" in out


def test_skipped_tests_fail_the_run_unless_told_otherwise(tmp_path: Path) -> None:
    (tmp_path / "t_test.rego").write_text("package t_test\n\ntest_a if true\n\ntodo_test_b if false\n")
    assert main(["test", str(tmp_path)]) == 1
    assert main(["test", "-z", str(tmp_path)]) == 0


def test_verbose_shows_every_case_and_a_failures_section(authors: Path, capsys) -> None:
    main(["test", "-v", str(authors / "tables_test.rego")])
    out = capsys.readouterr().out
    assert out.startswith("FAILURES\n" + "-" * 80 + "\n")
    assert re.search(r"^data\.tables_test\.test_note: FAIL \(.+\)\n\n\n  three: FAIL\n\n", out, re.MULTILINE)
    summary = out[out.index("SUMMARY\n"):]
    assert re.search(r"^data\.tables_test\.test_note: FAIL \(.+\)\n  one: PASS\n  three: FAIL\n  two: PASS$",
                     summary, re.MULTILINE)
    assert re.search(r"^data\.tables_test\.test_nothing: PASS \(.+\)$", summary, re.MULTILINE)


def test_a_passing_tests_prints_show_with_verbose_only(tmp_path: Path, capsys) -> None:
    (tmp_path / "p_test.rego").write_text('package p_test\n\ntest_a if {\n\tprint("hello", 1)\n}\n')
    main(["test", str(tmp_path)])
    assert "hello" not in capsys.readouterr().out
    main(["test", "-v", str(tmp_path)])
    assert re.search(r"^data\.p_test\.test_a: PASS \(.+\)\n\n  hello 1\n\n-{80}\nPASS: 1/1\n",
                     capsys.readouterr().out, re.MULTILINE)


def test_json_is_opa_tests_result_array(authors: Path, capsys) -> None:
    main(["test", "--format", "json", str(authors)])
    entries = json.loads(capsys.readouterr().out)
    report = {f"{entry['package']}.{entry['name']}": entry for entry in reversed(entries)}  # the first of a name
    double = report["data.tables_test.test_double"]
    assert list(double) == ["location", "sub_results", "package", "name", "output", "duration", "fail"]
    assert double["location"] == {"file": str(authors / "tables_test.rego"), "row": 9, "col": 1}
    assert double["sub_results"] == {"one": {"name": "one"}, "three": {"name": "three", "fail": True},
                                     "two": {"name": "two"}}
    assert base64.b64decode(double["output"]).decode() == "case one\ncase three\ncase two\n"
    assert isinstance(double["duration"], int) and double["fail"] is True
    assert report["data.dup_test.todo_test_later"] == {
        "location": {"file": str(authors / "dup_test.rego"), "row": 15, "col": 1},
        "package": "data.dup_test", "name": "todo_test_later", "duration": 0, "skip": True}
    assert report["data.dup_test.test_x#01"]["location"]["row"] == 7
    conflict = report["data.errs_test.test_conflict"]
    assert conflict["error"]["code"] == "eval_conflict_error" and "fail" not in conflict


def test_tests_in_any_file_run_as_on_opa(tmp_path: Path) -> None:
    (tmp_path / "policy.rego").write_text("package mixed\n\nallow if input.ok\n\ntest_allow if allow with input.ok as true\n")
    assert [(result.name, result.outcome) for result in run_tests([tmp_path]).results] == [
        ("data.mixed.test_allow", "PASS")]


def test_a_built_in_the_engine_lacks_is_an_error_of_the_tests_that_call_it(tmp_path: Path, capsys) -> None:
    (tmp_path / "schema_test.rego").write_text(
        'package schema_test\n\nschema := "type Query { a: Int }"\n\n'
        'test_schema_is_valid if {\n\tgraphql.schema_is_valid(schema)\n}\n\ntest_other if {\n\tcount(schema) > 0\n}\n')
    assert main(["test", "-v", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^data\.schema_test\.test_schema_is_valid: ERROR \(.+\)\n  .*schema_test\.rego:6:\d+: could not "
                     r"find function graphql\.schema_is_valid: a built-in of OPA that regorus lacks \(only OPA has it\)$",
                     out, re.MULTILINE)
    assert re.search(r"^data\.schema_test\.test_other: PASS ", out, re.MULTILINE)
    assert out.endswith("PASS: 1/2\nERROR: 1/2\n")
