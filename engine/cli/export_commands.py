"""``arcpolicy export``: a reviewed plan as ARM deployments or Terraform (remediation.export)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.cli.app import app, short_help
from engine.cli.output import say
from engine.errors import InputError
from remediation.export import FORMATS, ExportResult, export_plan
from remediation.plan.io import read_plan

if TYPE_CHECKING:
    from engine.inventory import Fleet


def export_summary(result: ExportResult, format_name: str) -> str:
    return (f"export: {format_name}, {result.files} files, {result.bytes:,} bytes, {result.steps} steps -> "
            f"{result.directory} (its README.md says the order and what is not exported)")


def inventory_of(inventory: Path | None, inventory_source: str | None, plan_file: Path) -> Fleet | None:
    """The inventory the plan was made from: ``--inventory``, else the plan's own file source when it exists."""
    from engine.inventory import load_snapshot

    candidate = inventory
    if candidate is None and inventory_source:
        source = Path(inventory_source)
        candidate = source if source.is_absolute() or source.exists() else plan_file.parent / source
        if not candidate.is_file():
            return None
    return None if candidate is None else load_snapshot(candidate)


@app.command("export", short_help=short_help("export"))
def export_command(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="plan.json (reviewed) to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write (must not exist or be empty).")],
    format_name: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "arm",
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", "-i", help="Inventory the plan was made from (default: the plan's inventorySource file): "
                                  "updates are written whole.")] = None,
) -> None:
    """Write a reviewed plan as ARM deployment templates or Terraform, with the order and what is not exported."""
    if format_name not in FORMATS:
        raise InputError("--format", f"must be one of {', '.join(FORMATS)}", value=format_name)
    plan = read_plan(plan_file)
    fleet = inventory_of(inventory, plan.inventory_source, plan_file)
    if fleet is not None and fleet.fingerprint() != plan.inventory_fingerprint:
        raise InputError(str(inventory or plan.inventory_source), "is not the inventory the plan was made from "
                         f"(fingerprint {fleet.fingerprint()}, the plan's {plan.inventory_fingerprint})")
    result = export_plan(plan, format_name, output, None if fleet is None else fleet.resources())
    say(export_summary(result, format_name))
