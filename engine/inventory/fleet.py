"""The fleet: every cluster with its extensions and flux configurations, indexed by cluster id.

Resources are kept as compact JSON bytes (about a third of the memory of parsed dicts), so a
100,000-cluster fleet fits comfortably in memory, and a shard of it pickles cheaply to a worker
process. Evaluation gets parsed :class:`ClusterInventory` values one cluster at a time.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from engine import ids
from engine.models import Extension, FluxConfiguration, Resource, typed_view
from engine.models.contract import trusted
from engine.secret_values import remember

NOT_APPLICABLE = "NotApplicable"
CLUSTER_TYPE_NAMES = {ids.CONNECTED_CLUSTER_TYPE: "connectedClusters", ids.MANAGED_CLUSTER_TYPE: "managedClusters"}


class ClusterInventory(BaseModel):
    """One cluster as the evaluate stage sees it: its ARM JSON and that of its child resources."""

    model_config = ConfigDict(frozen=True)

    resource: dict[str, Any]
    extensions: list[dict[str, Any]] = Field(default_factory=list)
    flux_configurations: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return self.resource["id"]

    @property
    def cluster(self) -> Resource:
        """The typed view of the cluster (ConnectedCluster or ManagedCluster)."""
        return typed_view(self.resource)

    @property
    def typed_extensions(self) -> list[Extension]:
        return [Extension.model_validate(extension) for extension in self.extensions]

    @property
    def typed_flux_configurations(self) -> list[FluxConfiguration]:
        return [FluxConfiguration.model_validate(flux) for flux in self.flux_configurations]


_INVENTORY_FIELDS = set(ClusterInventory.model_fields)


class FleetSummary(BaseModel):
    """Counts that ``arcpolicy inventory`` prints; the JSON keys are part of the CLI contract."""

    model_config = ConfigDict(populate_by_name=True)

    clusters: int
    extensions: int
    flux_configurations: int = Field(alias="fluxConfigurations")
    other_resources: int = Field(alias="otherResources")
    orphaned_resources: int = Field(alias="orphanedResources")
    subscriptions: int
    by_cluster_type: dict[str, int] = Field(alias="byClusterType")
    by_distribution: dict[str, int] = Field(alias="byDistribution")
    by_connectivity: dict[str, int] = Field(alias="byConnectivity")
    by_extension_type: dict[str, int] = Field(alias="byExtensionType")
    by_extension_state: dict[str, int] = Field(alias="byExtensionState")


def ordered_counts(counter: Counter[str]) -> dict[str, int]:
    """Counts as ``inventory`` shows them: most first, then by name."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


@dataclass(slots=True)
class ClusterEntry:
    """Storage for one cluster; ``resource`` is None while only its children have been seen."""

    resource: bytes | None = None
    extensions: list[bytes] = field(default_factory=list)
    flux_configurations: list[bytes] = field(default_factory=list)


