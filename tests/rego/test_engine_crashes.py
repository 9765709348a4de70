"""regopy 1.5 crashes (SIGSEGV, abort) never take arcpolicy down (engine "regopy"): they are diagnostics, Error
records or ERROR test results, and everything else still runs. Every crash here is a real one of regopy; the
default engine, regorus, runs the same programs correctly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from azure_policy.builders import cluster, write_json

from engine.cli.main import main
from engine.inventory import ClusterInventory
from engine.rego import RegoLibrary
from engine.rego.bundle import ScanBundle
from engine.rego.engines import IsolatedEngine
from engine.rego.modules import read_module
from policies import LIBRARY

POLICY = ('package demo\n\nviolation contains msg if {\n\tsome e in input.extensions\n'
          '\tlower(e.properties.extensionType) == "microsoft.flux"\n\tmsg := concat("", ["ext ", e.name])\n}\n')
FLUX = '{"name": "f", "properties": {"extensionType": "Microsoft.Flux"}}'
# regopy 1.5 segfaults compiling this file: `with input as {...}` over a rule calling built-ins
CRASHING_TESTS = (f'package demo_test\n\nimport data.demo\n\ntest_whole_input if {{\n'
                  f'\tcount(demo.violation) == 1 with input as {{"extensions": [{FLUX}]}}\n}}\n\n'
                  f'test_part if {{\n\tcount(demo.violation) == 1 with input.extensions as [{FLUX}]\n}}\n')
OTHER_TESTS = 'package other_test\n\nimport data.demo\n\ntest_nothing_without_extensions if {\n' \
              '\tcount(demo.violation) == 0 with input.extensions as []\n}\n'
# regopy 1.5 aborts building a bundle with this policy (same shape as above, in a policy)
CRASHING_POLICY = ('package probe.whole_input\n\nviolation contains {"msg": name} if {\n'
                   '\tsome name in names with input as {"extensions": [{"name": "X"}]}\n}\n\n'
                   'names contains lower(e.name) if {\n\tsome e in input.extensions\n}\n')
ALWAYS = 'package probe.always\n\nviolation contains {"msg": "always"} if true\n'
# a call nobody defines: regopy compiles it and crashes when a bundle using `with` evaluates it
UNDEFINED_CALL = 'package probe.typo\n\nviolation contains {"msg": "x"} if {\n\tlowr(input.resource.name) == "a"\n}\n'


def test_a_test_that_crashes_regopy_is_an_error_and_the_other_tests_still_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "demo.rego").write_text(POLICY)
    (tmp_path / "demo_test.rego").write_text(CRASHING_TESTS)
    (tmp_path / "other_test.rego").write_text(OTHER_TESTS)
    assert main(["test", "-v", str(tmp_path), "--rego-engine", "regopy"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^data\.demo_test\.test_whole_input: ERROR \(.+\)\n  the Rego engine crashed: signal 11 \(SIGSEGV\)$",
                     out, re.MULTILINE)
    assert re.search(r"^data\.demo_test\.test_part: PASS ", out, re.MULTILINE)  # same file, run alone after the crash
    assert re.search(r"^data\.other_test\.test_nothing_without_extensions: PASS ", out, re.MULTILINE)
    assert "PASS: 2/3\nERROR: 1/3\n" in out


def test_the_tests_that_crash_regopy_pass_on_the_default_engine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "demo.rego").write_text(POLICY)
    (tmp_path / "demo_test.rego").write_text(CRASHING_TESTS)
    (tmp_path / "other_test.rego").write_text(OTHER_TESTS)
    assert main(["test", "-v", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "data.demo_test.test_whole_input: PASS" in out and "data.demo_test.test_part: PASS" in out
    assert "PASS: 3/3" in out


def test_a_missing_import_in_the_test_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    flux = LIBRARY / "rego" / "flux_auto_upgrade.rego"
    assert main(["test", str(flux), str(LIBRARY / "rego" / "flux_auto_upgrade_test.rego")]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line == (f"arcpolicy: error: {flux}: line 10: import data.arcpolicy.lib.extensions: no loaded Rego "
                    "file has this package (is its file missing from the paths given?)")


def test_a_missing_import_in_a_scan_skips_that_policy_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "always.rego").write_text(ALWAYS)
    fleet = write_json(tmp_path / "fleet.json", [cluster("a1")])
    out = tmp_path / "states.json"
    flux = LIBRARY / "rego" / "flux_auto_upgrade.rego"
    status = main(["scan", "-i", str(fleet), "-p", str(flux), "-p", str(tmp_path / "always.rego"),
                   "--format", "json", "-o", str(out)])
    assert status == 1
    skipped = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped:")]
    assert skipped == [f"skipped: {flux}:10: import data.arcpolicy.lib.extensions: no loaded Rego file has this "
                       "package (is its file missing from the paths given?) (policy skipped)"]
    [record] = json.loads(out.read_text())["value"]
    assert record["policyDefinitionName"] == "probe.always"


def test_an_undefined_function_is_a_compile_diagnostic(write_policy) -> None:
    directory = write_policy("typo.rego", UNDEFINED_CALL)
    write_policy("always.rego", ALWAYS)
    library = RegoLibrary.load([directory])
    assert [policy.package for policy in library.policies] == ["probe.always"]
    [problem] = library.diagnostics
    assert (Path(problem.file).name, problem.line) == ("typo.rego", 4)
    assert problem.message.startswith("undefined function lowr")


def test_a_policy_that_crashes_the_compiler_is_skipped_and_the_scan_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "whole_input.rego").write_text(CRASHING_POLICY)
    (tmp_path / "policies" / "always.rego").write_text(ALWAYS)
    fleet = write_json(tmp_path / "fleet.json", [cluster("a1")])
    out = tmp_path / "states.json"
    assert main(["scan", "-i", str(fleet), "-p", str(tmp_path / "policies"), "--format", "json", "-o", str(out),
                 "--rego-engine", "regopy"]) == 1
    err = capsys.readouterr().err
    assert f"skipped: {tmp_path / 'policies' / 'whole_input.rego'}:1: the Rego engine crashed compiling this file: signal" in err
    assert "terminate called" not in err
    [record] = json.loads(out.read_text())["value"]
    assert record["policyDefinitionName"] == "probe.always"


def test_the_policy_that_crashes_regopy_is_evaluated_by_the_default_engine(tmp_path: Path) -> None:
    (tmp_path / "whole_input.rego").write_text(CRASHING_POLICY)
    library = RegoLibrary.load([tmp_path])
    assert library.diagnostics == []
    verdict = library.evaluate(ClusterInventory(resource=cluster("a1")))["probe.whole_input"]
    assert [violation.msg for violation in verdict.violations] == ["x"]  # the `with`-replaced input's extension


def test_a_crash_while_evaluating_makes_error_verdicts_and_the_engine_answers_again(write_policy) -> None:
    """The static checks keep such a program out of a library, so the bundle is built here by hand.

    regopy crashes on every entry point of this program, so both policies get the crash as their Error.
    """
    directory = write_policy("typo.rego", UNDEFINED_CALL)
    write_policy("always.rego", ALWAYS)
    modules = (read_module(directory / "typo.rego"), read_module(directory / "always.rego"))
    bundle = ScanBundle(modules, ("probe.typo", "probe.always"), frozenset())
    library = RegoLibrary([], [], bundle, IsolatedEngine(bundle))
    owner = ClusterInventory(resource=cluster("a1"))
    for _ in range(2):  # a fresh child answers after each crash
        verdicts = library.evaluate(owner)
        assert {package: verdict.error for package, verdict in verdicts.items()} == {
            "probe.typo": "the Rego engine crashed: signal 11 (SIGSEGV)",
            "probe.always": "the Rego engine crashed: signal 11 (SIGSEGV)"}


@pytest.mark.parametrize(("engine", "message"), [
    ("regorus", "`if` keyword is required before rule body"),
    ("regopy", "rule violation: Rego v1 needs `if` before a rule body")])
def test_rego_v0_rule_bodies_are_compile_diagnostics(write_policy, engine: str, message: str) -> None:
    """regopy accepts `allow {` without `if`; OPA 1.x does not, so arcpolicy does not either (on any engine)."""
    directory = write_policy("v0.rego", 'package probe.v0\n\nviolation[msg] {\n\tmsg := "x"\n}\n')
    library = RegoLibrary.load([directory], engine=engine)
    assert library.policies == []
    [problem] = library.diagnostics
    assert (Path(problem.file).name, problem.line) == ("v0.rego", 3)
    assert problem.message.startswith(message)
