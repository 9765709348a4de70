"""FleetStream: the fleet read once, partitioned by cluster, given back a partition at a time; it must tell what
an in-memory Fleet tells (counts, warnings about repeated ids, the groups in read order), in any order of the
resources and whether its partitions and its sorts stay in memory or spill to disk."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.cli.main import main
from engine.external_sort import ExternalSort
from engine.inventory import Fleet, FleetStream, load_snapshot, numbered, write_snapshot
from engine.inventory.generator import generate_fleet
from engine.inventory.stream import ReadOrder

RESOURCES = list(generate_fleet(60, seed=23))
REPO = Path(__file__).resolve().parents[2]


def hostile_fleet() -> list[dict[str, Any]]:
    """Shuffled, with children before their clusters, repeated ids (clusters, extensions and other resources, one
    three times), an orphaned extension, resource groups and display-name locations."""
    resources = copy.deepcopy(RESOURCES)
    random.Random(7).shuffle(resources)
    clusters = [resource for resource in resources if resource["type"].endswith("connectedClusters")]
    extensions = [resource for resource in resources if resource["type"].endswith("extensions")]
    again = copy.deepcopy(clusters[0])
    again["tags"] = {"environment": "dev"}
    again["location"] = "West Europe"
    twice = copy.deepcopy(extensions[3])
    twice["properties"]["provisioningState"] = "Failed"
    group = {"id": "/subscriptions/s/resourceGroups/rg-x", "type": "Microsoft.Resources/resourceGroups",
             "name": "rg-x", "location": "East US 2", "tags": {}}
    orphan = copy.deepcopy(extensions[0])
    orphan["id"] = orphan["id"].replace("/connectedClusters/", "/connectedClusters/gone-")
    return [group, *resources[:50], again, twice, orphan, {**group, "tags": {"a": "b"}}, *resources[50:],
            twice, {**group, "tags": {"c": "d"}}]


@pytest.mark.parametrize("budget", [None, 3000], ids=["in memory", "spilled"])
def test_the_stream_tells_what_the_fleet_tells(budget: int | None) -> None:
    resources = hostile_fleet()
    fleet = Fleet(resources, places="fleet.json: line {}")
    stream = FleetStream(numbered(resources), "fleet.json: line {}", budget=budget)
    order = ReadOrder()
    clusters = {}
    for partition in stream.partitions():
        order.add(partition)
        for entry in partition.entries:
            if entry.resource is not None:
                clusters[orjson.loads(entry.resource)["id"].lower()] = entry
    assert stream.summary() == fleet.summary()
    assert stream.warnings == fleet.warnings and len(stream.warnings) == 5
    assert list(order) == [[orjson.dumps(resource) for resource in group] for group in fleet.groups()]
    assert sorted(clusters) == sorted(cluster_id.lower() for cluster_id in fleet.cluster_ids())
    for cluster in fleet.clusters():  # each cluster with exactly its children, the later copies kept
        entry = clusters[cluster.id.lower()]
        assert orjson.loads(entry.resource) == cluster.resource
        assert [orjson.loads(child) for child in entry.extensions] == cluster.extensions
    assert stream.containers["/subscriptions/s/resourcegroups/rg-x"]["tags"] == {"c": "d"}
    assert stream.cluster_resources == fleet.summary().clusters + 1  # one cluster read twice


def test_an_empty_stream_counts_nothing() -> None:
    stream = FleetStream([])
    assert [partition.entries for partition in stream.partitions() if partition.entries] == []
    assert stream.summary() == Fleet().summary() and stream.warnings == []


@pytest.mark.parametrize("budget", [None, 500], ids=["in memory", "spilled"])
def test_the_external_sort_is_a_stable_sort(budget: int | None) -> None:
    rng = random.Random(5)
    items = [((rng.randrange(50), f"k{rng.randrange(5)}"), f"payload {number}".encode()) for number in range(3000)]
    with ExternalSort(budget) as order:
        for key, payload in items:
            order.add(key, payload)
        assert list(order) == sorted(items, key=lambda item: item[0])
        assert order.count == len(items)


@pytest.mark.parametrize("command", ["inventory", "scan"])
def test_save_writes_the_fleet_as_the_in_memory_fleet_gives_it(tmp_path: Path, command: str) -> None:
    """From NDJSON written by another tool (spaces, display-name locations), in read order, compact, its
    secrets blanked."""
    resources = hostile_fleet()
    fleet_file = tmp_path / "fleet.ndjson"
    fleet_file.write_text("".join(json.dumps(resource) + "\n" for resource in resources))
    saved = tmp_path / "saved.ndjson"
    policy = [] if command == "inventory" else ["-p", str(REPO / "policies" / "azure"), "--fail-on", "never"]
    assert main([command, "-i", str(fleet_file), "--save", str(saved), *policy]) == 0
    expected = tmp_path / "expected.ndjson"
    write_snapshot(expected, load_snapshot(fleet_file).resources(), saved=True)  # as every --save: secrets blanked
    assert saved.read_bytes() == expected.read_bytes()
