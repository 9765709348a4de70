"""``arcpolicy test PATH``: run Rego unit tests and print pass/fail per test."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app
from engine.errors import EXIT_FINDINGS
from engine.rego.testing import run_tests


@app.command("test")
def test_command(
    paths: Annotated[list[Path], typer.Argument(help="Rego files or directories (test_* rules in *_test.rego).")],
) -> None:
    """Run Rego unit tests as `opa test` does; exit 1 when any test fails."""
    results = run_tests(paths)
    for result in results:
        line = f"{result.name}: {result.outcome}"
        typer.echo(f"{line} ({result.detail})" if result.detail else line)
    failed = sum(result.outcome != "PASS" for result in results)
    typer.echo("-" * 40)
    typer.echo(f"PASS: {len(results) - failed}/{len(results)}" + (f"\nFAIL: {failed}/{len(results)}" if failed else ""))
    if failed or not results:
        raise typer.Exit(EXIT_FINDINGS)
