"""``arcpolicy schedule``: one long-running process scanning on a cron schedule (engine/scheduler.py).

Each run is the scan ``arcpolicy scan --config FILE`` would do: outputs written, the scan recorded in
the store, retention applied; with ``--remediate`` the scan's plan is then applied with apply's limits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NamedTuple

import typer

from engine.atomic import atomic_writer, check_writable
from engine.cli.app import app, short_help
from engine.cli.connection_options import (
    OpaUrlOption,
    RegoEngineName,
    arm_connection,
    load_fleet,
    policy_kind_options,
)
from engine.cli.output import console
from engine.cli.scan_commands import FAILING_STATES, FailOn, command_line_overrides
from engine.config import ArcPolicyConfig, resolve_config
from engine.errors import EXIT_FINDINGS, EXIT_OK, InputError
from engine.evaluate import ScanRequest, ScanResult, load_management_groups, prepare_scan, run_scan
from engine.history.recording import policy_set_fingerprint, publish_scan
from engine.inventory import Fleet
from engine.metrics import ScanMetrics
from engine.output import ScanMetadata
from engine.output.summary import ResourceCounts, StateCounts, log_scan_finished
from engine.scheduler import Scheduler
from engine.structured_logging import logging_configured

log = logging.getLogger(__name__)

CONFIG_KEYS = {"cron": "schedule.cron", "jitter": "schedule.jitter", "health_file": "schedule.health_file",
               "lock_file": "schedule.lock_file", "remediate": "schedule.remediate",
               "metrics_port": "schedule.metrics_port", "metrics_address": "schedule.metrics_address",
               "metrics_file": "schedule.metrics_file", "store": "store.url",
               "keep": "store.keep", "log_format": "logging.format",
               "rego_engine": "scan.rego_engine", "opa_url": "scan.opa_url"}


class CompletedScan(NamedTuple):
    fleet: Fleet
    request: ScanRequest
    result: ScanResult


class ScanJob:
    """One scheduled run: the configured scan, published; then, with remediation on, plan and apply. With
    ``metrics``, each run's figures are recorded there (and written to ``schedule.metrics_file`` after it)."""

    def __init__(self, config: ArcPolicyConfig, metrics: ScanMetrics | None = None):
        self.config = config
        self.metrics = metrics

    def prepare(self) -> ScanRequest:
        """Load and compile the policies, assignments and exemptions (InputError on bad input)."""
        settings = self.config.scan
        if not settings.policies:
            raise InputError("--config", "the config file names no policies", location="scan.policies")
        groups = load_management_groups(settings.management_group_map) if settings.management_group_map else None
        return prepare_scan(settings.policies, settings.assignments, settings.exemptions, groups,
                            kind_options=policy_kind_options(settings.rego_engine, settings.opa_url,
                                                                     settings.strict_aliases),
                            attestation_files=settings.attestations, expiry_warning=settings.expiry_warning)

    def __call__(self, scan_id: str) -> ScanResult:
        started = time.perf_counter()
        try:
            result = self.scan(scan_id, started)
        except Exception:
            if self.metrics is not None:
                self.metrics.scan_failed(time.perf_counter() - started)
            raise
        finally:
            self.write_metrics()
        if self.config.schedule.remediate:
            try:
                self.remediate(scan_id, result.fleet, result.request, result.result)
            finally:
                self.write_metrics()
        return result.result

    def write_metrics(self) -> None:
        if self.metrics is not None and self.config.schedule.metrics_file is not None:
            self.metrics.write_textfile(self.config.schedule.metrics_file)

    def scan(self, scan_id: str, started: float) -> CompletedScan:
        """The configured scan, its outputs written and the scan recorded (InputError, ServiceError on failure)."""
        settings = self.config.scan
        request = self.prepare()
        source = str(settings.inventory) if settings.inventory else "resource-graph"
        log.info("scan started", extra={"inventory": source})
        for warning in request.warnings:  # expiring exemptions come closer with every run
            log.warning(warning)
        connection = None if settings.inventory else arm_connection(
            settings.subscriptions, settings.management_groups, settings.arm_endpoint, settings.ca_bundle,
            settings.credential)
        graph_stats = None
        if connection is not None:
            from engine.inventory.resource_graph import GraphScanStats

            graph_stats = GraphScanStats()
        try:
            fleet = load_fleet(settings.inventory, settings.inventory is None, connection, graph_stats=graph_stats)
        finally:
            if self.metrics is not None and graph_stats is not None:
                self.metrics.resource_graph(graph_stats)
        result = run_scan(fleet, request, settings.workers)
        for note in [*fleet.warnings, *result.warnings]:  # as scan prints them, here in the log's format
            log.warning("warning: %s", note)
        for note in result.skipped:
            log.warning("skipped: %s", note)
        metadata = ScanMetadata(scan_id=scan_id, started_at=request.timestamp, inventory_source=source,
                                duration_seconds=round(time.perf_counter() - started, 3),
                                policy_fingerprint=policy_set_fingerprint(settings.policies, request))
        publish_scan(self.config, result.records, metadata, fleet, request)
        log_scan_finished(log, result.clusters, StateCounts.of(record.compliance_state for record in result.records),
                          ResourceCounts.of(result.records), metadata.duration_seconds)
        if self.metrics is not None:
            self.metrics.scan_succeeded(result, time.perf_counter() - started)
        return CompletedScan(fleet, request, result)

    def remediate(self, scan_id: str, fleet: Fleet, request: ScanRequest, result: ScanResult) -> None:
        """Plan the scan's remediation and apply it with apply's safety limits (canary, pacing, threshold)."""
        from remediation.apply import ApplyOptions, Secrets, apply_plan
        from remediation.plan.builder import PlanOptions
        from remediation.plan.facts import load_facts
        from remediation.plan.from_scan import plan_from_scan
        from remediation.plan.io import write_plan

        settings = self.config.scan
        options = PlanOptions(node_architectures=load_facts(settings.facts) if settings.facts else {})
        plan = plan_from_scan(fleet, request, result, options,
                              inventory_source=str(settings.inventory) if settings.inventory else "resource-graph")
        directory = self.config.schedule.work_dir / scan_id
        write_plan(plan, directory / "plan.json")
        connection = arm_connection(arm_endpoint=settings.arm_endpoint, ca_bundle=settings.ca_bundle,
                                    credential=settings.credential)
        applied = apply_plan(plan, connection, ApplyOptions(), journal_path=directory / "plan.json.journal.sqlite",
                             secrets=Secrets.load(list(settings.assignments)), policies=request)
        with atomic_writer(directory / "apply.json") as out:
            json.dump(applied.to_json(), out, indent=2)
        if self.metrics is not None:
            self.metrics.applied(applied)
        log.info("remediation applied", extra={"operations": len(applied.operations), "states": applied.counts,
                                               "writes": applied.writes, "plan": str(directory / "plan.json")})
        if applied.exit_status != EXIT_OK:
            log.warning("remediation left operations unfinished; see %s", directory / "apply.json")


