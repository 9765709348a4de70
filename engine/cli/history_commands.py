"""``arcpolicy history``, ``diff`` and ``trend``: read the scan history store."""

from __future__ import annotations

import json
import webbrowser
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from engine.atomic import atomic_writer
from engine.cli.app import app, short_help
from engine.cli.output import console, write_renderable, write_text
from engine.config import parse_duration
from engine.errors import EXIT_FINDINGS
from engine.history import HistoryStore, build_trend, diff_scans, overall_svg, render_trend_html, trend_json
from engine.history.diff import ScanDiff
from engine.output.plain_text import id_column, text_row
from engine.output.summary import short_resource_name

StoreOption = Annotated[str, typer.Option("--store", help="History store: SQLite file or SQLAlchemy URL.",
                                          envvar="ARCPOLICY_STORE")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")]


class ListFormat(StrEnum):
    table = "table"
    json = "json"


@app.command("history", short_help=short_help("history"))
def history_command(
    store: StoreOption,
    output_format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
    last: Annotated[int | None, typer.Option("--last", "-n", "--limit", min=1, help="Only the newest N scans "
                                                                                 "(as trend --last).")] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="First delete scans older than this (e.g. 90d).")] = None,
    output: Output = None,
) -> None:
    """List stored scans, newest first (JSON: {"value": [...]})."""
    keep_for = parse_duration(keep, "--keep") if keep is not None else None  # checked before opening
    with HistoryStore(store, create=False) as history:
        if keep_for is not None:
            removed = history.prune(keep_for)
            console.print(f"pruned {len(removed)} scans older than {keep}")
        scans = history.scans(last)
        stored = history.count_scans() if last is not None and len(scans) == last else len(scans)
    if output_format is ListFormat.json:
        write_text(json.dumps({"value": [scan.model_dump(by_alias=True, mode="json") for scan in scans]},
                              indent=2), output)
        return
    shown = f"{len(scans)} of {stored} scans" if stored > len(scans) else f"{len(scans)} scans"
    table = Table(title=f"{shown} in {history.shown_url}")
    id_column(table, "scan", (scan.scan_id for scan in scans))  # diff needs it whole
    for column in ("started", "duration", "resource compliance", "non-compliant resources", "policy states "
                   "compliant", "non-compliant", "error", "total", "policy set", "inventory"):
        table.add_column(column, overflow="fold")
    for scan in scans:
        resources = scan.resource_counts
        figures = [f"{resources.percentage}%" if resources else "-",
                   f"{resources.non_compliant_resources} of {resources.resources}" if resources else "-",
                   f"{scan.compliance_percentage}%", scan.non_compliant, scan.error, scan.total]
        if not scan.complete:  # never the figures of part of a fleet as if they were the fleet's
            figures = [f"incomplete: {scan.shards_recorded} of {scan.shard_count} shards", *["-"] * 5]
        text_row(table, scan.scan_id, scan.started_at.isoformat(timespec="seconds"), f"{scan.duration_seconds:.1f}s",
                 *figures, scan.policy_fingerprint[:12], scan.inventory_source)
    write_renderable(table, output)


@app.command("diff", short_help=short_help("diff"))
def diff_command(
    before: Annotated[str, typer.Argument(help="Earlier scan: id, unique prefix, latest or latest~N.")],
    after: Annotated[str, typer.Argument(help="Later scan.")],
    store: StoreOption,
    output_format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
    output: Output = None,
) -> int:
    """What changed between two scans; exit 1 when something became non-compliant."""
    with HistoryStore(store, create=False) as history:
        diff = diff_scans(history, before, after)
    if output_format is ListFormat.json:
        write_text(json.dumps(diff.to_json(), indent=2), output)
    elif diff.is_empty:
        write_text(f"no changes between {diff.before_scan_id} and {diff.after_scan_id}", output)
    else:
        write_renderable(diff_table(diff), output)
    return EXIT_FINDINGS if diff.newly_non_compliant else 0


def diff_table(diff: ScanDiff) -> Table:
    """The changes with short resource names (cluster, cluster/extension); ``--format json`` has the full ids."""
    rows = [("newly non-compliant", change.policy, change.resource_id, "; ".join(change.reasons))
            for change in diff.newly_non_compliant]
    rows += [("fixed", change.policy, change.resource_id, change.after.value) for change in diff.fixed]
    rows += [("new resource", "", resource, "") for resource in diff.new_resources]
    rows += [("gone resource", "", resource, "") for resource in diff.gone_resources]
    table = Table(title=f"{diff.before_scan_id} -> {diff.after_scan_id}",
                  caption="resources by name; full resource ids: --format json")
    table.add_column("change", no_wrap=True)
    table.add_column("policy", overflow="fold")
    id_column(table, "resource", (short_resource_name(row[2]) for row in rows))
    table.add_column("detail", overflow="fold")
    for change, policy, resource_id, detail in rows:
        text_row(table, change, policy, short_resource_name(resource_id), detail)
    return table


class TrendFormat(StrEnum):
    html = "html"
    json = "json"


@app.command("trend", short_help=short_help("trend"))
def trend_command(
    store: StoreOption,
    output_format: Annotated[TrendFormat, typer.Option("--format", "-f", help="html (charts; -o defaults to "
                                                       "trend.html) or json (the series; stdout without "
                                                       "-o).")] = TrendFormat.html,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="Also write the overall chart as SVG.")] = None,
    last: Annotated[int | None, typer.Option("--last", "-n", min=1, help="Only the newest N scans "
                                                                      "(as history --last).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the report in a browser.")] = False,
) -> None:
    """Compliance over time per policy and per subscription: HTML with charts, SVG for embedding, or JSON."""
    with HistoryStore(store, create=False) as history:
        trend = build_trend(history, last)
    if output_format is TrendFormat.json:
        write_text(json.dumps(trend_json(trend), indent=2), output)
        if svg:
            with atomic_writer(svg) as out:
                out.write(overall_svg(trend))
        return
    output = output or Path("trend.html")
    documents = [(output, render_trend_html(trend))] + ([(svg, overall_svg(trend))] if svg else [])
    for path, text in documents:
        with atomic_writer(path) as out:
            out.write(text)
    console.print(f"wrote the trend of {len(trend.scans)} scans to {output}" + (f" and {svg}" if svg else ""))
    if open_browser:
        webbrowser.open(output.resolve().as_uri())