class Fleet:
    """Clusters indexed by (case-insensitive) id, with their extensions and flux configurations.

    Resources may arrive in any order (Resource Graph returns clusters and extensions from
    different tables); an extension whose cluster never arrives is reported as orphaned. A resource
    id seen twice keeps the later resource, counted once, and says so in ``warnings``, naming both
    places with ``places`` (``fleet.json: line {}``; the resources' positions by default).
    """

    def __init__(self, resources: Iterable[dict[str, Any]] = (), places: str = "resource {}"):
        self._entries: dict[str, ClusterEntry] = {}
        self._other: list[bytes] = []
        self._counts: dict[str, Counter[str]] = {
            name: Counter() for name in ("clusterType", "distribution", "connectivity", "extensionType",
                                          "extensionState", "subscription")
        }
        self._places = places
        self._positions: dict[int, int] = {}  # hash of the normalized id -> position: ints stay small at 600k
        self._added = 0
        self.warnings: list[str] = []
        self.add_all(resources)

    # ---- building -------------------------------------------------------------------------
    def add_all(self, resources: Iterable[dict[str, Any]]) -> None:
        for resource in resources:
            self.add(resource)

    def add(self, resource: dict[str, Any], position: int | None = None) -> None:
        """Index one ARM resource (cluster, extension, flux configuration or anything else); ``position``
        says where it was read (a line number), for the warning about a repeated id."""
        key = ids.normalize(resource["id"])
        resource = _located(resource)
        self._added += 1
        here = position if position is not None else self._added
        earlier = self._positions.get(hash(key))
        if earlier is not None and self._forget(key, resource):  # a hash match is confirmed by the id
            self.warnings.append(f"{resource['id']} appears twice ({self._places.format(earlier)} and "
                                 f"{self._places.format(here)}); the later one is kept")
        self._positions[hash(key)] = here
        type_key = ids.normalize(resource["type"])
        encoded = compact_json(resource)
        if type_key in ids.CLUSTER_TYPES:
            entry = self._entry(resource["id"])
            self._count_cluster(type_key, resource)
            entry.resource = encoded
            return
        owner = ids.owning_cluster_id(resource["id"])
        properties = resource.get("properties")
        if isinstance(properties, dict) and properties.get("configurationProtectedSettings"):
            remember(properties["configurationProtectedSettings"])  # secret by origin: masked in every output
        if owner is not None and type_key == ids.EXTENSION_TYPE:
            self._entry(owner).extensions.append(encoded)
            self._count_extension(resource)
        elif owner is not None and type_key == ids.FLUX_CONFIGURATION_TYPE:
            self._entry(owner).flux_configurations.append(encoded)
        else:
            self._other.append(encoded)

    def add_group(self, members: list[dict[str, Any]]) -> None:
        """One group of a fleet already built, as :meth:`groups` gave it to the history store: its ids are unique
        and a cluster's group holds its extensions and flux configurations, so a cluster's children are filed
        under it without parsing their ids. Other groups (one other resource, children whose cluster is missing)
        are added as :meth:`add` adds a resource."""
        split = split_group(members)
        if split is None:
            for member in members:
                self.add(member)
            return
        type_key, cluster, extensions, flux_configurations = split
        self._added += len(members)
        entry = self._entry(cluster["id"])
        self._count_cluster(type_key, cluster)
        entry.resource = compact_json(cluster)
        for extension in extensions:
            entry.extensions.append(compact_json(extension))
            self._count_extension(extension)
        entry.flux_configurations.extend(map(compact_json, flux_configurations))

    def _entry(self, cluster_id: str) -> ClusterEntry:
        key = ids.normalize(cluster_id)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = ClusterEntry()
        return entry

    def _forget(self, key: str, resource: dict[str, Any]) -> bool:
        """Drop the resource stored under ``key`` (and its counts), which a later one with that id
        replaces; False when there is none."""
        entry = self._entries.get(key)
        if entry is not None and entry.resource is not None:
            earlier = orjson.loads(entry.resource)
            self._count_cluster(ids.normalize(earlier["type"]), earlier, -1)
            entry.resource = None
            return True
        owner = ids.owning_cluster_id(resource["id"])
        parent = self._entries.get(ids.normalize(owner)) if owner is not None else None
        if parent is not None:
            if (earlier := _drop(parent.extensions, key)) is not None:
                self._count_extension(earlier, -1)
                return True
            if _drop(parent.flux_configurations, key) is not None:
                return True
        return _drop(self._other, key) is not None

    def _count_cluster(self, type_key: str, resource: dict[str, Any], step: int = 1) -> None:
        properties = resource.get("properties") or {}
        managed = type_key == ids.MANAGED_CLUSTER_TYPE
        self._tally("clusterType", CLUSTER_TYPE_NAMES[type_key], step)
        self._tally("distribution", "aks (managed)" if managed else str(properties.get("distribution") or "unknown"),
                    step)
        self._tally("connectivity",
                    NOT_APPLICABLE if managed else str(properties.get("connectivityStatus") or "unknown"), step)
        self._tally("subscription", ids.parse_resource_id(resource["id"]).subscription_id or "", step)

    def _count_extension(self, resource: dict[str, Any], step: int = 1) -> None:
        properties = resource.get("properties") or {}
        self._tally("extensionType", str(properties.get("extensionType") or "unknown").lower(), step)
        self._tally("extensionState", str(properties.get("provisioningState") or "unknown"), step)

    def _tally(self, name: str, value: str, step: int) -> None:
        counter = self._counts[name]
        counter[value] += step
        if counter[value] <= 0:
            del counter[value]

    # ---- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(1 for entry in self._entries.values() if entry.resource is not None)

    def __contains__(self, cluster_id: object) -> bool:
        entry = self._entries.get(ids.normalize(str(cluster_id)))
        return entry is not None and entry.resource is not None

    def cluster_ids(self) -> Iterator[str]:
        for entry in self._entries.values():
            if entry.resource is not None:
                yield orjson.loads(entry.resource)["id"]

    def cluster(self, cluster_id: str) -> ClusterInventory | None:
        entry = self._entries.get(ids.normalize(cluster_id))
        if entry is None or entry.resource is None:
            return None
        return _inventory(entry)

    def clusters(self) -> Iterator[ClusterInventory]:
        """Every cluster with its children, in the order the clusters were first seen."""
        for entry in self._entries.values():
            if entry.resource is not None:
                yield _inventory(entry)

    def resources(self) -> Iterator[dict[str, Any]]:
        """Every resource of the fleet as ARM JSON: each cluster then its children, then the rest."""
        for entry in self._entries.values():
            if entry.resource is not None:
                yield orjson.loads(entry.resource)
            for child in (*entry.extensions, *entry.flux_configurations):
                yield orjson.loads(child)
        for other in self._other:
            yield orjson.loads(other)

    def groups(self) -> Iterator[list[dict[str, Any]]]:
        """The fleet in the units the history store keeps: each cluster with its children (or children whose
        cluster is missing), then each other resource alone; concatenated, they are :meth:`resources`."""
        for members in self.encoded_groups():
            yield [orjson.loads(member) for member in members]

    def encoded_groups(self) -> Iterator[list[bytes]]:
        """:meth:`groups` as each resource's compact JSON, as the fleet holds it (the store needs no parsing)."""
        for entry in self._entries.values():
            yield [*([entry.resource] if entry.resource is not None else []), *entry.extensions,
                   *entry.flux_configurations]
        for other in self._other:
            yield [other]

    def other_resources(self) -> Iterator[dict[str, Any]]:
        """Resources that are neither clusters nor their children (resource groups, workspaces ...)."""
        for other in self._other:
            yield orjson.loads(other)

    def shards(self, count: int) -> list[FleetShard]:
        """Split the clusters into ``count`` near-equal shards for parallel evaluation."""
        count = max(1, count)
        buckets: list[list[ClusterEntry]] = [[] for _ in range(count)]
        position = 0
        for entry in self._entries.values():
            if entry.resource is not None:
                buckets[position % count].append(entry)
                position += 1
        return [FleetShard(bucket) for bucket in buckets if bucket]

    def fingerprint(self) -> str:
        """A digest of the whole inventory, independent of resource order and id casing."""
        digests = sorted(hashlib.sha256(encoded).digest() for encoded in self._all_encoded())
        return "sha256:" + hashlib.sha256(b"".join(digests)).hexdigest()

    def _all_encoded(self) -> Iterator[bytes]:
        for entry in self._entries.values():
            if entry.resource is not None:
                yield entry.resource
            yield from entry.extensions
            yield from entry.flux_configurations
        yield from self._other

    def summary(self) -> FleetSummary:
        extensions = sum(len(entry.extensions) for entry in self._entries.values())
        flux = sum(len(entry.flux_configurations) for entry in self._entries.values())
        orphaned = sum(len(entry.extensions) + len(entry.flux_configurations)
                       for entry in self._entries.values() if entry.resource is None)

        return FleetSummary(
            clusters=len(self),
            extensions=extensions,
            flux_configurations=flux,
            other_resources=len(self._other),
            orphaned_resources=orphaned,
            subscriptions=len(self._counts["subscription"]),
            by_cluster_type=ordered_counts(self._counts["clusterType"]),
            by_distribution=ordered_counts(self._counts["distribution"]),
            by_connectivity=ordered_counts(self._counts["connectivity"]),
            by_extension_type=ordered_counts(self._counts["extensionType"]),
            by_extension_state=ordered_counts(self._counts["extensionState"]),
        )


