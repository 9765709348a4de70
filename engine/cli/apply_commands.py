"""``arcpolicy apply PLAN``: write a reviewed plan to ARM (or the sandbox) safely at fleet scale."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.atomic import check_writable
from engine.azure.options import AZURE_RESOURCE_MANAGER, CredentialKind
from engine.cli.app import app, short_help
from engine.cli.connection_options import (
    ArmEndpointOption,
    CaBundleOption,
    CredentialOption,
    OpaUrlOption,
    RegoEngineName,
    RegoEngineOption,
    arm_connection,
    rego_options,
)
from engine.cli.output import console, write_text
from engine.errors import InputError
from remediation.apply import ApplyOptions, Secrets, apply_plan, default_journal_path, load_plan
from remediation.apply.progress import ApplyProgress


def parse_write_limit(text: str) -> tuple[int, float]:
    """``BURST/RATE`` (``200/10``): ARM's per-subscription write bucket and its refill per second."""
    burst, _, rate = text.partition("/")
    try:
        return int(burst), float(rate)
    except ValueError:
        raise InputError("--write-limit", "expected BURST/RATE, e.g. 200/10", value=text) from None


@app.command("apply", short_help=short_help("apply"))
def apply_command(
    plan: Annotated[Path, typer.Argument(help="The plan file (plan.json) written by 'arcpolicy plan'.")],
    arm_endpoint: ArmEndpointOption = AZURE_RESOURCE_MANAGER,
    ca_bundle: CaBundleOption = None,
    credential: CredentialOption = CredentialKind.default,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Operations in flight at once.")] = 64,
    failure_threshold: Annotated[float, typer.Option(
        "--failure-threshold", help="Stop starting operations once this fraction has failed (after the canary wave).")
    ] = 0.1,
    wave: Annotated[int | None, typer.Option("--wave", min=0, help="Apply waves 0..K only.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for extensions to reach a terminal state.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted apply from its journal.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result JSON to FILE.")] = None,
    journal: Annotated[Path | None, typer.Option("--journal", help="Journal file (default: PLAN.journal.sqlite).")
                       ] = None,
    secrets: Annotated[list[Path] | None, typer.Option(
        "--secrets", help="Parameters file (or assignment) protected settings are re-derived from, optionally "
                          "with keyVaultSecrets (repeatable).")
    ] = None,
    policy: Annotated[list[Path] | None, typer.Option(
        "--policy", "-p", help="Policies to re-evaluate the touched clusters with, before and after, and to "
                               "re-derive secrets written in their templates.")] = None,
    assignment: Annotated[list[Path] | None, typer.Option(
        "--assignment", "-a", help="Assignment file: its parameters feed protected settings and --policy.")
    ] = None,
    write_limit: Annotated[str, typer.Option("--write-limit", help="Per-subscription write bucket BURST/RATE.")
                           ] = "200/10",
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds one operation may poll.")] = 1800.0,
    rego_engine: RegoEngineOption = RegoEngineName.regorus,
    opa_url: OpaUrlOption = None,
) -> None:
    """Apply a plan: paced, retried, journaled writes; verified afterwards."""
    burst, rate = parse_write_limit(write_limit)
    options = ApplyOptions(parallel=parallel, failure_threshold=failure_threshold, wave=wave, wait=wait,
                           resume=resume, write_burst=burst, write_rate=rate, timeout=timeout).validated()
    loaded = load_plan(plan)
    for path, option in ((output, "-o"), (journal or default_journal_path(plan), "--journal")):
        if path is not None:
            check_writable(path, option)  # before the journal or any request
    connection = arm_connection(arm_endpoint=arm_endpoint, ca_bundle=ca_bundle, credential=credential)
    secret_files = [*(secrets or []), *(assignment or [])]
    secret_values = Secrets.load(secret_files)
    policies = None
    if policy:
        from engine.evaluate import prepare_scan

        policies = prepare_scan(policy, assignment or [], kind_options={"rego": rego_options(rego_engine, opa_url)})
    with ApplyProgress(len(loaded.operations), sys.stderr) as progress:
        result = apply_plan(loaded, connection, options, journal_path=journal or default_journal_path(plan),
                            secrets=secret_values, policies=policies, on_result=progress)
    write_text(json.dumps(result.to_json(), indent=2), output)
    counts = ", ".join(f"{state} {count}" for state, count in result.counts.items())
    console.print(f"applied {len(result.operations)} operations: {counts}; {result.writes} writes, "
                  f"{result.throttled} throttled")
    raise typer.Exit(result.exit_status)
