"""``arcpolicy test PATH``: pass/fail per test, exit 1 on failure, exit 2 on a broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from policies import LIBRARY


def test_shipped_policy_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(LIBRARY / "rego")]) == 0
    out = capsys.readouterr().out
    assert "arcpolicy.retired_extensions_absent_test.test_open_service_mesh_is_deleted_by_default: PASS" in out
    assert "PASS: 20/20" in out


def test_failing_test_is_reported_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rego").write_text('package demo\n\nviolation contains {"msg": "x"} if input.bad\n')
    (tmp_path / "p_test.rego").write_text(
        'package demo_test\n\nimport data.demo\n\n'
        'test_good if {\n\tcount(demo.violation) == 1 with input.bad as true\n}\n\n'
        'test_wrong if {\n\tcount(demo.violation) == 1 with input.bad as false\n}\n')
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "demo_test.test_good: PASS" in out
    assert "demo_test.test_wrong: FAIL (undefined)" in out
    assert "FAIL: 1/2" in out


def test_syntax_error_in_a_test_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken_test.rego").write_text("package broken_test\n\ntest_x if {\n  y = \n}\n")
    assert main(["test", str(tmp_path)]) == 2
    assert "broken_test.rego: line 4 column 5: expecting `}` while parsing set" in capsys.readouterr().err


def test_a_folder_without_tests_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rego").write_text('package demo\n\nviolation contains {"msg": "x"} if input.bad\n')
    assert main(["test", str(tmp_path)]) == 1
    assert "no tests found: a test is a test_* rule in a *_test.rego file" in capsys.readouterr().err
