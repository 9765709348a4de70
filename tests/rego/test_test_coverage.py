"""``arcpolicy test --coverage``: per-file and per-line coverage, JSON shaped like opa test --coverage's report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from policies import LIBRARY

POLICY = '''package cov.demo

violation contains {"msg": e.name} if {
	some e in input.extensions
	print("checking", e.name)
	e.properties.extensionType == "bad"
}

unused if {
	input.resource.name == "x"
	input.resource.location == "y"
}
'''
TESTS = '''package cov.demo_test

import data.cov.demo

test_bad_extension if {
	count(demo.violation) == 1 with input.extensions as [{"name": "b1", "properties": {"extensionType": "bad"}}]
}
'''


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    (tmp_path / "demo.rego").write_text(POLICY)
    (tmp_path / "demo_test.rego").write_text(TESTS)
    return tmp_path


def test_coverage_is_a_json_report_shaped_like_opa_test_coverage(policies: Path, capsys) -> None:
    assert main(["test", str(policies), "--coverage"]) == 0
    report = json.loads(capsys.readouterr().out)
    demo = report["files"][str(policies / "demo.rego")]
    assert demo["covered"] == [{"start": {"row": 3}, "end": {"row": 6}}, {"start": {"row": 10}, "end": {"row": 10}}]
    assert demo["not_covered"] == [{"start": {"row": 11}, "end": {"row": 11}}]
    assert (demo["covered_lines"], demo["not_covered_lines"], demo["coverage"]) == (5, 1, 83.33)
    assert report["coverage"] == 85.71


def test_a_failing_test_reports_the_failure_instead_of_coverage(policies: Path, capsys) -> None:
    (policies / "demo_test.rego").write_text(TESTS.replace("== 1", "== 2"))
    assert main(["test", str(policies), "--coverage"]) == 1
    assert "data.cov.demo_test.test_bad_extension: FAIL" in capsys.readouterr().out


def test_the_shipped_library_prints_its_coverage(capsys) -> None:
    assert main(["test", str(LIBRARY / "rego"), "--coverage"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert str(LIBRARY / "rego" / "monitoring_required.rego") in report["files"] and report["coverage"] > 0


def test_coverage_needs_the_default_engine(policies: Path, capsys) -> None:
    assert main(["test", str(policies), "--coverage", "--rego-engine", "regopy"]) == 2
    assert "--coverage: coverage needs --rego-engine regorus" in capsys.readouterr().err