@dataclass(slots=True)
class FleetShard:
    """A picklable slice of a fleet's clusters, for one worker process."""

    entries: list[ClusterEntry]

    def __len__(self) -> int:
        return len(self.entries)

    def clusters(self, parse: Callable[[bytes], dict[str, Any]] = orjson.loads) -> Iterator[ClusterInventory]:
        """Each cluster with its children, parsed by ``parse`` (a scan's :func:`engine.inventory.lines.parse_line`
        also checks the lines it routed unparsed)."""
        for entry in self.entries:
            yield _inventory(entry, parse)


def _drop(stored: list[bytes], key: str) -> dict[str, Any] | None:
    """Remove the resource whose normalized id is ``key`` from ``stored``; the removed resource, or None."""
    for position, encoded in enumerate(stored):
        resource = orjson.loads(encoded)
        if ids.normalize(resource["id"]) == key:
            del stored[position]
            return resource
    return None


def split_group(members: list[dict[str, Any]]) -> tuple[str, dict[str, Any], list[dict[str, Any]],
                                                       list[dict[str, Any]]] | None:
    """A cluster's group as :meth:`Fleet.groups` gives it (the cluster, then its extensions and flux
    configurations) as its cluster's type key, the cluster, its extensions and its flux configurations, each
    located as ARM names locations; None for another group."""
    type_key = ids.normalize(members[0]["type"])
    if type_key not in ids.CLUSTER_TYPES:
        return None
    extensions, flux_configurations = [], []
    for child in members[1:]:
        kept = extensions if ids.normalize(child["type"]) == ids.EXTENSION_TYPE else flux_configurations
        kept.append(_located(child))
    return type_key, _located(members[0]), extensions, flux_configurations


