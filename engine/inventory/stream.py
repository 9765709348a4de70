"""A fleet read once and given back a partition at a time, so that memory does not grow with the fleet.

:class:`Fleet` holds every resource to answer any question about any cluster (plan, what-if); a scan and
``arcpolicy inventory`` only need each cluster once, with its extensions and flux configurations. Those
may arrive anywhere in a snapshot (Resource Graph returns clusters, then extensions), and a resource id
may appear twice (the later one wins, with a warning naming both places). :class:`FleetStream` reads the
resources once (the first pass: validated, their protected settings remembered as secrets, resource
containers kept) and routes each, as compact JSON with the little the second pass needs, to one of
:data:`PARTITIONS` partitions (more for a large file: a few MB each) chosen by a hash of its cluster's id; a cluster, its children and every copy of
an id therefore meet in one partition. Partitions stay in memory up to a budget, then go to an unnamed
temporary file. The second pass (:meth:`FleetStream.partitions`) takes one partition at a time: it drops
earlier copies of repeated ids, groups children under their cluster and counts what ``inventory`` shows.
Memory holds one partition, the containers and the counts, never the fleet.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NoReturn

from engine import ids
from engine.errors import InputError
from engine.external_sort import ExternalSort
from engine.inventory.fleet import (
    CLUSTER_TYPE_NAMES,
    NOT_APPLICABLE,
    ClusterEntry,
    FleetSummary,
    compact_json,
    ordered_counts,
)
from engine.inventory.lines import CLUSTER, EXTENSION, FLUX, LineCheckFailed, LineFacts, PlainRun, parse_line
from engine.secret_values import remember

PARTITIONS = 128  # at least; a large file gets one per PARTITION_BYTES
PARTITION_BYTES = 4 * 1024 * 1024  # of the input read back at once in the second pass
MAX_PARTITIONS = 4096
DEFAULT_BUDGET = 64 * 1024 * 1024  # bytes of resources held in memory while reading, before partitions spill
RECORD_OVERHEAD = 200  # bytes Python spends on a routed resource besides its JSON

OTHER, RUN = FLUX + 1, FLUX + 2  # after a line's kinds in a run (CLUSTER, EXTENSION, FLUX)
# (position, normalized id, normalized cluster id or own id, kind, counted values (None: not counted), its JSON:
#  compact, or a line as read whose checks are still to be made, engine.inventory.lines); a RUN (a cluster's line
#  and its children's lines right after it) holds each line's kind and the lines
Routed = tuple[int, str, str, int, tuple[str, ...] | bytes | None, bytes | tuple[bytes, ...]]


@dataclass(slots=True)
class FleetPartition:
    """One partition after the second pass: its clusters (with children) and its other resources."""

    entries: list[ClusterEntry] = field(default_factory=list)  # clusters, and children whose cluster is missing
    ranks: list[int] = field(default_factory=list)  # per entry: where its first resource was read
    others: list[tuple[int, bytes]] = field(default_factory=list)  # (position, JSON) of other resources


def numbered(resources: Iterable[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any], None]]:
    """Resources as :class:`FleetStream` reads them: numbered from 1 (their places), no JSON as read."""
    for position, resource in enumerate(resources, start=1):
        yield position, resource, None


class FleetStream:
    """The fleet of ``resources`` read once: ``(position, resource, its JSON as read or None)`` (an NDJSON line is
    not written again unless the resource changes; :func:`numbered` numbers plain resources).

    ``places`` formats a position for the duplicate-id warning (``fleet.json: line {}``).
    """

    def __init__(self, resources: Iterable[tuple[int, dict[str, Any] | LineFacts, bytes | None]],
                 places: str = "resource {}", budget: int | None = None, size: int = 0):
        """``size``: the input's size in bytes when known (a file's), so that a partition stays a few MB.
        A resource given as its :data:`LineFacts` and its line is routed unparsed: it is not counted (a scan
        needs no counts), and is checked where it is parsed (:func:`parse_line`), here when it is not evaluated
        (:meth:`partitions` raises :class:`LineCheckFailed`)."""
        self.places = places
        self._budget = DEFAULT_BUDGET if budget is None else budget
        self._width = min(MAX_PARTITIONS, max(PARTITIONS, size // PARTITION_BYTES))
        self._held: list[list[Routed]] = [[] for _ in range(self._width)]
        self._held_bytes = 0
        self._spilled: list[list[tuple[int, int]]] = [[] for _ in range(self._width)]  # blocks: (offset, length)
        self._file: IO[bytes] | None = None
        self.containers: dict[str, dict[str, Any]] = {}  # subscriptions and resource groups, by normalized id
        self.cluster_resources = 0  # cluster resources read (a repeated id counted each time)
        self.resources_read = 0
        self._duplicates: list[tuple[int, str]] = []
        self._counts: dict[str, Counter[str]] = {name: Counter() for name in COUNTED}
        self._totals: Counter[str] = Counter()
        # raises the InputError of the input's first bad line, when lines were routed unparsed (stream_snapshot)
        self.first_bad_line: Callable[[], None] | None = None
        self._read_all(resources)

    # ---- the first pass -------------------------------------------------------------------
    def _read_all(self, resources: Iterable[tuple[int, dict[str, Any] | LineFacts, bytes | PlainRun | None]]) -> None:
        route, route_line = self._route, self._route_line
        for position, resource, read in resources:
            if type(resource) is tuple:
                route_line(position, resource, read)  # type: ignore[arg-type]
            else:
                route(position, resource, read)  # type: ignore[arg-type]
        if self._file is not None:
            self._spill()

    def _route_line(self, position: int, facts: LineFacts, read: bytes | PlainRun) -> None:
        """A line routed by its id and type (:func:`engine.inventory.lines.line_facts`), kept as read; or a cluster's
        line and the lines of its children right after it, as one run (:class:`engine.inventory.lines.PlainRun`)."""
        resource_id, _, cluster_id, type_key = facts
        key = ids.normalize(resource_id)
        if type(read) is PlainRun:
            self.resources_read += len(read.lines)
            self.cluster_resources += 1
            self._hold(zlib.crc32(key.encode()) % self._width,
                       (position, key, key, RUN, bytes(read.kinds), tuple(read.lines)))
            return
        self.resources_read += 1
        line = read if read[-1:] == b"\n" else read + b"\n"  # the last line of a file: still marked as read unparsed
        if type_key in ids.CLUSTER_TYPES:
            self.cluster_resources += 1
            kind, owner = CLUSTER, key
        elif cluster_id is None:
            kind, owner = OTHER, key
        else:
            kind, owner = EXTENSION if type_key == ids.EXTENSION_TYPE else FLUX, ids.normalize(cluster_id)
        self._hold(zlib.crc32(owner.encode()) % self._width, (position, key, owner, kind, None, line))

    def _route(self, position: int, resource: dict[str, Any], read: bytes | None) -> None:
        self.resources_read += 1
        key = ids.normalize(resource["id"])
        location = resource.get("location")
        if isinstance(location, str) and not (location.isalnum() and location.islower()) \
                and location != (name := ids.location_name(location)):
            resource = {**resource, "location": name}  # what ARM holds and rules, templates and writes see
            read = None
        type_key = ids.normalize(resource["type"])
        properties = resource.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        if type_key in ids.CLUSTER_TYPES:
            kind, owner = CLUSTER, key
            self.cluster_resources += 1
            counted = _cluster_counts(type_key, resource["id"], properties)
        else:
            if properties.get("configurationProtectedSettings"):
                remember(properties["configurationProtectedSettings"])  # secret by origin: masked in every output
            cluster_id = ids.owning_cluster_id(resource["id"])
            kind = OTHER
            if cluster_id is not None and type_key == ids.EXTENSION_TYPE:
                kind = EXTENSION
            elif cluster_id is not None and type_key == ids.FLUX_CONFIGURATION_TYPE:
                kind = FLUX
            owner = ids.normalize(cluster_id) if kind != OTHER else key  # type: ignore[arg-type]
            counted = _extension_counts(properties) if kind == EXTENSION else ()
            if type_key in ids.CONTAINER_TYPES:
                self.containers[key] = resource
        encoded = compact_json(resource) if read is None else read.rstrip()
        self._hold(zlib.crc32(owner.encode()) % self._width, (position, key, owner, kind, counted, encoded))

    def _hold(self, number: int, item: Routed) -> None:
        self._held[number].append(item)
        size = len(item[5]) if item[3] != RUN else sum(map(len, item[5])) + len(item[5]) * RECORD_OVERHEAD
        self._held_bytes += size + len(item[1]) + len(item[2]) + RECORD_OVERHEAD
        if self._held_bytes > self._budget:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="arcpolicy-fleet-")  # noqa: SIM115  (closed by close())
        for number, held in enumerate(self._held):
            if held:
                encoded = pickle.dumps(held, protocol=pickle.HIGHEST_PROTOCOL)
                self._spilled[number].append((self._file.seek(0, os.SEEK_END), len(encoded)))
                self._file.write(encoded)
                self._held[number] = []
        self._file.flush()
        self._held_bytes = 0

    # ---- the second pass ------------------------------------------------------------------
    def partitions(self) -> Iterator[FleetPartition]:
        """Each partition with repeated ids resolved (the later resource kept) and children under their cluster.

        Read once: the counts (:meth:`summary`) and :attr:`warnings` are complete when the last one is read.
        """
        try:
            for number in range(self._width):
                yield self._partition(self._routed(number))
        finally:
            self.close()

    def _routed(self, number: int) -> list[Routed]:
        routed: list[Routed] = []
        if self._file is not None:
            descriptor = self._file.fileno()
            for offset, length in self._spilled[number]:
                routed.extend(pickle.loads(os.pread(descriptor, length, offset)))
        routed.extend(self._held[number])
        self._held[number] = []
        return routed

    def _partition(self, routed: list[Routed]) -> FleetPartition:
        owners = Counter(item[2] for item in routed)
        if len(owners) < len(routed):  # a run whose cluster has other resources here is read line by line
            routed = [part for item in routed
                      for part in (_run_lines(item) if item[3] == RUN and owners[item[2]] > 1 else (item,))]
        kept: dict[str, Routed] = {}
        for item in routed:  # in the order read
            earlier = kept.get(item[1])
            if earlier is not None:
                _check_line(earlier[5])  # replaced, so never parsed again
                self._duplicates.append((item[0], f"{_resource_id(item)} appears twice "
                                                  f"({self.places.format(earlier[0])} and "
                                                  f"{self.places.format(item[0])}); the later one is kept"))
            kept[item[1]] = item
        survivors = {id(item) for item in kept.values()}
        partition = FleetPartition()
        entries: dict[str, int] = {}
        for item in routed:
            position, _, owner, kind, counted, encoded = item
            if kind == OTHER:
                if id(item) in survivors:
                    _check_line(encoded)  # not evaluated: checked here
                    partition.others.append((position, encoded))
                    self._totals["otherResources"] += 1
                continue
            index = entries.get(owner)
            if index is None:  # where the cluster's first resource (even one replaced later) was read
                index = entries[owner] = len(partition.entries)
                partition.entries.append(ClusterEntry())
                partition.ranks.append(position)
            if id(item) not in survivors:
                continue
            entry = partition.entries[index]
            if kind == RUN:  # the cluster's line, then its children's
                entry.resource = encoded[0]
                for child, child_kind in zip(encoded[1:], counted[1:], strict=True):  # type: ignore[index]
                    (entry.extensions if child_kind == EXTENSION else entry.flux_configurations).append(child)
            elif kind == CLUSTER:
                entry.resource = encoded
                if counted is not None:
                    self._count(CLUSTER_COUNTS, counted)
            elif kind == EXTENSION:
                entry.extensions.append(encoded)
                if counted is not None:
                    self._count(EXTENSION_COUNTS, counted)
            else:
                entry.flux_configurations.append(encoded)
        partition.others.sort(key=lambda other: other[0])
        for entry in partition.entries:
            self._totals["extensions"] += len(entry.extensions)
            self._totals["fluxConfigurations"] += len(entry.flux_configurations)
            if entry.resource is None:
                self._totals["orphanedResources"] += len(entry.extensions) + len(entry.flux_configurations)
                for child in (*entry.extensions, *entry.flux_configurations):
                    _check_line(child)  # not evaluated without their cluster: checked here
            else:
                self._totals["clusters"] += 1
        return partition

    def _count(self, names: tuple[str, ...], values: tuple[str, ...]) -> None:
        for name, value in zip(names, values, strict=True):
            self._counts[name][value] += 1

    def raise_bad_line(self, failure: LineCheckFailed) -> NoReturn:
        """The input's first bad line as an InputError, once a line routed unparsed failed its checks."""
        if self.first_bad_line is not None:
            self.first_bad_line()
        raise InputError(self.places.partition(":")[0], str(failure))

    @property
    def warnings(self) -> list[str]:
        """Each resource id read twice, in the order the later copies were read (after :meth:`partitions`)."""
        return [text for _, text in sorted(self._duplicates, key=lambda duplicate: duplicate[0])]

    def summary(self) -> FleetSummary:
        """What ``arcpolicy inventory`` prints (after :meth:`partitions`), as :meth:`Fleet.summary` counts it."""
        counts = self._counts
        return FleetSummary(
            clusters=self._totals["clusters"], extensions=self._totals["extensions"],
            flux_configurations=self._totals["fluxConfigurations"], other_resources=self._totals["otherResources"],
            orphaned_resources=self._totals["orphanedResources"], subscriptions=len(counts["subscription"]),
            by_cluster_type=ordered_counts(counts["clusterType"]),
            by_distribution=ordered_counts(counts["distribution"]),
            by_connectivity=ordered_counts(counts["connectivity"]),
            by_extension_type=ordered_counts(counts["extensionType"]),
            by_extension_state=ordered_counts(counts["extensionState"]))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


