"""``arcpolicy scan``: evaluate Azure Policy (and Rego) assignments over a fleet."""

from __future__ import annotations

import logging
import re
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli.app import app, short_help
from engine.cli.connection_options import (
    AttestationOption,
    FleetSource,
    ManagementGroupsOption,
    OpaUrlOption,
    RegoEngineName,
    RegoEngineOption,
    StrictAliasesOption,
    fleet_source_options,
    prepare_policies,
    saved,
)
from engine.cli.output import console, say, warn
from engine.config import ScanSettings, resolve_config
from engine.errors import EXIT_FINDINGS, EXIT_OK, InputError
from engine.evaluate import ScanResult
from engine.evaluate.streaming import StreamedScan, stream_scan
from engine.history.recording import ScanPublication, check_destinations, policy_set_fingerprint
from engine.inventory.shard import Shard
from engine.models.results import ComplianceState
from engine.output import FORMATS, OutputSpec, ScanMetadata, new_scan_id, parse_output_spec
from engine.output.plain_text import text_row
from engine.output.registry import get_format
from engine.output.summary import compliance_headline, log_scan_finished
from engine.structured_logging import current_scan_id, logging_configured, scan_context

log = logging.getLogger(__name__)


class FailOn(StrEnum):
    """Which records make ``scan`` exit 1."""

    non_compliant = "non-compliant"  # NonCompliant or Error records
    error = "error"  # only records that could not be evaluated
    never = "never"


FAILING_STATES = {FailOn.non_compliant: (ComplianceState.NON_COMPLIANT, ComplianceState.ERROR),
                  FailOn.error: (ComplianceState.ERROR,), FailOn.never: ()}


# Command-line options that override the --config file: parameter -> dotted config key.
CONFIG_KEYS = {"inventory": "scan.inventory", "subscription": "scan.subscriptions",
               "management_group": "scan.management_groups", "arm_endpoint": "scan.arm_endpoint",
               "ca_bundle": "scan.ca_bundle", "credential": "scan.credential", "policy": "scan.policies",
               "assignment": "scan.assignments", "exemption": "scan.exemptions",
               "attestation": "scan.attestations",
               "management_groups": "scan.management_group_map", "fail_on": "scan.fail_on", "workers": "scan.workers",
               "strict_aliases": "scan.strict_aliases", "rego_engine": "scan.rego_engine", "opa_url": "scan.opa_url",
               "expiry_warning": "scan.expiry_warning", "store": "store.url", "keep": "store.keep",
               "log_format": "logging.format"}


def config_keys(*parameters: str) -> dict[str, str]:
    """The :data:`CONFIG_KEYS` of ``parameters``: a command sharing some of scan's options overrides the same
    config keys with them."""
    return {parameter: CONFIG_KEYS[parameter] for parameter in parameters}


