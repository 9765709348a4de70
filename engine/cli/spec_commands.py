"""``arcpolicy spec DIR``: run a policy repository's Gherkin specs with the arcpolicy step library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app, short_help
from engine.spec.runner import require_spec_dependencies, run_specs


@app.command("spec", short_help=short_help("spec"),
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def spec_command(
    context: typer.Context,
    directory: Annotated[Path | None, typer.Argument(
        help="Directory of .feature files (searched recursively), or one file.")] = None,
    keyword: Annotated[str | None, typer.Option("-k", help="Only scenarios whose name matches this expression.")] = None,
    list_steps: Annotated[bool, typer.Option("--steps", help="List every step of the library and exit.")] = False,
) -> int:
    """Run the .feature files in DIR with the step library; exit 1 when a scenario fails.

    Extra arguments after -- go to pytest (e.g. -- -x --tb=long).
    """
    if list_steps:
        require_spec_dependencies()
        from engine.spec.steps import catalog

        for kind, sentence, doc in catalog():
            summary = " ".join(doc.split())
            sys.stdout.write(f"{kind} {sentence}\n" + (f"    {summary}\n" if summary else ""))
        return 0
    if directory is None:
        raise typer.BadParameter("give a directory of .feature files (or --steps)", param_hint="DIR")
    extra = list(context.args)
    if keyword:
        extra = ["-k", keyword, *extra]
    status, report = run_specs(directory, extra)
    sys.stdout.write(report)
    sys.stdout.flush()
    return status
