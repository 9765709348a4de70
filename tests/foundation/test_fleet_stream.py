"""FleetStream: the fleet read once, partitioned by cluster, given back a partition at a time; it must tell what
an in-memory Fleet tells (counts, warnings about repeated ids, the groups in read order), in any order of the
resources and whether its partitions and its sorts stay in memory or spill to disk."""

from __future__ import annotations

import copy
import io
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.cli.main import main
from engine.external_sort import ExternalSort
from engine.inventory import Fleet, FleetStream, load_snapshot, numbered, stream_snapshot, write_snapshot
from engine.inventory import snapshot as snapshot_module
from engine.inventory.generator import generate_fleet
from engine.inventory.lines import EXTENSION, FLUX, PlainLines, line_facts, unplain_lines
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


def grouped_lines() -> bytes:
    """A snapshot as arcpolicy and ARM list it (each cluster followed by its children, compact lines: routed as runs),
    with what breaks a run: a cluster read again later, a child repeated within its run, a child of an earlier
    cluster read later, a child spelling its cluster's id in another case, a blank line, a child to parse (a
    display-name location, a protected setting), a child before its cluster, and a last line without a newline."""
    resources = copy.deepcopy(RESOURCES)
    starts = [number for number, resource in enumerate(resources) if resource["type"].endswith("connectedClusters")]
    lines = [orjson.dumps(resource) for resource in resources]
    # edited from the last line back, so that each edit's index holds
    lines.insert(starts[16], lines.pop(starts[16] + 1))  # a child before its cluster
    protected = copy.deepcopy(resources[starts[14] + 1])
    protected["properties"]["configurationProtectedSettings"] = {"token": "s3cret"}
    lines[starts[14] + 1] = orjson.dumps(protected)
    located = copy.deepcopy(resources[starts[12] + 1])
    located["location"] = "West Europe"
    lines[starts[12] + 1] = orjson.dumps(located)
    lines.insert(starts[10] + 2, b"")
    cased = copy.deepcopy(resources[starts[8] + 1])
    cased["id"] = cased["id"].replace("/connectedClusters/", "/CONNECTEDCLUSTERS/")
    lines[starts[8] + 1] = orjson.dumps(cased)
    again = copy.deepcopy(resources[starts[6]])
    again["tags"] = {"environment": "dev"}
    lines.append(orjson.dumps(again))  # its run read line by line, the later cluster kept
    lines.append(lines.pop(starts[4] + 1))  # a child read after other clusters
    lines.insert(starts[1] + 2, lines[starts[1] + 1])  # a child repeated within its run
    return b"\n".join(lines)


@pytest.mark.parametrize("budget", [None, 3000], ids=["in memory", "spilled"])
def test_runs_of_lines_read_as_the_exact_reading_reads_them(tmp_path: Path, budget: int | None) -> None:
    """A scan routes a cluster's line with its children's lines after it as one run; what it reads is what reading
    every line the exact way reads: each cluster with exactly its children, warnings, the groups in read order."""
    fleet_file = tmp_path / "fleet.ndjson"
    fleet_file.write_bytes(grouped_lines())

    def read(defer: bool) -> tuple[dict[str, Any], list[str], list[list[Any]]]:
        stream = stream_snapshot(fleet_file, defer, **({} if budget is None else {"budget": budget}))
        clusters, order = {}, ReadOrder()
        for partition in stream.partitions():
            order.add(partition)
            for entry in partition.entries:
                if entry.resource is not None:
                    clusters[orjson.loads(entry.resource)["id"].lower()] = (
                        orjson.loads(entry.resource), [orjson.loads(child) for child in entry.extensions],
                        [orjson.loads(child) for child in entry.flux_configurations])
        return clusters, stream.warnings, [[orjson.loads(member) for member in group] for group in order]

    exact, deferred = read(False), read(True)
    assert deferred == exact
    clusters, warnings, _ = exact
    assert len(clusters) == 60 and len(warnings) == 2  # the child repeated in its run, the cluster read again


