"""``arcpolicy scan``: evaluate Azure Policy (and Rego) assignments over a fleet."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.azure import CredentialKind
from engine.azure.connection import AZURE_RESOURCE_MANAGER
from engine.cli.app import app
from engine.cli.connection_options import (
    ArmEndpointOption,
    CaBundleOption,
    CredentialOption,
    InventoryFile,
    ManagementGroupOption,
    ResourceGraphFlag,
    SaveOption,
    SubscriptionOption,
    arm_connection,
    load_fleet,
)
from engine.cli.output import console, write_text
from engine.errors import EXIT_FINDINGS, EXIT_OK
from engine.evaluate import ScanResult, load_management_groups, prepare_scan, run_scan
from engine.models.results import ComplianceState
from engine.output import ScanMetadata, render


class FailOn(StrEnum):
    """Which records make ``scan`` exit 1."""

    non_compliant = "non-compliant"  # NonCompliant or Error records
    error = "error"  # only records that could not be evaluated
    never = "never"


FAILING_STATES = {FailOn.non_compliant: (ComplianceState.NON_COMPLIANT, ComplianceState.ERROR),
                  FailOn.error: (ComplianceState.ERROR,), FailOn.never: ()}


@app.command("scan")
def scan_command(
    policy: Annotated[list[Path], typer.Option("--policy", "-p", help="Policy file or folder (.json, .rego; "
                                                                      "repeatable; folders are read recursively).")],
    inventory: InventoryFile = None,
    assignment: Annotated[list[Path] | None, typer.Option("--assignment", "-a", help="Assignment file (repeatable). "
                          "Without any, every definition is assigned at tenant scope with its defaults.")] = None,
    exemption: Annotated[list[Path] | None, typer.Option("--exemption", "-e", help="Exemption file "
                                                                                   "(repeatable).")] = None,
    management_groups: Annotated[Path | None, typer.Option(
        "--management-groups", help="JSON map {subscriptionId: [managementGroup, ...]} for management-group "
                                    "scopes.")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="json, table, csv (or any output "
                                                                      "format).")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write records to FILE.")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on: non-compliant (and error) records, "
                                                              "error records only, or never.")] = FailOn.non_compliant,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: every core).")] = None,
    resource_graph: ResourceGraphFlag = False,
    subscription: SubscriptionOption = None,
    management_group: ManagementGroupOption = None,
    arm_endpoint: ArmEndpointOption = AZURE_RESOURCE_MANAGER,
    ca_bundle: CaBundleOption = None,
    credential: CredentialOption = CredentialKind.default,
    save: SaveOption = None,
) -> int:
    """Evaluate policies over the fleet; records in Azure's policy-states shape, a summary on the terminal."""
    started = time.perf_counter()
    groups = load_management_groups(management_groups) if management_groups else None
    request = prepare_scan(policy, assignment or [], exemption or [], groups)
    connection = arm_connection(subscription, management_group, arm_endpoint, ca_bundle, credential) \
        if resource_graph else None
    fleet = load_fleet(inventory, resource_graph, connection, save)
    metadata = ScanMetadata(started_at=request.timestamp,
                            inventory_source=str(inventory) if inventory else "resource-graph")
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("scan", total=len(fleet))
        result = run_scan(fleet, request, workers, lambda done, total: progress.update(task, completed=done))
    metadata.duration_seconds = round(time.perf_counter() - started, 3)
    text = render(output_format, result.records, metadata)
    for message in result.skipped:
        console.print(f"skipped: {message}", markup=False, highlight=False, soft_wrap=True)
    console.print(summary_table(result))
    write_text(text, output)
    return EXIT_FINDINGS if result.has_state(*FAILING_STATES[fail_on]) else EXIT_OK


def summary_table(result: ScanResult) -> Table:
    """Per policy: compliant / non-compliant / exempt / error / not applicable."""
    table = Table(title=f"{result.clusters} clusters, {len(result.records)} records, "
                        f"{result.evaluations} evaluations")
    table.add_column("policy")
    for column in ("compliant", "non-compliant", "exempt", "error", "not applicable"):
        table.add_column(column, justify="right")
    for row in result.summary:
        table.add_row(row.title, str(row.compliant), str(row.non_compliant), str(row.exempt), str(row.error),
                      str(row.not_applicable))
    return table
