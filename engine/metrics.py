"""Prometheus metrics of scheduled scans (``schedule --metrics-port`` / ``--metrics-file``).

What a platform team watches of a compliance job: compliance per assignment, records and resources by state,
how long scans take and when one last succeeded (the alert "no successful scan for 12 h" needs it), what the
Resource Graph quota cost and how often it throttled, and how many ARM writes remediation made. Names and labels
follow Prometheus' conventions (``arcpolicy_`` prefix, base units, ``_total`` counters, ``_ratio`` for 0-1
fractions, ``_timestamp_seconds`` for times). Served over HTTP in the exposition format by prometheus-client, or
written after each run to a file node-exporter's textfile collector reads (``*.prom``, replaced atomically).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine import __version__
from engine.models.results import ComplianceState
from engine.output.summary import STATE_FIELDS, ResourceCounts, StateCounts

if TYPE_CHECKING:
    from engine.evaluate import ScanResult
    from engine.inventory.resource_graph import GraphScanStats
    from engine.scheduler import SchedulerStatus
    from remediation.apply import ApplyResult

# Scans take seconds on a file and minutes to an hour through Resource Graph at fleet scale.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
POLICY_LABELS = ("assignment", "policy", "reference_id")


class SchedulerCollector(Collector):
    """The scheduler's own state, read when scraped: whether a scan is running and when the next one is due."""

    def __init__(self, status: SchedulerStatus):
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("arcpolicy_scan_running", "1 while a scheduled scan runs, else 0.",
                                value=1 if self.status.state == "running" else 0)
        if self.status.next_run is not None:
            yield GaugeMetricFamily("arcpolicy_next_scan_timestamp_seconds", "When the next scheduled scan is due.",
                                    value=self.status.next_run.timestamp())


class ScanMetrics:
    """The metrics of one scheduler process, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        Info("arcpolicy_build", "The arcpolicy version running.", registry=registry).info({"version": __version__})
        self.scans = Counter("arcpolicy_scans_total", "Scheduled scans run, by result (success or failure).",
                             ["result"], registry=registry)
        for result in ("success", "failure"):
            self.scans.labels(result)
        self.duration = Histogram("arcpolicy_scan_duration_seconds", "How long a scan took (inventory read, "
                                  "evaluated, outputs and store written).", buckets=DURATION_BUCKETS,
                                  registry=registry)
        self.last_success = Gauge("arcpolicy_last_success_timestamp_seconds", "When the last scan succeeded "
                                  "(Unix time).", registry=registry)
        self.last_failure = Gauge("arcpolicy_last_failure_timestamp_seconds", "When the last scan failed "
                                  "(Unix time; 0: none yet).", registry=registry)
        self.clusters = Gauge("arcpolicy_clusters", "Clusters the last successful scan evaluated.", registry=registry)
        self.records = Gauge("arcpolicy_policy_states", "Policy states (records: resource x assignment x "
                             "initiative member) of the last successful scan, by compliance state.", ["state"],
                             registry=registry)
        self.resources = Gauge("arcpolicy_resources", "Distinct resources the last successful scan evaluated, by "
                               "their state across every assignment (Azure's rollup).", ["state"], registry=registry)
        self.resource_compliance = Gauge("arcpolicy_resource_compliance_ratio", "Overall resource compliance of "
                                         "the last successful scan: resources compliant with every assignment over "
                                         "all resources (0-1).", registry=registry)
        self.compliance = Gauge("arcpolicy_compliance_ratio", "Per assignment (and initiative member): policy "
                                "states compliant, exempt or unknown over the applicable ones, last successful "
                                "scan (0-1).", POLICY_LABELS, registry=registry)
        self.non_compliant = Gauge("arcpolicy_non_compliant_policy_states", "Per assignment (and initiative member): "
                                   "non-compliant and error policy states of the last successful scan.",
                                   POLICY_LABELS, registry=registry)
        self.graph_queries = Counter("arcpolicy_resource_graph_queries_total", "Resource Graph queries sent (pages "
                                     "and retried attempts).", registry=registry)
        self.graph_throttled = Counter("arcpolicy_resource_graph_throttled_total", "Resource Graph queries answered "
                                       "429 (throttled; retried after Retry-After).", registry=registry)
        self.graph_rows = Counter("arcpolicy_resource_graph_rows_total", "Rows Resource Graph returned.",
                                  registry=registry)
        self.apply_writes = Counter("arcpolicy_apply_writes_total", "ARM write requests remediation sent (retries "
                                    "included).", registry=registry)
        self.apply_throttled = Counter("arcpolicy_apply_throttled_total", "ARM answers 429 remediation met.",
                                       registry=registry)
        self.apply_operations = Counter("arcpolicy_apply_operations_total", "Remediation operations by final state "
                                        "(succeeded, satisfied, waiting, failed ...).", ["state"], registry=registry)

    def watch(self, status: SchedulerStatus) -> None:
        """Also report the scheduler's running state and next slot."""
        self.registry.register(SchedulerCollector(status))

    def scan_succeeded(self, result: ScanResult, duration_seconds: float) -> None:
        self.scans.labels("success").inc()
        self.duration.observe(duration_seconds)
        self.last_success.set(time.time())
        self.clusters.set(result.clusters)
        counts = StateCounts.of(record.compliance_state for record in result.records)
        for state in ComplianceState:
            self.records.labels(state.value).set(getattr(counts, STATE_FIELDS[state]))
        totals = ResourceCounts.of(result.records)
        self.resources.labels("compliant").set(totals.compliant_resources)
        self.resources.labels("non_compliant").set(totals.non_compliant_resources)
        self.resource_compliance.set(totals.compliant_resources / totals.resources if totals.resources else 1.0)
        self.compliance.clear()  # an assignment removed since the last scan is no longer reported
        self.non_compliant.clear()
        for row in result.summary:
            if row.not_evaluated or not row.applicable:
                continue
            labels = (row.policy_assignment_name, row.policy_definition_display_name or row.policy_definition_name,
                      row.policy_definition_reference_id or "")
            compliant = row.compliant + row.exempt + row.unknown
            self.compliance.labels(*labels).set(compliant / row.applicable)
            self.non_compliant.labels(*labels).set(row.non_compliant + row.error)

    def scan_failed(self, duration_seconds: float) -> None:
        self.scans.labels("failure").inc()
        self.duration.observe(duration_seconds)
        self.last_failure.set(time.time())

    def resource_graph(self, stats: GraphScanStats) -> None:
        self.graph_queries.inc(stats.pages + stats.retries)
        self.graph_throttled.inc(stats.throttled)
        self.graph_rows.inc(stats.rows)

    def applied(self, result: ApplyResult) -> None:
        self.apply_writes.inc(result.writes)
        self.apply_throttled.inc(result.throttled)
        for state, count in result.counts.items():
            self.apply_operations.labels(state).inc(count)

    def serve(self, port: int, address: str) -> Callable[[], None]:
        """Serve ``/metrics`` on ``address:port`` from a thread; returns what stops it (OSError when the port
        cannot be had)."""
        server, thread = start_http_server(port, addr=address, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join()

        return stop

    def write_textfile(self, path: Path) -> None:
        """The exposition written to ``path`` through a temporary file and a rename (node-exporter never reads
        half a file)."""
        write_to_textfile(str(path), self.registry)

