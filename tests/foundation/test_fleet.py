"""The Fleet: indexing clusters with their children, in any order, case-insensitively."""

import copy
import pickle
import random

from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet

RESOURCES = list(generate_fleet(40, seed=11))


def _expected_children():
    children = {}
    for resource in RESOURCES:
        if "/providers/Microsoft.KubernetesConfiguration/" in resource["id"]:
            cluster_id = resource["id"].split("/providers/Microsoft.KubernetesConfiguration/")[0]
            children.setdefault(cluster_id.lower(), []).append(resource["id"])
    return children


def test_each_cluster_gets_exactly_its_children():
    fleet = Fleet(RESOURCES)
    clusters = [resource for resource in RESOURCES if resource["type"].endswith(("connectedClusters", "managedClusters"))]
    assert len(fleet) == len(clusters)
    expected = _expected_children()
    for cluster in fleet.clusters():
        got = [child["id"] for child in (*cluster.extensions, *cluster.flux_configurations)]
        assert sorted(got) == sorted(expected.get(cluster.id.lower(), []))


def test_order_and_casing_do_not_matter():
    shuffled = copy.deepcopy(RESOURCES)
    random.Random(4).shuffle(shuffled)
    for resource in shuffled:  # Resource Graph style: lower-case types, children ids lower-cased
        resource["type"] = resource["type"].lower()
        if "/providers/Microsoft.KubernetesConfiguration/" in resource["id"]:
            resource["id"] = resource["id"].lower()
    original, mixed = Fleet(RESOURCES), Fleet(shuffled)
    assert mixed.summary() == original.summary()
    for cluster in original.clusters():
        other = mixed.cluster(cluster.id.upper())
        assert other is not None
        assert len(other.extensions) == len(cluster.extensions)
    assert mixed.fingerprint() != original.fingerprint()  # content differs (casing)
    assert Fleet(list(reversed(RESOURCES))).fingerprint() == original.fingerprint()  # order does not


def test_orphans_and_other_resources_are_counted_not_lost():
    orphan = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/gone"
                    "/providers/Microsoft.KubernetesConfiguration/extensions/flux",
              "type": "Microsoft.KubernetesConfiguration/extensions", "properties": {"extensionType": "microsoft.flux"}}
    workspace = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/ws",
                 "type": "Microsoft.OperationalInsights/workspaces"}
    fleet = Fleet([*RESOURCES, orphan, workspace])
    summary = fleet.summary()
    assert summary.orphaned_resources == 1
    assert summary.other_resources == 1
    assert len(fleet) == len(Fleet(RESOURCES))
    assert list(fleet.other_resources()) == [workspace]
    assert "gone" not in " ".join(fleet.cluster_ids())


def test_summary_counts_match_a_direct_count():
    summary = Fleet(RESOURCES).summary()
    extensions = [resource for resource in RESOURCES if resource["type"] == "Microsoft.KubernetesConfiguration/extensions"]
    assert summary.extensions == len(extensions)
    assert sum(summary.by_extension_type.values()) == len(extensions)
    assert summary.by_extension_type["microsoft.flux"] == sum(
        1 for extension in extensions if extension["properties"]["extensionType"] == "microsoft.flux")
    connected = [resource for resource in RESOURCES if resource["type"] == "Microsoft.Kubernetes/connectedClusters"]
    assert sum(summary.by_distribution.values()) == summary.clusters
    assert summary.by_connectivity.get("Connected", 0) == sum(
        1 for cluster in connected if cluster["properties"]["connectivityStatus"] == "Connected")
    dumped = summary.model_dump(by_alias=True)
    assert {"clusters", "extensions", "fluxConfigurations", "byDistribution", "byConnectivity",
            "byExtensionType"} <= set(dumped)


def test_resources_round_trip_and_shards_cover_the_fleet():
    fleet = Fleet(RESOURCES)
    assert sorted(resource["id"] for resource in fleet.resources()) == sorted(resource["id"] for resource in RESOURCES)
    shards = fleet.shards(3)
    assert sum(len(shard) for shard in shards) == len(fleet)
    revived = [pickle.loads(pickle.dumps(shard)) for shard in shards]
    ids = sorted(cluster.id for shard in revived for cluster in shard.clusters())
    assert ids == sorted(cluster.id for cluster in fleet.clusters())


def test_cluster_inventory_typed_views():
    cluster = next(iter(Fleet(RESOURCES).clusters()))
    assert cluster.cluster.id == cluster.id
    assert [extension.id for extension in cluster.typed_extensions] == [extension["id"] for extension in cluster.extensions]