CLUSTER_COUNTS = ("clusterType", "distribution", "connectivity", "subscription")
EXTENSION_COUNTS = ("extensionType", "extensionState")
COUNTED = CLUSTER_COUNTS + EXTENSION_COUNTS


def _cluster_counts(type_key: str, resource_id: str, properties: dict[str, Any]) -> tuple[str, ...]:
    managed = type_key == ids.MANAGED_CLUSTER_TYPE
    return (CLUSTER_TYPE_NAMES[type_key],
            "aks (managed)" if managed else str(properties.get("distribution") or "unknown"),
            NOT_APPLICABLE if managed else str(properties.get("connectivityStatus") or "unknown"),
            ids.parse_resource_id(resource_id).subscription_id or "")


def _extension_counts(properties: dict[str, Any]) -> tuple[str, ...]:
    return (str(properties.get("extensionType") or "unknown").lower(),
            str(properties.get("provisioningState") or "unknown"))


def _run_lines(item: Routed) -> Iterator[Routed]:
    """A run's lines as the items they would have been routed as one by one."""
    position, key, owner, _, kinds, lines = item
    yield position, key, owner, CLUSTER, None, lines[0]  # type: ignore[misc]
    for offset in range(1, len(lines)):
        line = lines[offset]  # type: ignore[index]
        child_id = line[7:line.index(b'"', 7)].decode()  # a plain line: it starts with its id, spelled literally
        yield position + offset, ids.normalize(child_id), owner, kinds[offset], None, line  # type: ignore[index,misc]


