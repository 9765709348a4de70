"""``arcpolicy test PATH``: run Rego unit tests and print pass/fail per test (and coverage)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app, short_help
from engine.cli.output import console
from engine.errors import EXIT_FINDINGS
from engine.rego.coverage import coverage_json, coverage_text
from engine.rego.testing import TestRun, run_tests


class TestEngineName(StrEnum):
    """``arcpolicy test --rego-engine``: keys of engine/rego/testing.py's TEST_RUNNERS."""

    __test__ = False

    regorus = "regorus"
    regopy = "regopy"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


@app.command("test", short_help=short_help("test"))
def test_command(
    paths: Annotated[list[Path], typer.Argument(help="Rego files or directories (test_* rules in *_test.rego).")],
    coverage: Annotated[bool, typer.Option("--coverage", help="Also report which lines of each file the tests "
                                                              "evaluated (as opa test --coverage).")] = False,
    report_format: Annotated[ReportFormat, typer.Option("--format", help="text, or json (tests, prints and "
                                                                         "coverage in one document).")
                             ] = ReportFormat.text,
    rego_engine: Annotated[TestEngineName, typer.Option("--rego-engine", help="regorus (default) or regopy.")
                           ] = TestEngineName.regorus,
) -> None:
    """Run Rego unit tests as `opa test` does; exit 1 when any test fails."""
    run = run_tests(paths, rego_engine.value, coverage)
    failed = sum(result.outcome != "PASS" for result in run.results)
    if report_format is ReportFormat.json:
        typer.echo(json.dumps(_json_report(run), indent=2))
    else:
        _print_text(run, failed)
    if not run.results:  # exit 1 as for a failure: a CI job that runs no test should not pass unnoticed
        console.print("no tests found: a test is a test_* rule in a *_test.rego file", markup=False)
    if failed or not run.results:
        raise typer.Exit(EXIT_FINDINGS)


def _print_text(run: TestRun, failed: int) -> None:
    for result in run.results:
        line = f"{result.name}: {result.outcome}"
        typer.echo(f"{line} ({result.detail})" if result.detail else line)
        for printed in result.prints:
            typer.echo(f"  print: {printed}")
    typer.echo("-" * 40)
    total = len(run.results)
    typer.echo(f"PASS: {total - failed}/{total}" + (f"\nFAIL: {failed}/{total}" if failed else ""))
    if run.coverage is not None:
        typer.echo("-" * 40)
        typer.echo("coverage:")
        for line in coverage_text(run.coverage):
            typer.echo(f"  {line}")


def _json_report(run: TestRun) -> dict[str, object]:
    tests = [{"file": result.file, "name": result.name, "outcome": result.outcome, "detail": result.detail,
              "prints": list(result.prints)} for result in run.results]
    report: dict[str, object] = {"tests": tests}
    if run.coverage is not None:
        report["coverage"] = coverage_json(run.coverage)
    return report
