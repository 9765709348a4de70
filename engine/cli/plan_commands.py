"""``arcpolicy plan``: scan, then plan the remediation of everything non-compliant, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.atomic import check_distinct, check_writable, input_files, write_files
from engine.cli.app import app, short_help
from engine.cli.connection_options import (
    AttestationOption,
    ConfigOption,
    FleetSource,
    ManagementGroupsOption,
    OpaUrlOption,
    RegoEngineName,
    RegoEngineOption,
    StrictAliasesOption,
    fleet_source_options,
    prepare_policies,
)
from engine.cli.output import console, say
from engine.cli.scan_commands import (
    CONFIG_KEYS,
    command_line_overrides,
    configured_source,
    not_evaluated_notes,
    print_notes,
)
from engine.cli.stage_progress import StageDisplay
from engine.config import resolve_config
from engine.errors import InputError
from engine.evaluate import run_scan
from remediation.plan.builder import PlanOptions
from remediation.plan.facts import load_facts
from remediation.plan.from_scan import plan_from_scan
from remediation.plan.io import plan_json
from remediation.plan.models import Action, Plan, count_changes
from remediation.plan.waves import RolloutOptions
from remediation.report import render_html, render_markdown
from remediation.report.render import shown_value as report_value

# Command-line options that override the --config file (the scheduled scan's settings): parameter -> config key.
PLAN_CONFIG_KEYS = {name: key for name, key in CONFIG_KEYS.items() if key.startswith("scan.")} | {"facts": "scan.facts"}


@app.command("plan", short_help=short_help("plan"))
@fleet_source_options
def plan_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="plan.json to write.")],
    source: FleetSource,
    policy: Annotated[list[Path] | None, typer.Option("--policy", "-p", help="Policy file or folder (.json, .rego; "
                                                      "builtin: for the shipped library; repeatable; folders are "
                                                      "read recursively).")] = None,
    assignment: Annotated[list[Path] | None, typer.Option("--assignment", "-a", help="Assignment file (repeatable).")] = None,
    exemption: Annotated[list[Path] | None, typer.Option("--exemption", "-e", help="Exemption file (repeatable).")] = None,
    attestation: AttestationOption = None,
    management_groups: ManagementGroupsOption = None,
    facts: Annotated[Path | None, typer.Option("--facts", help="JSON: cluster id -> {\"nodeArchitectures\": [...]}.")] = None,
    include_disconnected: Annotated[bool, typer.Option(
        "--include-disconnected", help="Plan protected settings for disconnected clusters too (kept 48 h).")] = False,
    canary: Annotated[int, typer.Option("--canary", min=0, help="Clusters in the canary wave.")] = 1,
    canary_percent: Annotated[float | None, typer.Option("--canary-percent", min=0, max=100,
                                                         help="Canary wave as a share of clusters.")] = None,
    writes_per_wave: Annotated[int, typer.Option("--writes-per-subscription", min=1,
                                                 help="Most writes per subscription in one wave.")] = 200,
    report: Annotated[Path | None, typer.Option("--report", help="Also write the HTML dry-run report.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Also write the Markdown report.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Scan processes (default: cores).")] = None,
    export: Annotated[tuple[str, Path] | None, typer.Option(
        "--export", metavar="FORMAT DIR", help="Also export the plan (arm or terraform) to DIR.")] = None,
    rego_engine: RegoEngineOption = RegoEngineName.regorus,
    opa_url: OpaUrlOption = None,
    strict_aliases: StrictAliasesOption = False,
    config_file: ConfigOption = None,
) -> None:
    """Work out every ARM write that remediates the fleet, ordered and waved, without writing any."""
    settings = resolve_config(config_file, command_line_overrides(ctx, PLAN_CONFIG_KEYS)).scan
    if not settings.policies:
        raise InputError("--policy", "give --policy PATH (repeatable), or scan.policies in the --config file")
    source, settings = configured_source(ctx, config_file, source, settings)
    check_distinct([(output, "--output"), (report, "--report"), (markdown, "--markdown"), (source.save, "--save")],
                   [(source.inventory, "--inventory"), (settings.facts, "--facts"),
                    (settings.management_group_map, "--management-groups"),
                    *input_files(settings.policies, settings.assignments, settings.exemptions, settings.attestations)])
    for path, option in ((output, "--output"), (report, "--report"), (markdown, "--markdown")):
        if path is not None:
            check_writable(path, option)  # before any work: no plan is computed for nowhere to go
    if export is not None:
        check_export(*export)
    options = PlanOptions(node_architectures=load_facts(settings.facts) if settings.facts else {},
                          include_disconnected=include_disconnected,
                          rollout=RolloutOptions(canary, canary_percent, writes_per_wave))
    request = prepare_policies(settings.policies, settings.assignments, settings.exemptions, settings.attestations,
                               settings.management_group_map, settings.rego_engine, settings.opa_url,
                               settings.strict_aliases)
    workers = settings.workers
    source = source.resolved()
    fleet = source.load()  # after the policies: bad input is refused before --save writes anything
    with StageDisplay(console) as progress:
        progress("scan", 0, len(fleet))
        result = run_scan(fleet, request, workers, lambda done, total: progress("scan", done, total))
        print_notes(result.skipped, result.warnings, not_evaluated_notes(result))
        plan = plan_from_scan(fleet, request, result, options, inventory_source=source.inventory_source,
                              progress=progress)
        html = render_html(plan) if report else None
        text = render_markdown(plan) if markdown else None
        files = [(output, plan_json(plan)), *((path, content) for path, content in ((report, html), (markdown, text))
                                              if path and content)]
        progress("writing", 0, len(files))
        write_files(files, lambda done: progress("writing", done, len(files)))  # all or none
    lines = plan_summary_lines(plan, output)
    if export is not None:
        from engine.cli.export_commands import export_summary
        from remediation.export import export_plan

        lines.append(export_summary(export_plan(plan, export[0], export[1], fleet.resources()), export[0]))
    for line in lines:
        say(line)


def check_export(format_name: str, directory: Path) -> None:
    """``--export``'s format and folder, before any work."""
    from remediation.export import FORMATS, check_target

    if format_name not in FORMATS:
        raise InputError("--export", f"FORMAT must be one of {', '.join(FORMATS)}", value=format_name)
    check_target(directory)


