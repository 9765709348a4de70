"""The streamed scan: clusters flow from a :class:`FleetStream` through evaluation to the outputs in bounded
batches; memory holds the summary, never the fleet or its records.

The fleet stream gives its clusters a partition at a time; they are decided in batches of
:data:`BATCH_CLUSTERS` (in worker processes, a few batches in flight per worker), and each batch comes back
as its records' JSON, serialised once and masked once in the process that decided them, with the sort key of
the scan's record order (resource, assignment, reference id). The records wait in an external sort, which
spills to a temporary file past its budget, and then flow in that order to every sink (output files, the
history store). Workers are started after the fleet was read, so every secret the inventory holds is
known to them: masking does not depend on which process decided a record.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from engine.evaluate.kinds import NotEvaluated, PolicyKey
from engine.evaluate.record_json import RecordEncoder
from engine.evaluate.records import PolicyPart, gc_paused, json_timestamp
from engine.evaluate.scan import SERIAL_CLUSTER_LIMIT, ScanEngine, ScanRequest, ShardResult, compiled_engine
from engine.evaluate.summary import (
    PolicySummary,
    StateTally,
    VerdictSignatures,
    out_of_scope_warnings,
    summarize,
)
from engine.external_sort import ExternalSort
from engine.inventory import FleetShard, FleetStream
from engine.inventory.fleet import ClusterEntry
from engine.inventory.lines import LineCheckFailed, parse_line
from engine.inventory.stream import FleetPartition
from engine.models.results import ComplianceState
from engine.output.registry import OutputRecord
from engine.output.summary import NOT_COMPLIANT_STATES, ResourceCounter, ResourceCounts, StateCounts

BATCH_CLUSTERS = 256  # clusters decided per task: large enough to amortise a task, small enough to stay bounded
IN_FLIGHT_PER_WORKER = 3  # batches queued per worker process


class RecordSink(Protocol):
    """Where a streamed scan's records go, in the scan's order (output files, the history store)."""

    def add(self, record: OutputRecord) -> None: ...


@dataclass
class RenderedBatch:
    """A batch of clusters decided: its records as (sort key, JSON), and what the summary counts."""

    # (resource, assignment, reference id, fails), the record's JSON
    records: list[tuple[tuple[str, str, str, bool], bytes]] = field(default_factory=list)
    states: Counter[tuple[PolicyPart, ComplianceState]] = field(default_factory=Counter)
    not_applicable: Counter[PolicyKey] = field(default_factory=Counter)
    evaluations: int = 0
    clusters: int = 0
    signatures: VerdictSignatures = field(default_factory=VerdictSignatures)


def render(shard: ShardResult, encoder: RecordEncoder) -> RenderedBatch:
    """A shard's rows as records' JSON (the ``json`` format's, secrets masked) with their sort keys."""
    batch = RenderedBatch(not_applicable=shard.not_applicable, evaluations=shard.evaluations,
                          clusters=shard.clusters)
    records, states, signatures, encode = batch.records, batch.states, batch.signatures, encoder.encode
    for row in shard.rows:
        key, encoded = encode(row)
        records.append(((*key, row[6] in NOT_COMPLIANT_STATES), encoded))
        counted = row[5], row[6]
        states[counted] = states.get(counted, 0) + 1
        signatures.add(row[5][3], row[5][4], row[5][7], row[0], row[6])
    return batch


@dataclass
class StreamedScan:
    """What a streamed scan decided, besides its records (which went to the sinks)."""

    summary: list[PolicySummary]
    clusters: int
    evaluations: int
    records: int
    states: Counter[ComplianceState]
    skipped: list[str]
    timestamp: datetime
    resources: ResourceCounts = field(default_factory=ResourceCounts)  # Azure's overall resource compliance
    warnings: list[str] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)

    def has_state(self, *states: ComplianceState) -> bool:
        return any(self.states[state] for state in states)

    @property
    def state_counts(self) -> StateCounts:
        return StateCounts.of(self.states.elements())


_WORKER: tuple[ScanEngine, RecordEncoder] | None = None  # set in the parent before its workers fork: they inherit it


def _start_worker(request: ScanRequest, containers: list[dict[str, Any]]) -> None:
    """Under fork a worker inherits the parent's compiled engine; otherwise it compiles the request (compiled
    closures do not pickle)."""
    global _WORKER
    if _WORKER is None:
        _WORKER = (ScanEngine(request, containers), RecordEncoder(json_timestamp(request.timestamp)))


