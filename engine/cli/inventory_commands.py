"""``arcpolicy inventory`` and ``arcpolicy sandbox generate``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from engine.cli.app import app, sandbox_app, short_help
from engine.cli.connection_options import FleetSource, fleet_source_options, saved
from engine.cli.output import console, warn, write_renderable, write_text
from engine.inventory import FleetSummary
from engine.inventory.generator import write_generated_fleet
from engine.inventory.snapshot import SnapshotWriter
from engine.inventory.stream import ReadOrder
from engine.output.plain_text import text_row


class SummaryFormat(StrEnum):
    table = "table"
    json = "json"


@app.command("inventory", short_help=short_help("inventory"))
@fleet_source_options
def inventory_command(
    source: FleetSource,
    output_format: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Read the fleet and summarise it: clusters, extensions and counts by kind."""
    summary = summarize_fleet(source)
    if output_format is SummaryFormat.json:
        write_text(json.dumps(summary.model_dump(by_alias=True), indent=2), output)
        return
    table = Table(title=f"Fleet: {summary.clusters} clusters", show_header=True)
    table.add_column("what")
    table.add_column("value", justify="left")
    table.add_column("count", justify="right")
    table.add_row("extensions", "", str(summary.extensions))
    table.add_row("flux configurations", "", str(summary.flux_configurations))
    table.add_row("subscriptions", "", str(summary.subscriptions))
    if summary.orphaned_resources:
        table.add_row("orphaned (cluster missing)", "", str(summary.orphaned_resources))
    for title, counts in (("cluster type", summary.by_cluster_type), ("distribution", summary.by_distribution),
                          ("connectivity", summary.by_connectivity), ("extension type", summary.by_extension_type),
                          ("extension state", summary.by_extension_state)):
        for value, count in counts.items():
            text_row(table, title, value, count)
    write_renderable(table, output)


def summarize_fleet(source: FleetSource) -> FleetSummary:
    """The fleet's counts, read a partition at a time (memory holds one partition, not the fleet); ``--save``
    writes the fleet in the order it was read. What reading found worth saying is printed (stderr)."""
    fleet = source.stream()
    if source.save is None:
        for _ in fleet.partitions():
            pass
    else:
        order = ReadOrder()
        with order, SnapshotWriter(source.save, saved=True) as snapshot:
            for partition in fleet.partitions():
                order.add(partition)
            for members in order:
                for member in members:
                    snapshot.add(orjson.loads(member))  # written as read, or in orjson's compact form
        saved(snapshot.count, source.save)
    for warning in fleet.warnings:
        warn(f"warning: {warning}")
    return fleet.summary()


@sandbox_app.command("generate", short_help="Write a realistic, deterministic fleet.")
def generate_command(
    clusters: Annotated[int, typer.Option("--clusters", "-n", min=1, help="Number of clusters.")] = 100,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed; same seed, same fleet.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="Snapshot file to write (.json or .ndjson).")] = Path(
        "fleet.json"),
) -> None:
    """Write a realistic, deterministic fleet of clusters and extensions."""
    count = write_generated_fleet(output, clusters, seed)
    console.print(f"wrote {count} resources ({clusters} clusters) to {output}")