@app.command("schedule", short_help=short_help("schedule"))
def schedule_command(
    ctx: typer.Context,
    config_file: Annotated[Path, typer.Option("--config", help="arcpolicy.toml: the scan, outputs, store, "
                                                               "[schedule] and [logging].")],
    cron: Annotated[str | None, typer.Option("--cron", help="Cron expression: 5 fields, or 6 with seconds first "
                                                            "(\"*/30 * * * * *\": every 30 s); "
                                                            "overrides schedule.cron.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one scan now and exit with the scan's status.")] = False,
    remediate: Annotated[bool, typer.Option("--remediate", help="After each scan, plan and apply the remediation "
                                                                "(apply's safety limits hold).")] = False,
    jitter: Annotated[str | None, typer.Option("--jitter", help="Delay each run by a random amount up to this "
                                                                "(e.g. 5m).")] = None,
    health_file: Annotated[Path | None, typer.Option("--health-file", help="JSON status file for liveness "
                                                                           "probes.")] = None,
    lock_file: Annotated[Path | None, typer.Option("--lock-file", help="Lock file shared by schedulers that must "
                                                                       "not run at the same time.")] = None,
    store: Annotated[str | None, typer.Option("--store", envvar="ARCPOLICY_STORE",
                                              help="History store (SQLite file or SQLAlchemy URL).")] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="Delete stored scans older than this (e.g. 90d).")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format", help="text or json lines.")] = None,
    rego_engine: Annotated[RegoEngineName | None, typer.Option(
        "--rego-engine", help="Rego engine (regorus, regopy, opa); overrides scan.rego_engine.")] = None,
    opa_url: OpaUrlOption = None,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port", min=0, max=65535, help="Serve Prometheus "
                            "metrics on this port (/metrics).")] = None,
    metrics_address: Annotated[str | None, typer.Option("--metrics-address", metavar="ADDRESS", help="Address the metrics port "
                               "listens on (default 0.0.0.0, every interface).")] = None,
    metrics_file: Annotated[Path | None, typer.Option("--metrics-file", help="Write the metrics after each run "
                            "to this file, for node-exporter's textfile collector (*.prom).")] = None,
) -> int:
    """Scan on a cron schedule in one process: no overlap, jitter, failures retried next slot, SIGTERM stops."""
    config = resolve_config(config_file, command_line_overrides(ctx, CONFIG_KEYS))
    settings = config.schedule
    metrics = ScanMetrics() if settings.metrics_port is not None or settings.metrics_file is not None else None
    job = ScanJob(config, metrics)
    job.prepare()  # bad policies or assignments fail now (exit 2), not at the first slot
    if not once and settings.cron is None:
        raise InputError("--cron", "give --cron EXPRESSION or schedule.cron in the config file (or --once)")
    if settings.metrics_file is not None:
        check_writable(settings.metrics_file, "--metrics-file")
    scheduler = Scheduler(job, None if once else settings.cron, jitter=settings.jitter,
                          health_file=settings.health_file, lock_file=settings.lock_file)
    if metrics is not None:
        metrics.watch(scheduler.status)
    with logging_configured(config.logging.format, config.logging.level), \
            metrics_served(metrics, settings.metrics_port, settings.metrics_address):
        if once:
            result = scheduler.run_now()
            return EXIT_FINDINGS if result.has_state(*FAILING_STATES[FailOn(config.scan.fail_on)]) else EXIT_OK
        with scheduler.stopping_on_signals():
            status = scheduler.run()
    console.print(f"scheduler stopped after {status.runs} runs ({status.failures} failed)")
    return EXIT_OK


@contextmanager
def metrics_served(metrics: ScanMetrics | None, port: int | None, address: str) -> Iterator[None]:
    """The metrics served on ``address:port`` while the scheduler runs (nothing without a port); a port that
    cannot be had is one line, exit 2, before any scan."""
    if metrics is None or port is None:
        yield
        return
    try:
        stop = metrics.serve(port, address)
    except OSError as error:
        raise InputError("--metrics-port", f"cannot listen on {address}:{port}: {error.strerror}", value=port) from None
    log.info("metrics on http://%s:%d/metrics", address, port, extra={"metricsPort": port})
    try:
        yield
    finally:
        stop()
