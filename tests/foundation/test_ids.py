"""ARM ids: parsing, case-insensitive comparison, ownership of extension resources."""

import pytest

from engine import ids

CLUSTER = "/subscriptions/0000-1/resourceGroups/rg-Retail/providers/Microsoft.Kubernetes/connectedClusters/store-1"
EXTENSION = CLUSTER + "/providers/Microsoft.KubernetesConfiguration/extensions/flux"


def test_parses_a_cluster_id():
    parsed = ids.parse_resource_id(CLUSTER)
    assert parsed.subscription_id == "0000-1"
    assert parsed.resource_group == "rg-Retail"
    assert parsed.type == "Microsoft.Kubernetes/connectedClusters"
    assert parsed.name == "store-1"
    assert parsed.parent is None


def test_parses_an_extension_resource_with_its_parent():
    parsed = ids.parse_resource_id(EXTENSION)
    assert parsed.type == "Microsoft.KubernetesConfiguration/extensions"
    assert parsed.name == "flux"
    assert parsed.parent is not None and parsed.parent.raw == CLUSTER


@pytest.mark.parametrize(("resource_id", "expected_type", "expected_name"), [
    ("/subscriptions/s1", "Microsoft.Resources/subscriptions", "s1"),
    ("/subscriptions/s1/resourceGroups/g1", "Microsoft.Resources/resourceGroups", "g1"),
    ("/subscriptions/s1/resourceGroups/g1/providers/Microsoft.OperationalInsights/workspaces/ws",
     "Microsoft.OperationalInsights/workspaces", "ws"),
    ("/providers/Microsoft.Authorization/policyDefinitions/abc", "Microsoft.Authorization/policyDefinitions", "abc"),
    ("/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default",
     "Microsoft.Storage/storageAccounts/blobServices", "default"),
])
def test_types_and_names_of_other_ids(resource_id, expected_type, expected_name):
    parsed = ids.parse_resource_id(resource_id)
    assert (parsed.type, parsed.name) == (expected_type, expected_name)


@pytest.mark.parametrize("bad", ["", "subscriptions/s1", "/subscriptions/s1/resourceGroups/g/providers",
                                 "/subscriptions/s1/resourceGroups/g/providers/Microsoft.X/things",
                                 "/subscriptions/s1/bogus"])
def test_malformed_ids_are_rejected(bad):
    with pytest.raises(ids.ResourceIdError):
        ids.parse_resource_id(bad)


def test_ids_and_types_compare_case_insensitively():
    assert ids.same(CLUSTER, CLUSTER.upper())
    assert ids.same("microsoft.kubernetesconfiguration/extensions", "Microsoft.KubernetesConfiguration/extensions")
    assert not ids.same(CLUSTER, CLUSTER + "x")
    assert ids.same(None, None) and not ids.same(None, CLUSTER)


def test_owning_cluster_is_the_id_prefix_whatever_the_casing():
    assert ids.owning_cluster_id(EXTENSION) == CLUSTER
    lower = EXTENSION.lower()
    assert ids.same(ids.owning_cluster_id(lower), CLUSTER)
    assert ids.owning_cluster_id(CLUSTER) is None
    # an extension resource on something that is not a cluster belongs to no cluster
    assert ids.owning_cluster_id(
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm"
        "/providers/Microsoft.KubernetesConfiguration/extensions/x") is None
    assert ids.owning_cluster_id("not-an-id") is None


def test_scope_containment():
    parsed = ids.parse_resource_id(EXTENSION)
    assert parsed.is_under("/subscriptions/0000-1")
    assert parsed.is_under("/SUBSCRIPTIONS/0000-1/resourcegroups/RG-RETAIL")
    assert not parsed.is_under("/subscriptions/0000-10")
    assert ids.resource_group_id(EXTENSION) == "/subscriptions/0000-1/resourceGroups/rg-Retail"
