"""Pydantic models mirror ARM JSON exactly: typed views, unknown properties preserved."""

import copy

from engine.inventory.generator import generate_fleet
from engine.models import (
    ConnectedCluster,
    Extension,
    ExtensionScope,
    FluxConfiguration,
    ManagedCluster,
    typed_view,
)

EXTENSION_JSON = {
    "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c1"
          "/providers/Microsoft.KubernetesConfiguration/extensions/azuremonitor-containers",
    "name": "azuremonitor-containers",
    "type": "Microsoft.KubernetesConfiguration/extensions",
    "properties": {
        "extensionType": "Microsoft.AzureMonitor.Containers",
        "autoUpgradeMinorVersion": False,
        "releaseTrain": "Stable",
        "version": "3.1.24",
        "scope": {"Cluster": {"releaseNamespace": "kube-system"}},
        "configurationSettings": {"amalogs.useAADAuth": "true"},
        "configurationProtectedSettings": {"omsagent.secret.key": "s3cr3t-value"},
        "provisioningState": "Succeeded",
        "aksAssignedIdentity": {"type": "SystemAssigned"},
        "someFutureProperty": {"nested": [1, 2]},
    },
}


def test_extension_typed_view():
    extension = Extension.model_validate(EXTENSION_JSON)
    assert extension.extension_type == "microsoft.azuremonitor.containers"
    assert extension.properties.release_train == "Stable"
    assert extension.properties.auto_upgrade_minor_version is False
    assert extension.properties.scope is not None and extension.properties.scope.kind == "cluster"
    assert extension.properties.scope.cluster.release_namespace == "kube-system"
    assert extension.cluster_id.endswith("/connectedClusters/c1")


def test_protected_settings_never_show_in_repr():
    extension = Extension.model_validate(EXTENSION_JSON)
    assert "s3cr3t-value" not in repr(extension)
    assert "s3cr3t-value" not in str(extension.properties)


def test_round_trip_keeps_unknown_properties():
    extension = Extension.model_validate(EXTENSION_JSON)
    arm = extension.to_arm()
    assert arm["properties"]["someFutureProperty"] == {"nested": [1, 2]}
    assert arm["properties"]["aksAssignedIdentity"] == {"type": "SystemAssigned"}
    assert arm["properties"]["extensionType"] == "Microsoft.AzureMonitor.Containers"


def test_namespace_scope():
    scope = ExtensionScope.model_validate({"namespace": {"targetNamespace": "apim"}})
    assert scope.kind == "namespace" and scope.namespace.target_namespace == "apim"


def test_every_generated_resource_round_trips_through_its_typed_view():
    kinds = set()
    for resource in generate_fleet(30, seed=3):
        original = copy.deepcopy(resource)
        view = typed_view(resource)
        kinds.add(type(view))
        assert view.to_arm() == original
    assert {ConnectedCluster, ManagedCluster, Extension, FluxConfiguration} <= kinds


def test_connected_cluster_view():
    cluster = next(resource for resource in generate_fleet(5, seed=1)
                   if resource["type"] == "Microsoft.Kubernetes/connectedClusters")
    view = typed_view(cluster)
    assert isinstance(view, ConnectedCluster)
    assert view.properties.distribution == cluster["properties"]["distribution"]
    assert view.is_connected == (cluster["properties"]["connectivityStatus"] == "Connected")
    assert view.is_type("microsoft.kubernetes/CONNECTEDCLUSTERS")
