"""``arcpolicy test --coverage``: counted as ``opa test --coverage`` counts it (OPA v1.20's cover package).

The figures below are OPA's for these files (checked by hand against OPA's algorithm, and against
the real OPA): rule heads count when their rule produced a
value, expressions when evaluation reached them (a range from their first to their last row), a failed
test's unreached lines and head stay uncovered, and a body OPA's rule index skips is not reached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.rego.coverage_probes import instrument
from engine.rego.modules import discover, read_modules
from engine.rego.regorus_engine import new_interpreter
from engine.rego.test_discovery import plan_tests
from engine.rego.testing import run_tests
from policies import LIBRARY

REPO = LIBRARY.parent

POLICY = '''package cov.demo

default allowed := false

allowed if {
	input.method == "GET"
	input.user == "admin"
}

names := {name |
	some extension in input.extensions
	name := extension.name
}

violation contains {
	"msg": sprintf("%s is bad", [e.name]),
} if {
	some e in input.extensions
	e.properties.extensionType == "bad"
}

tier := "gold" if {
	input.premium
} else := "basic"

unused if {
	input.resource.name == "x"
}
'''
TESTS = '''package cov.demo_test

import data.cov.demo

test_bad_extension if {
	count(demo.violation) == 1 with input.extensions as [
		{"name": "b1", "properties": {"extensionType": "bad"}},
	]
}

test_nobody_is_allowed_without_a_method if {
	not demo.allowed with input as {}
}

test_tier if {
	demo.tier == "basic" with input as {}
}

test_wrong if {
	demo.names == {"a"} with input.extensions as [{"name": "b"}]
	true
}
'''


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    (tmp_path / "demo.rego").write_text(POLICY)
    (tmp_path / "demo_test.rego").write_text(TESTS.replace("test_wrong", "todo_test_wrong"))
    return tmp_path


def rows(ranges: list[dict]) -> list[int]:
    return sorted({row for found in ranges for row in range(found["start"]["row"], found["end"]["row"] + 1)})


def test_coverage_counts_rows_as_opa_does(policies: Path, capsys) -> None:
    assert main(["test", "-z", str(policies), "--coverage"]) == 0
    report = json.loads(capsys.readouterr().out)
    demo = report["files"][str(policies / "demo.rego")]
    # 3: the default (asked with no method: allowed's body is skipped by OPA's index, so 5-7 stay uncovered);
    # 15-17: the multi-line head of violation, 18-19 its body; 24: `else` (22-23: input.premium undefined);
    # 10-13 (names, whose head and value span four rows) and 26-27: never asked (test_wrong is skipped)
    assert rows(demo["covered"]) == [3, 15, 16, 17, 18, 19, 24]
    assert rows(demo["not_covered"]) == [5, 6, 7, 10, 11, 12, 13, 22, 23, 26, 27]
    assert (demo["covered_lines"], demo["not_covered_lines"]) == (7, 11)
    assert demo["coverage"] == pytest.approx(100 * 7 / 18)
    assert demo["covered"][0] == {"start": {"row": 3, "col": 1}, "end": {"row": 3, "col": 8}}  # `default`
    tests = report["files"][str(policies / "demo_test.rego")]
    assert rows(tests["covered"]) == [5, 6, 7, 8, 11, 12, 15, 16]  # a skipped test is not evaluated
    assert rows(tests["not_covered"]) == [19, 20, 21]
    assert report["covered_lines"] == 15 and report["not_covered_lines"] == 14
    assert report["coverage"] == pytest.approx(100 * 15 / 29)


def test_a_failed_test_leaves_its_head_and_unreached_lines_uncovered(policies: Path) -> None:
    (policies / "demo_test.rego").write_text(TESTS)
    demo, tests = sorted(run_tests([policies], coverage=True).coverage or [], key=lambda found: found.path)
    # test_wrong asks for names: 10-13 covered, 11 (`some ... in`) evaluated but never counted as not covered
    assert [(found.start_row, found.end_row) for found in demo.not_covered] == [(5, 5), (6, 6), (7, 7), (22, 22),
                                                                                  (23, 23), (26, 26), (27, 27)]
    assert (demo.covered_lines, demo.not_covered_lines) == (11, 7)
    # test_wrong: its first expression (20) is reached and fails, its head (19) and `true` (21) are not
    assert {row for found in tests.covered for row in found.rows()} >= {20}
    assert [(found.start_row, found.end_row) for found in tests.not_covered] == [(19, 19), (21, 21)]
    assert (tests.covered_lines, tests.not_covered_lines) == (9, 2)


def test_a_failing_test_reports_the_failure_instead_of_coverage(policies: Path, capsys) -> None:
    (policies / "demo_test.rego").write_text(TESTS)
    assert main(["test", str(policies), "--coverage"]) == 1
    assert "data.cov.demo_test.test_wrong: FAIL" in capsys.readouterr().out


def test_the_shipped_library_prints_its_coverage(capsys) -> None:
    assert main(["test", str(LIBRARY / "rego"), "--coverage"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert str(LIBRARY / "rego" / "monitoring_required.rego") in report["files"] and report["coverage"] > 0


def test_coverage_needs_the_default_engine(policies: Path, capsys) -> None:
    assert main(["test", str(policies), "--coverage", "--rego-engine", "regopy"]) == 2
    assert "--coverage: coverage needs --rego-engine regorus" in capsys.readouterr().err


@pytest.mark.parametrize("folder", [LIBRARY / "rego", REPO / "examples" / "policy-repo", REPO / "tests" / "rego" / "data"],
                         ids=lambda folder: folder.name)
def test_every_rego_file_of_the_repo_compiles_once_prepared_and_probed(folder: Path) -> None:
    plan = plan_tests(list(read_modules(discover([folder], include_tests=True))))
    new_interpreter([(module.name, module.source) for module in plan.modules])
    probed = instrument(plan.modules)
    new_interpreter(probed.modules)  # raises on a module the rewrites broke
    assert len(probed.probes) > len(plan.tests) and all(probed.coverable.values())


def test_coverage_of_a_test_whose_value_is_a_set_of_objects_and_of_an_if_set_comprehension(tmp_path: Path) -> None:
    """Two inputs the fuzzer found (tests/fuzz/targets.py, "rego unit tests"): both are covered, not a crash."""
    (tmp_path / "odd_test.rego").write_text('package odd_test\n\ntest_objects contains {"a": 1} if true\n\n'
                                            'names := {"x"}\n\ntest_comprehension if {n | some n in names}\n')
    run = run_tests([tmp_path], coverage=True)
    assert [(result.test.name, result.outcome) for result in run.results] == [("test_objects", "FAIL"),
                                                                               ("test_comprehension", "PASS")]
    [odd] = run.coverage or []
    assert (odd.covered_lines, odd.not_covered_lines) == (3, 0)  # as on OPA: a set is not true, yet its rule held
