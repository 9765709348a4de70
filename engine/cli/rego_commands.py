"""``arcpolicy test PATH``: run Rego unit tests and report them as ``opa test`` does (and coverage)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app, short_help
from engine.cli.output import console
from engine.errors import EXIT_FINDINGS
from engine.rego.coverage import coverage_json
from engine.rego.test_reporters import REPORTERS, pretty_report
from engine.rego.testing import run_tests


class TestEngineName(StrEnum):
    """``arcpolicy test --rego-engine``: keys of engine/rego/testing.py's TEST_RUNNERS."""

    __test__ = False

    regorus = "regorus"
    regopy = "regopy"


class ReportFormat(StrEnum):
    """Keys of engine/rego/test_reporters.py's REPORTERS (``text`` is ``pretty``, arcpolicy's usual name)."""

    pretty = "pretty"
    text = "text"
    json = "json"


@app.command("test", short_help=short_help("test"))
def test_command(
    paths: Annotated[list[Path], typer.Argument(help="Rego files or directories (test_* rules).")],
    coverage: Annotated[bool, typer.Option("--coverage", help="Report coverage instead, as opa test --coverage "
                                                              "does (JSON).")] = False,
    report_format: Annotated[ReportFormat, typer.Option("--format", help="pretty (or text), or json: opa test's "
                                                                         "formats.")] = ReportFormat.pretty,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Every test, its cases and what print() "
                                                                  "wrote.")] = False,
    exit_zero_on_skipped: Annotated[bool, typer.Option("--exit-zero-on-skipped", "-z",
                                                       help="Skipped (todo_test_) tests do not fail the run.")
                                    ] = False,
    run: Annotated[str | None, typer.Option("--run", "-r", metavar="REGEX",
                                                    help="Only the tests whose full name matches this regular "
                                                         "expression.")] = None,
    rego_engine: Annotated[TestEngineName, typer.Option("--rego-engine", help="regorus (default) or regopy.")
                           ] = TestEngineName.regorus,
) -> None:
    """Run Rego unit tests as `opa test` does; exit 1 when a test fails, errs or is skipped (see -z)."""
    outcome = run_tests(paths, rego_engine.value, coverage, run)
    if not outcome.results:  # exit 1 as for a failure: a CI job that runs no test should not pass unnoticed
        console.print("no tests found: a test is a test_* rule", markup=False)
        raise typer.Exit(EXIT_FINDINGS)
    passed = all(result.outcome == "PASS" or (result.outcome == "SKIPPED" and exit_zero_on_skipped)
                 for result in outcome.results)
    if outcome.coverage is not None and passed:
        typer.echo(json.dumps(coverage_json(outcome.coverage), indent=2))
    elif outcome.coverage is not None:  # as opa test --coverage: the failures instead of the report
        typer.echo(pretty_report(outcome.results), nl=False)
    else:
        reporter = REPORTERS["pretty" if report_format is ReportFormat.text else report_format.value]
        typer.echo(reporter(outcome.results, verbose), nl=False)
    if not passed:
        raise typer.Exit(EXIT_FINDINGS)
