"""``arcpolicy test PATH``: opa test's report (failures by file, counts apart), exit 1 on a failure, 2 on a broken file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.cli.main import main
from policies import LIBRARY

POLICY = 'package demo\n\nviolation contains {"msg": "x"} if input.bad\n'
TESTS = ('package demo_test\n\nimport data.demo\n\n'
         'test_good if {\n\tcount(demo.violation) == 1 with input.bad as true\n}\n\n'
         'test_wrong if {\n\tcount(demo.violation) == 1 with input.bad as false\n}\n')
DURATION = r"\((?:\d+(?:\.\d+)?(?:ns|µs|ms|s)|0s)\)"  # Go's time.Duration


def test_shipped_policy_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(LIBRARY / "rego")]) == 0
    assert capsys.readouterr().out == "PASS: 20/20\n"  # as opa test: nothing but the counts when all pass


def test_verbose_lists_every_test_under_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "-v", str(LIBRARY / "rego")]) == 0
    out = capsys.readouterr().out
    test_file = LIBRARY / "rego" / "retired_extensions_absent_test.rego"
    assert re.search(rf"^{re.escape(str(test_file))}:\ndata\.arcpolicy\.retired_extensions_absent_test\."
                     rf"test_open_service_mesh_is_deleted_by_default: PASS {DURATION}$", out, re.MULTILINE)
    assert out.endswith("-" * 80 + "\nPASS: 20/20\n")


def test_failing_test_is_reported_under_its_file_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rego").write_text(POLICY)
    (tmp_path / "p_test.rego").write_text(TESTS)
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.fullmatch(rf"{re.escape(str(tmp_path / 'p_test.rego'))}:\ndata\.demo_test\.test_wrong: FAIL {DURATION}\n"
                        rf"-{{80}}\nPASS: 1/2\nFAIL: 1/2\n", out)


def test_syntax_error_in_a_test_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken_test.rego").write_text("package broken_test\n\ntest_x if {\n  y = \n}\n")
    assert main(["test", str(tmp_path)]) == 2
    assert "broken_test.rego: line 4 column 5: expecting `}` while parsing set" in capsys.readouterr().err


def test_a_folder_without_tests_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rego").write_text(POLICY)
    assert main(["test", str(tmp_path)]) == 1
    assert "no tests found: a test is a test_* rule" in capsys.readouterr().err


def test_run_selects_tests_by_a_regular_expression_on_the_full_name(tmp_path: Path, capsys) -> None:
    (tmp_path / "p.rego").write_text(POLICY)
    (tmp_path / "p_test.rego").write_text(TESTS)
    assert main(["test", str(tmp_path), "--run", r"demo_test\.test_go"]) == 0
    assert capsys.readouterr().out == "PASS: 1/1\n"
    assert main(["test", str(tmp_path), "--run", "("]) == 2
    assert "--run: not a regular expression" in capsys.readouterr().err