def test_a_child_read_from_its_clusters_id_has_the_facts_of_its_own_reading() -> None:
    """PlainLines reads a line that starts with the id of the cluster read before from that id: the same facts as
    line_facts reading it alone, for children and for lines that only look like them."""
    cluster = orjson.loads(orjson.dumps(RESOURCES[0]))
    cluster_id = cluster["id"]
    site_id = cluster_id.replace("Microsoft.Kubernetes/connectedClusters", "Microsoft.Web/sites")
    extension = {"id": f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/flux", "name": "flux",
                 "type": "Microsoft.KubernetesConfiguration/extensions", "properties": {}}
    variants = [
        extension, {**extension, "type": "microsoft.kubernetesconfiguration/fluxconfigurations"},
        {**extension, "type": "Microsoft.KubernetesConfiguration/sourceControlConfigurations"},
        {**extension, "id": extension["id"].replace("/providers/Microsoft.KubernetesConfiguration", "/PROVIDERS/x")},
        {**extension, "id": extension["id"] + "/more"}, {**extension, "id": extension["id"] + "/providers/a/b/c"},
        {**extension, "id": extension["id"].replace("/flux", "/providers")}, {**extension, "name": "a\\b"},
        {**extension, "properties": {"configurationProtectedSettings": {"k": "v"}}}, {**extension, "location": "X Y"},
        {**extension, "id": f"{site_id}/providers/Microsoft.KubernetesConfiguration/extensions/flux"},
        {**extension, "type": "Microsoft.Resources/resourceGroups"}, {"type": extension["type"], "id": extension["id"]},
    ]
    for first in (cluster, {**cluster, "id": site_id}, {**cluster, "id": f"{cluster_id}/providers/a/b/c"}):
        lines = [orjson.dumps(resource) + b"\n" for resource in (first, *variants, first, *variants)]
        reader = PlainLines()
        assert [reader.facts(line) for line in lines] == [line_facts(line) for line in lines]
    reader = PlainLines()
    assert [reader.facts(orjson.dumps(resource) + b"\n") for resource in (cluster, extension)][1] == (
        extension["id"], extension["type"], cluster_id, "microsoft.kubernetesconfiguration/extensions")
    # a child joins its cluster's run (one match past the cluster's id) only where its facts make it that cluster's
    # extension or flux configuration: the run keeps it as that kind; the other lines are read alone
    kinds = {"microsoft.kubernetesconfiguration/extensions": EXTENSION,
             "microsoft.kubernetesconfiguration/fluxconfigurations": FLUX}
    joined = []
    for variant in (*variants, {**extension, "type": extension["type"].upper()}, {**extension, "id": extension["id"]
                    + "-Zürich"}, {"id": extension["id"], "name": 1, "type": extension["type"]}):
        line = orjson.dumps(variant) + b"\n"
        reader = PlainLines()
        reader.facts(orjson.dumps(cluster) + b"\n", True)
        run = reader.run
        assert run is not None
        facts = line_facts(line)
        if not unplain_lines(line) and run.joins(line):  # (the reader asks only of lines its block search let pass)
            assert facts is not None and facts[2] == cluster_id and run.kinds[-1] == kinds[facts[3]]
            assert run.lines == [orjson.dumps(cluster) + b"\n", line] and not run.joins(line)  # an id once a run
            joined.append(variant)
    assert joined == [extension, variants[1], {**extension, "type": extension["type"].upper()}]


@pytest.mark.parametrize("block", [1 << 20, 97, 1], ids=["one block", "small blocks", "a byte at a time"])
def test_lines_searched_a_block_at_a_time_get_the_facts_of_each_lines_own_search(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """A scan searches a block of lines at once for what keeps a line from being routed unparsed (a backslash,
    protected settings holding something, a location to rewrite): each line gets the facts of its own search,
    wherever the blocks end, and the lines are the file's lines, numbered as read."""
    extension = orjson.loads(grouped_lines().split(b"\n")[1])
    variants = [extension, {**extension, "name": "a\\b"}, {**extension, "location": "West Europe"},
                {**extension, "location": "westeurope"}, {**extension, "tags": {"location": "East US"}},
                {**extension, "properties": {"configurationProtectedSettings": {"k": "v"}}},
                {**extension, "properties": {"configurationProtectedSettings": {"k": ""}, "x": "\r"}}]
    lines = [orjson.dumps(variant) for variant in variants]
    content = b"\n".join([*lines, b"", b" ", lines[0].replace(b",", b",\r", 1), *lines, lines[2]])
    fleet_file = tmp_path / "fleet.ndjson"
    fleet_file.write_bytes(content)
    monkeypatch.setattr(snapshot_module, "NDJSON_BLOCK", block)
    with fleet_file.open("rb") as handle:
        read = list(snapshot_module._ndjson_lines(handle))
    assert [line for _, line, _ in read] == list(io.BytesIO(content))  # as iterating the file gives them
    assert [number for number, _, _ in read] == list(range(1, len(read) + 1))
    searched = PlainLines()
    assert [searched.facts(line, True) if scanned else None for _, line, scanned in read] == \
           [facts if (facts := line_facts(line)) is not None else None for _, line, _ in read]