def _decide(engine: ScanEngine, entries: list[ClusterEntry], encoder: RecordEncoder) -> RenderedBatch:
    """A batch of clusters decided (lines routed unparsed checked as they are parsed: LineCheckFailed)."""
    return render(engine.evaluate(FleetShard(entries).clusters(parse_line)), encoder)


def _decide_in_worker(entries: list[ClusterEntry]) -> RenderedBatch:
    assert _WORKER is not None, "worker not initialised"
    engine, encoder = _WORKER
    with gc_paused():
        return _decide(engine, entries, encoder)


def _batches(partitions: Iterable[FleetPartition], seen: Callable[[FleetPartition], None] | None
             ) -> Iterator[list[ClusterEntry]]:
    """The clusters of every partition (children whose cluster is missing are not evaluated), in batches."""
    for partition in partitions:
        if seen is not None:
            seen(partition)
        clusters = [entry for entry in partition.entries if entry.resource is not None]
        for start in range(0, len(clusters), BATCH_CLUSTERS):
            yield clusters[start:start + BATCH_CLUSTERS]


def stream_scan(fleet: FleetStream, request: ScanRequest, sinks: Sequence[RecordSink], workers: int | None = None,
                progress: Callable[[int, int], None] | None = None,
                partition_seen: Callable[[FleetPartition], None] | None = None) -> StreamedScan:
    """Evaluate ``fleet`` with a prepared request over ``workers`` processes (default: every core) and give every
    record, in the scan's order, to each of ``sinks``.

    ``progress(clusters_done, clusters_read)`` is called as batches complete; ``partition_seen`` gets each
    partition of the fleet as it is read (e.g. to keep the fleet's groups in read order for the store).
    """
    total = fleet.cluster_resources
    workers = workers or os.cpu_count() or 1
    encoder = RecordEncoder(json_timestamp(request.timestamp))
    containers = list(fleet.containers.values())
    records = ExternalSort()
    states: Counter[tuple[PolicyPart, ComplianceState]] = Counter()
    not_applicable: Counter[PolicyKey] = Counter()
    signatures = VerdictSignatures()
    counted = {"evaluations": 0, "clusters": 0}

    def take(batch: RenderedBatch) -> None:
        for key, encoded in batch.records:
            records.add(key, encoded)
        states.update(batch.states)
        not_applicable.update(batch.not_applicable)
        signatures.merge(batch.signatures)
        counted["evaluations"] += batch.evaluations
        counted["clusters"] += batch.clusters
        if progress is not None:
            progress(counted["clusters"], total)

    with records, gc_paused():
        engine = compiled_engine(request, containers)
        batches = _batches(fleet.partitions(), partition_seen)
        if containers:  # few (subscriptions, resource groups): decided here
            take(render(engine.evaluate_containers(containers), encoder))
        try:
            if workers == 1 or total < SERIAL_CLUSTER_LIMIT:
                for entries in batches:
                    take(_decide(engine, entries, encoder))
            else:
                _decide_in_pool(batches, workers, engine, encoder, take)
        except LineCheckFailed as failure:  # before any record reached a sink
            fleet.raise_bad_line(failure)
        resources = ResourceCounter()
        for key, encoded in records:
            resources.add_resource(key[0], key[3])
            record = OutputRecord(encoded)
            for sink in sinks:
                sink.add(record)
    tallied: StateTally = Counter()
    by_state: Counter[ComplianceState] = Counter()
    for (policy, state), count in states.items():
        tallied[PolicyKey(policy[0], policy[1], policy[4], policy[7], policy[5]), state] += count
        by_state[state] += count
    summary = summarize(request.all_assignments(), tallied, not_applicable, request.not_evaluated)
    warnings = [*request.warnings, *out_of_scope_warnings(summary, request.warnings), *signatures.warnings()]
    return StreamedScan(summary, counted["clusters"], counted["evaluations"], records.count, by_state,
                        request.skipped, request.timestamp, resources.counts(), warnings, request.not_evaluated)


def _decide_in_pool(batches: Iterator[list[ClusterEntry]], workers: int, engine: ScanEngine, encoder: RecordEncoder,
                    take: Callable[[RenderedBatch], None]) -> None:
    """The batches decided by ``workers`` processes, at most a few per worker queued at a time."""
    global _WORKER
    _WORKER = (engine, encoder)
    containers = list(next((evaluator.containers for evaluator in engine.evaluators if evaluator.evaluates_containers),
                           {}).values())
    try:
        with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker,
                                 initargs=(engine.request, containers)) as pool:
            pending: set[Future[RenderedBatch]] = set()
            for entries in batches:
                pending.add(pool.submit(_decide_in_worker, entries))
                if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        take(future.result())
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    take(future.result())
    finally:
        _WORKER = None