def cluster_of_group(members: list[dict[str, Any]]) -> ClusterInventory | None:
    """What :meth:`Fleet.clusters` gives for a cluster's group (None for another group), without a fleet: what-if
    evaluates a stored scan's groups as it reads them."""
    split = split_group(members)
    if split is None:
        return None
    _, cluster, extensions, flux_configurations = split
    return trusted(ClusterInventory, {"resource": cluster, "extensions": extensions,
                                      "flux_configurations": flux_configurations}, _INVENTORY_FIELDS)


def _located(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with its location as ARM's name: what ARM holds and rules, templates and writes see."""
    location = resource.get("location")
    if isinstance(location, str) and location != (name := ids.location_name(location)):
        return {**resource, "location": name}
    return resource


def compact_json(resource: Any) -> bytes:
    """``resource`` as exact-size JSON bytes (orjson's own buffer keeps several KiB of slack, which a fleet or
    a scan's records held by the thousand would multiply)."""
    return bytes(memoryview(orjson.dumps(resource)))


def _inventory(entry: ClusterEntry, parse: Callable[[bytes], dict[str, Any]] = orjson.loads) -> ClusterInventory:
    assert entry.resource is not None
    return trusted(ClusterInventory, {
        "resource": parse(entry.resource),
        "extensions": [parse(extension) for extension in entry.extensions],
        "flux_configurations": [parse(flux) for flux in entry.flux_configurations],
    }, _INVENTORY_FIELDS)
