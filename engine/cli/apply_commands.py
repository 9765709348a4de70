"""``arcpolicy apply PLAN``: write a reviewed plan to ARM (or the sandbox) safely at fleet scale."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from engine.atomic import check_distinct, check_writable, input_files
from engine.azure.options import AZURE_RESOURCE_MANAGER, CredentialKind
from engine.cli.app import COMMAND_LINE, app, short_help
from engine.cli.connection_options import (
    ArmEndpointOption,
    AttestationOption,
    CaBundleOption,
    ConfigOption,
    CredentialOption,
    ManagementGroupsOption,
    OpaUrlOption,
    RegoEngineName,
    RegoEngineOption,
    arm_connection,
    prepare_policies,
)
from engine.cli.output import console, say, write_text
from engine.cli.scan_commands import command_line_overrides, config_keys
from engine.config import resolve_config
from engine.errors import InputError
from remediation.apply import ApplyOptions, Secrets, apply_plan, default_journal_path, load_plan
from remediation.apply.interrupt import Interruption
from remediation.apply.journal import check_journal
from remediation.apply.models import ApplyResult, OpState
from remediation.apply.progress import ApplyProgress

# Command-line options that override the --config file (the scheduled scan's settings: the ARM connection, and
# the policies and assignments a scheduled remediation applies with): parameter -> dotted config key.
APPLY_CONFIG_KEYS = config_keys("arm_endpoint", "ca_bundle", "credential", "policy", "assignment", "exemption",
                                "attestation", "management_groups", "rego_engine", "opa_url")


def parse_write_limit(text: str) -> tuple[int, float]:
    """``BURST/RATE`` (``200/10``): ARM's per-subscription write bucket and its refill per second."""
    burst, _, rate = text.partition("/")
    try:
        return int(burst), float(rate)
    except ValueError:
        raise InputError("--write-limit", "expected BURST/RATE, e.g. 200/10", value=text) from None


@app.command("apply", short_help=short_help("apply"))
def apply_command(
    ctx: typer.Context,
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
        "--assignment", "-a", help="Assignment file: its parameters feed protected settings and --policy "
                                   "(repeatable).")
    ] = None,
    exemption: Annotated[list[Path] | None, typer.Option(
        "--exemption", "-e", help="Exemption file for --policy's evaluation, as scan takes it (repeatable).")
    ] = None,
    attestation: AttestationOption = None,
    management_groups: ManagementGroupsOption = None,
    write_limit: Annotated[str, typer.Option("--write-limit", help="Per-subscription write bucket BURST/RATE.")
                           ] = "200/10",
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds one operation may poll.")] = 1800.0,
    rego_engine: RegoEngineOption = RegoEngineName.regorus,
    opa_url: OpaUrlOption = None,
    config_file: ConfigOption = None,
) -> None:
    """Apply a plan: paced, retried, journaled writes; verified afterwards."""
    burst, rate = parse_write_limit(write_limit)
    options = ApplyOptions(parallel=parallel, failure_threshold=failure_threshold, wave=wave, wait=wait,
                           resume=resume, write_burst=burst, write_rate=rate, timeout=timeout).validated()
    loaded = load_plan(plan)
    settings = resolve_config(config_file, command_line_overrides(ctx, APPLY_CONFIG_KEYS)).scan
    destinations = ((output, "-o"), (journal or default_journal_path(plan), "--journal"))
    check_distinct(destinations, [(plan, "plan"), *((path, "--secrets") for path in secrets or ()),
                                  *input_files((), settings.assignments)])
    for path, option in destinations:
        if path is not None:
            check_writable(path, option)  # before the journal or any request
    check_journal(journal or default_journal_path(plan))  # never another program's file, never through a link
    connection = arm_connection(arm_endpoint=settings.arm_endpoint, ca_bundle=settings.ca_bundle,
                                credential=settings.credential)
    secret_values = Secrets.load([*(secrets or []), *settings.assignments])
    if not settings.policies and (settings.exemptions or settings.attestations or settings.management_group_map):
        raise InputError("--exemption", "--exemption, --attestation and --management-groups shape --policy's "
                                        "evaluation: give --policy too")
    policies = prepare_policies(settings.policies, settings.assignments, settings.exemptions, settings.attestations,
                                settings.management_group_map, settings.rego_engine, settings.opa_url,
                                False) if settings.policies else None
    resume_command = shlex.join(["arcpolicy", *COMMAND_LINE.get(),
                                 *(() if "--resume" in COMMAND_LINE.get() else ("--resume",))])
    interruption = Interruption()
    with ApplyProgress(loaded.operations, sys.stderr, write_rate=rate, write_burst=burst) as progress, \
            stop_on_signals(interruption, resume_command, progress):
        result = apply_plan(loaded, connection, options, journal_path=journal or default_journal_path(plan),
                            secrets=secret_values, policies=policies, on_result=progress, interruption=interruption,
                            on_start=progress.started)
    write_text(json.dumps(result.to_json(), indent=2), output)
    counts = ", ".join(f"{state} {count}" for state, count in result.counts.items())
    console.print(f"applied {len(result.operations)} operations: {counts}; {result.writes} writes, "
                  f"{result.throttled} throttled")
    if result.interrupted is not None:
        for line in interrupted_lines(result, resume_command, output):
            say(line)
        raise typer.Exit(EXIT_SIGNALS[result.interrupted])
    raise typer.Exit(result.exit_status)


# Exit status after a signal, as a shell reports a process it ended: 128 + the signal's number.
EXIT_SIGNALS = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


@contextmanager
def stop_on_signals(interruption: Interruption, resume_command: str, progress: ApplyProgress) -> Iterator[None]:
    """SIGINT and SIGTERM ask the apply to stop (:mod:`remediation.apply.interrupt`); a second one stops the
    process at once, the journal intact (SQLite, each state committed before and after every write)."""
    if threading.current_thread() is not threading.main_thread():  # signals are the main thread's only
        yield
        return

    def handle(number: int, _frame: object) -> None:
        name = signal.Signals(number).name
        if interruption.requested:
            progress.say(f"apply: {name} again: stopping at once; the journal is intact. Resume with: "
                         f"{resume_command}")
            os._exit(EXIT_SIGNALS[name])
        interruption.request(name)
        progress.say(f"apply: {name}: starting no more operations; those in flight have up to "
                     f"{interruption.grace:g}s to settle, then the result and the journal are written ({name} "
                     "again stops at once, the journal intact)")

    previous = {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def interrupted_lines(result: ApplyResult, resume_command: str, output: Path | None) -> list[str]:
    """Where an interrupted apply stopped: what is done, what was in flight, what never started, and how
    to go on."""
    done = Counter(operation.state.value for operation in result.operations
                   if operation.state not in (OpState.INTERRUPTED, OpState.NOT_ATTEMPTED))
    in_flight = sum(operation.state is OpState.INTERRUPTED for operation in result.operations)
    not_started = sum(operation.state is OpState.NOT_ATTEMPTED for operation in result.operations)
    where = f"the result is in {output}, " if output is not None else ""
    flight = " (the journal has where each was: --resume re-reads or re-polls it)" if in_flight else ""
    return [f"apply interrupted by {result.interrupted}: {sum(done.values())} operations done ("
            + ", ".join(f"{state} {count}" for state, count in sorted(done.items())) + f"), {in_flight} in flight"
            f"{flight}, {not_started} not started; {where}the journal is intact",
            f"resume with: {resume_command}"]