TERMINAL_CHANGES = 5  # distinct changes the terminal lists (the reports and plan.json have them all)
VALUE_WIDTH = 60  # characters of a before or after value the terminal shows


def shown_value(value: object) -> str:
    """A before or after value as the reports write it (:func:`remediation.report.render.shown_value`), cut to a
    line's share."""
    text = report_value(value)
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 1] + "…"


def plan_summary_lines(plan: Plan, output: Path) -> list[str]:
    """The terminal's summary: counts by status, then by action and resource type (deletes first, marked),
    the changes updates make most often (before -> after), and what the canary covers."""
    summary = plan.summary
    statuses = ", ".join(f"{count} {status}" for status, count in summary.by_status.items())
    lines = [f"plan: {summary.operations} operations ({statuses}), {summary.conflicts} conflicts, "
             f"{summary.waves} waves -> {output}"]
    for kind in summary.by_kind:
        action = "DELETE" if kind.action is Action.DELETE else kind.action.value
        detail = ", ".join(f"{status} {count}" for status, count in kind.by_status.items())
        lines.append(f"  {action:<7} {kind.resource_type}: {kind.operations} ({detail})")
    changes = count_changes(plan.operations)
    if changes:
        lines.append("  updates change (before -> after, operations):")
        lines.extend(f"    {change.resource_type.rsplit('/', 1)[-1]} {change.path}: {shown_value(change.before)} -> "
                     f"{shown_value(change.after)} ({change.operations})" for change in changes[:TERMINAL_CHANGES])
        if len(changes) > TERMINAL_CHANGES:
            lines.append(f"    and {len(changes) - TERMINAL_CHANGES} more distinct changes (plan.json, "
                         "--markdown, --report)")
    if plan.canary is not None:
        canary = plan.canary
        kinds_in = sum(1 for kind in canary.kinds if kind.in_canary)
        spread_in = sum(1 for value in canary.spread if value.in_canary)
        extra = f" (+{len(canary.prerequisite_clusters)} for shared prerequisites)" if canary.prerequisite_clusters \
            else ""
        count = len(canary.clusters)
        lines.append(f"canary: {count} cluster{'s' if count != 1 else ''}{extra}, {canary.operations} operations: "
                     f"{kinds_in} of {len(canary.kinds)} kinds of write (assignment, action, resource type), "
                     f"{spread_in} of {len(canary.spread)} spread values, {canary.shared_prerequisites} shared "
                     "prerequisites")
        lines.extend(f"  {note}" for note in canary.notes)
    return lines