def given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` came from the command line or its environment variable, not its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def command_line_overrides(ctx: typer.Context, keys: dict[str, str]) -> dict[str, object]:
    """The options given on the command line (or by environment variable), as dotted config keys."""
    return {key: ctx.params[name] for name, key in keys.items() if given(ctx, name)}


def configured_source(ctx: typer.Context, config_file: Path | None, source: FleetSource,
                      settings: ScanSettings) -> tuple[FleetSource, ScanSettings]:
    """The fleet source after ``--config``: ``--resource-graph`` or ``--from-store`` on the command line drop
    the file's inventory; a config file without an inventory reads Resource Graph."""
    if (source.resource_graph or source.from_store is not None) and not given(ctx, "inventory"):
        settings = settings.model_copy(update={"inventory": None})
    return source.configured(settings, source.resource_graph or (
        config_file is not None and settings.inventory is None and source.from_store is None)), settings


def output_specs(ctx: typer.Context, outputs: list[str]) -> list[OutputSpec]:
    """``-o`` values; one plain ``-o FILE`` with an explicit ``--format`` keeps that format (as before -o repeated)."""
    if len(outputs) == 1 and given(ctx, "output_format") and outputs[0].partition(":")[0].lower() not in FORMATS:
        return [OutputSpec(format=ctx.params["output_format"], path=Path(outputs[0]))]
    return [parse_output_spec(text) for text in outputs]


@app.command("scan", short_help=short_help("scan"))
@fleet_source_options
def scan_command(
    ctx: typer.Context,
    *,
    policy: Annotated[list[Path] | None, typer.Option("--policy", "-p", help="Policy file or folder (.json, .rego; "
                                                                             "builtin: for the shipped library; "
                                                                             "repeatable; folders are read "
                                                                             "recursively). Required, unless "
                                                                             "--config gives scan.policies.")] = None,
    source: FleetSource,
    assignment: Annotated[list[Path] | None, typer.Option("--assignment", "-a", help="Assignment file (repeatable). "
                          "Without any, every definition is assigned at tenant scope with its defaults.")] = None,
    exemption: Annotated[list[Path] | None, typer.Option("--exemption", "-e", help="Exemption file "
                                                                                   "(repeatable).")] = None,
    attestation: AttestationOption = None,
    management_groups: ManagementGroupsOption = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="Format of the records on stdout (when no "
                                                                      "-o is given): json, table, csv, junit, "
                                                                      "policyreport, markdown, html.")] = "table",
    output: Annotated[list[str] | None, typer.Option("--output", "-o", help="Write records to FILE, the format "
                                                     "from its suffix, or FORMAT:FILE (repeatable).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on: non-compliant (and error) records, "
                                                              "error records only, or never.")] = FailOn.non_compliant,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: every core).")] = None,
    rego_engine: RegoEngineOption = RegoEngineName.regorus,
    opa_url: OpaUrlOption = None,
    strict_aliases: StrictAliasesOption = False,
    config_file: Annotated[Path | None, typer.Option("--config", help="arcpolicy.toml with the scan's settings; "
                                                     "command-line options override it.")] = None,
    store: Annotated[str | None, typer.Option("--store", envvar="ARCPOLICY_STORE", help="Record the scan in this "
                                              "history store (SQLite file or SQLAlchemy URL).")] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="Then delete stored scans older than this "
                                                            "(e.g. 90d).")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format", help="Log lines on stderr, each with the "
                                                   "scan id: text or json.")] = None,
    expiry_warning: Annotated[str | None, typer.Option("--expiry-warning", help="Warn about exemptions and "
                              "attestations expiring within this (default 14d; expired ones always).")] = None,
    shard: Annotated[str | None, typer.Option("--shard", metavar="I/N", help="Scan only shard I of N (0 to N-1): "
                     "the subscriptions whose stable hash falls to it; N alone takes I from JOB_COMPLETION_INDEX "
                     "(an Indexed Job's pod). With --store, recorded as part of the scan --scan-group names.")] = None,
    scan_group: Annotated[str | None, typer.Option("--scan-group", envvar="ARCPOLICY_SCAN_GROUP", metavar="ID",
                          help="With --shard: the id of the one scan the N shards make up, the same in each "
                               "(e.g. the Job's name).")] = None,
) -> int:
    """Evaluate policies over the fleet; records in Azure's policy-states shape, a summary on the terminal."""
    started = time.perf_counter()
    get_format(output_format)  # a bad --format is bad input before anything is scanned or written
    config = resolve_config(config_file, command_line_overrides(ctx, CONFIG_KEYS)
                            | ({"outputs": [spec.model_dump() for spec in output_specs(ctx, output)]} if output else {}))
    if not config.scan.policies:
        raise InputError("--policy", "give --policy PATH (repeatable), or scan.policies in the --config file")
    source, settings = configured_source(ctx, config_file, source, config.scan)
    source = source.resolved()
    policy, assignment, exemption = settings.policies, settings.assignments, settings.exemptions
    management_groups = settings.management_group_map
    fail_on, workers = FailOn(settings.fail_on), settings.workers
    fleet_shard = Shard.parse(shard) if shard is not None else None
    scan_id = scan_group_id(scan_group, fleet_shard, config.store.url) or current_scan_id.get() or new_scan_id()
    ctx.with_resource(scan_context(scan_id))
    if config_file is not None or log_format is not None:
        ctx.with_resource(logging_configured(config.logging.format, config.logging.level))
    log.info("scan started", extra={"inventory": source.inventory_source}
             | ({"shard": str(fleet_shard)} if fleet_shard is not None else {}))
    request = prepare_policies(policy, assignment, exemption, settings.attestations, management_groups,
                               settings.rego_engine, settings.opa_url, settings.strict_aliases,
                               settings.expiry_warning)
    fleet = source.stream(defer_lines=True, shard=fleet_shard)
    check_destinations(config, source.inventory, source.save)
    metadata = ScanMetadata(started_at=request.timestamp, inventory_source=source.inventory_source, scan_id=scan_id,
                            policy_fingerprint=policy_set_fingerprint(policy, request))
    # the records on stdout in --format (table by default, capped per policy) unless they go to files
    stdout_format = output_format if not config.outputs else None
    with ScanPublication(config, metadata, request, stdout_format, source.save, fleet_shard) as publication:
        with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("scan", total=fleet.cluster_resources)
            result = stream_scan(fleet, request, publication.sinks, workers,
                                 lambda done, total: progress.update(task, completed=done),
                                 publication.partition_seen)
        metadata.duration_seconds = round(time.perf_counter() - started, 3)
        metadata.not_evaluated = not_evaluated_notes(result)
        print_notes([], fleet.warnings, [])  # a resource id read twice: known once the fleet was read through
        print_notes(result.skipped, result.warnings, metadata.not_evaluated)
        console.print(summary_table(result))
        if result.records:
            say(compliance_headline(result.state_counts, result.resources))
        for line in applicability_notes(result):
            say(line)
        published = publication.finish()
    if source.save is not None:
        saved(publication.saved, source.save)
    if published.files or published.store:
        say(published.describe())
    log_scan_finished(log, result.clusters, result.state_counts, result.resources, metadata.duration_seconds)
    return EXIT_FINDINGS if result.has_state(*FAILING_STATES[fail_on]) else EXIT_OK


SCAN_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def scan_group_id(scan_group: str | None, shard: Shard | None, store: str | None) -> str | None:
    """The id a shard records under: ``--scan-group`` (needed with ``--store``: the shards of one scan must agree
    on it, and only the caller knows which run they belong to)."""
    if scan_group is not None and shard is None:
        raise InputError("--scan-group", "only with --shard I/N (the shards of one scan share it)", value=scan_group)
    if shard is not None and store is not None and scan_group is None:
        raise InputError("--scan-group", "give the id the shards of this scan share (--scan-group ID or "
                                         "ARCPOLICY_SCAN_GROUP, e.g. the Job's name) to record a shard")
    if scan_group is not None and not SCAN_GROUP.fullmatch(scan_group):
        raise InputError("--scan-group", "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                         value=scan_group)
    return scan_group


def print_notes(skipped: list[str], warnings: list[str], not_evaluated: list[str]) -> None:
    """What the scan did not evaluate, and what compiling found worth saying, one line each (stderr)."""
    for prefix, messages in (("skipped", skipped), ("warning", warnings), ("not evaluated", not_evaluated)):
        for message in messages:
            warn(f"{prefix}: {message}")


def not_evaluated_notes(result: ScanResult | StreamedScan) -> list[str]:
    """Each assigned definition (initiative member) arcpolicy left out, with its assignment and reason."""
    return [f"'{row.title}' (assignment {row.policy_assignment_name}): {row.not_evaluated}"
            for row in result.summary if row.not_evaluated]


def applicability_notes(result: StreamedScan) -> list[str]:
    """Policies that applied to no resource at all: a policy author's first hint that ``if`` (or Rego's
    ``applicable``) is wrong, which a "100% compliant" would hide."""
    idle = [row for row in result.summary if not row.applicable and not row.not_evaluated and not row.out_of_scope]
    if result.summary and len(idle) == len(result.summary):
        return [f"nothing was applicable: no resource of the {result.clusters} clusters matched any policy's "
                "'if' (or a Rego policy's 'applicable'), so nothing was evaluated for compliance"]
    return [f"nothing was applicable to '{row.title}' (assignment {row.policy_assignment_name}): no resource "
            "matched its 'if' (or 'applicable')" for row in idle]


SUMMARY_ROWS = 100  # policies the terminal table shows; the outputs have them all


def summary_table(result: StreamedScan) -> Table:
    """Per policy: compliant / non-compliant / exempt / error / not applicable; past :data:`SUMMARY_ROWS`
    policies (thousands of assignments), the first ones and a row counting the rest (a table of thousands of
    rows is no summary, and laying it out took seconds)."""
    table = Table(title=f"{result.clusters} clusters, {result.records} records, "
                        f"{result.evaluations} evaluations")
    table.add_column("policy")
    table.add_column("assignment", style="dim")
    for column in ("compliant", "non-compliant", "exempt", "error", "not applicable"):
        table.add_column(column, justify="right")
    for row in result.summary[:SUMMARY_ROWS]:
        counts = [row.compliant, row.non_compliant, row.exempt, row.error] if row.applicable else ["-"] * 4
        text_row(table, row.title, row.policy_assignment_name, *counts,
                 "not evaluated" if row.not_evaluated else "out of scope" if row.out_of_scope else row.not_applicable)
    if len(result.summary) > SUMMARY_ROWS:
        rest = result.summary[SUMMARY_ROWS:]
        table.add_row(f"... {len(rest)} more policies", "", *(str(sum(getattr(row, name) for row in rest)) for name in (
            "compliant", "non_compliant", "exempt", "error", "not_applicable")))
    return table