def _resource_id(item: Routed) -> str:
    return parse_line(item[5])["id"]


def _check_line(encoded: bytes) -> None:
    """A line routed unparsed, checked where it will not be evaluated (:class:`LineCheckFailed`)."""
    if encoded[-1:] == b"\n":
        parse_line(encoded)


class ReadOrder:
    """The fleet in the units the history store keeps and in the order it was read, as :meth:`Fleet.groups`
    gives it (each cluster with its children, in the order the clusters were first read, then each other
    resource alone), collected a partition at a time (:meth:`add`) and given back through an external sort."""

    def __init__(self) -> None:
        self._order = ExternalSort()

    def add(self, partition: FleetPartition) -> None:
        for rank, entry in zip(partition.ranks, partition.entries, strict=True):
            members = [*([entry.resource] if entry.resource is not None else []), *entry.extensions,
                       *entry.flux_configurations]
            self._order.add((0, rank), pickle.dumps(members, protocol=pickle.HIGHEST_PROTOCOL))
        for position, encoded in partition.others:
            self._order.add((1, position), pickle.dumps([encoded], protocol=pickle.HIGHEST_PROTOCOL))

    def __iter__(self) -> Iterator[list[bytes]]:
        """Each group as its resources' JSON (compact, or an NDJSON line as read), once."""
        for _, members in self._order:
            yield pickle.loads(members)

    def close(self) -> None:
        self._order.close()

    def __enter__(self) -> ReadOrder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
