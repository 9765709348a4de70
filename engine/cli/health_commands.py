"""``arcpolicy health``: a liveness probe for a resident ``arcpolicy schedule``, read from its health file
(engine/scheduler.py) so that the probe needs neither the store nor the scan's imports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.app import app, short_help
from engine.config import parse_duration
from engine.errors import EXIT_FINDINGS, EXIT_OK, InputError
from engine.jsonfiles import read_json
from engine.scheduler import liveness_problem


@app.command("health", short_help=short_help("health"))
def health_command(
    health_file: Annotated[Path, typer.Argument(help="The scheduler's health file (--health-file, "
                                                     "schedule.health_file).")],
    grace: Annotated[str, typer.Option("--grace", help="How long past its next run a waiting scheduler still "
                                                       "counts as alive.")] = "5m",
    max_run: Annotated[str | None, typer.Option("--max-run", help="How long a run may take before the scheduler "
                                                                  "counts as hung (default: no limit).")] = None,
) -> int:
    """Exit 0 while the scheduler is alive: waiting for a run not overdue by more than --grace, or running for no
    longer than --max-run; exit 1 with the reason otherwise (stopped, overdue, hung); exit 2 if the file cannot be
    read."""
    grace_period = parse_duration(grace, "--grace")
    longest_run = parse_duration(max_run, "--max-run") if max_run is not None else None
    health = read_json(health_file, "health file")
    if not isinstance(health, dict):
        raise InputError(str(health_file), "not a health file: expected a JSON object")
    try:
        problem = liveness_problem(health, datetime.now(UTC), grace_period, longest_run)
    except ValueError as error:
        raise InputError(str(health_file), f"not a health file: {error}") from None
    if problem is not None:
        typer.echo(f"not alive: {problem}", err=True)
        return EXIT_FINDINGS
    typer.echo(f"alive: {health['state']}")
    return EXIT_OK
