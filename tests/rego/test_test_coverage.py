"""``arcpolicy test --coverage``: per-file and per-line coverage (text, and JSON shaped like opa test --coverage),
and what print() calls gather, shown under their test."""

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


def test_text_coverage_names_each_file_and_the_lines_not_covered(policies: Path, capsys) -> None:
    assert main(["test", str(policies), "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "cov.demo_test.test_bad_extension: PASS\n  print: " in out
    assert f"print: {policies / 'demo.rego'}:5: checking b1" in out
    # regorus evaluates the package's rules when the test reads one of them: `unused` fails at its first line
    assert f"  {policies / 'demo.rego'}: 83.33% (5/6 lines), not covered: lines 11" in out
    assert f"  {policies / 'demo_test.rego'}: 100% (1/1 lines)" in out
    assert "  total: 85.71% (6/7 lines)" in out


def test_json_coverage_has_opa_test_coverage_shape(policies: Path, capsys) -> None:
    assert main(["test", str(policies), "--coverage", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [test] = report["tests"]
    assert (test["name"], test["outcome"]) == ("cov.demo_test.test_bad_extension", "PASS")
    assert test["prints"] == [f"{policies / 'demo.rego'}:5: checking b1"]
    demo = report["coverage"]["files"][str(policies / "demo.rego")]
    assert demo["covered"] == [{"start": {"row": 3}, "end": {"row": 6}}, {"start": {"row": 10}, "end": {"row": 10}}]
    assert demo["not_covered"] == [{"start": {"row": 11}, "end": {"row": 11}}]
    assert (demo["covered_lines"], demo["not_covered_lines"], demo["coverage"]) == (5, 1, 83.33)
    assert report["coverage"]["coverage"] == 85.71


def test_the_shipped_library_prints_its_coverage(capsys) -> None:
    assert main(["test", str(LIBRARY / "rego"), "--coverage"]) == 0
    out = capsys.readouterr().out
    assert f"  {LIBRARY / 'rego' / 'monitoring_required.rego'}: " in out and "  total: " in out


def test_coverage_needs_the_default_engine(policies: Path, capsys) -> None:
    assert main(["test", str(policies), "--coverage", "--rego-engine", "regopy"]) == 2
    assert "--coverage: coverage needs --rego-engine regorus" in capsys.readouterr().err
