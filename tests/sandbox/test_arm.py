"""ARM in the sandbox through the real SDK clients: extension lifecycle, rules, limits, LRO shapes."""

from __future__ import annotations

import json

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration import models as k8s
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import GenericResource, ResourceGroup

from engine import ids
from engine.azure.connection import SANDBOX_TOKEN
from engine.inventory import Fleet, load_snapshot
from engine.inventory.resource_graph import ResourceGraphSource

POLL = {"polling_interval": 0.02}
HOUR = 3600


def connected_clusters(running) -> list[str]:
    return [cluster.id for cluster in load_snapshot(running.fleet_file).clusters()
            if ids.same(cluster.resource["type"], ids.CONNECTED_CLUSTER_TYPE)
            and cluster.resource["properties"]["connectivityStatus"] == "Connected"
            and "arcpolicy.io/node-architectures" not in cluster.resource.get("tags", {})]


def raw_session(running) -> requests.Session:
    """Plain HTTPS to look at the wire: ARM's status codes and headers."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override the sandbox CA
    session.verify = str(running.endpoint.ca_bundle)
    session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
    return session


def extensions_client(running, cluster_id: str) -> SourceControlConfigurationClient:
    kwargs = running.client_kwargs()
    return SourceControlConfigurationClient(kwargs.pop("credential"), ids.parse_resource_id(cluster_id)
                                            .subscription_id, **kwargs)


def cluster_args(cluster_id: str) -> tuple[str, str, str, str]:
    parsed = ids.parse_resource_id(cluster_id)
    namespace_type = parsed.type.split("/")
    return parsed.resource_group, namespace_type[0], namespace_type[1], parsed.name


def extension(kind: str, protected: dict[str, str] | None = None, namespace: str | None = None) -> k8s.Extension:
    scope = k8s.Scope(namespace=k8s.ScopeNamespace(target_namespace=namespace)) if namespace else \
        k8s.Scope(cluster=k8s.ScopeCluster(release_namespace="contoso"))
    return k8s.Extension(extension_type=kind, scope=scope, configuration_settings={"a": "b"},
                         configuration_protected_settings=protected)


def test_extension_is_creating_then_succeeds_when_the_simulated_clock_moves(sandbox):
    cluster_id = connected_clusters(sandbox)[0]
    with extensions_client(sandbox, cluster_id) as client:
        poller = client.extensions.begin_create(*cluster_args(cluster_id), "monitoring",
                                                extension("contoso.monitoring"), **POLL)
        assert client.extensions.get(*cluster_args(cluster_id), "monitoring").provisioning_state == "Creating"
        sandbox.control.advance_clock(60)
        created = poller.result()
        listed = [item.name for item in client.extensions.list(*cluster_args(cluster_id))]
    assert created.provisioning_state == "Succeeded"
    assert created.configuration_protected_settings in ({}, None)
    assert "monitoring" in listed
    fleet = Fleet(ResourceGraphSource(sandbox.connection()).resources())  # ARM writes reach Resource Graph
    states = {item["name"]: item["properties"]["provisioningState"] for item in fleet.cluster(cluster_id).extensions}
    assert states["monitoring"] == "Succeeded"


def test_offline_cluster_keeps_extensions_pending_and_fails_protected_ones_after_48_hours(sandbox):
    cluster_id = connected_clusters(sandbox)[1]
    sandbox.control.set_connectivity(cluster_id, "Offline")
    with extensions_client(sandbox, cluster_id) as client:
        client.extensions.begin_create(*cluster_args(cluster_id), "plain", extension("contoso.plain"), **POLL)
        client.extensions.begin_create(*cluster_args(cluster_id), "secret", extension(
            "contoso.secret", protected={"token": "s3cr3t-value"}), **POLL)
        sandbox.control.advance_clock(47 * HOUR)
        get = lambda name: client.extensions.get(*cluster_args(cluster_id), name)  # noqa: E731
        assert (get("plain").provisioning_state, get("secret").provisioning_state) == ("Pending", "Pending")
        sandbox.control.advance_clock(2 * HOUR)
        failed = get("secret")
        assert (get("plain").provisioning_state, failed.provisioning_state) == ("Pending", "Failed")
        assert failed.error_info.code == "ProtectedSettingsExpired"
        assert "s3cr3t-value" not in str(failed.as_dict())
        sandbox.control.set_connectivity(cluster_id, "Connected")
        assert get("plain").provisioning_state == "Succeeded"
        assert get("secret").provisioning_state == "Failed"


def test_reconnecting_within_48_hours_saves_protected_settings(sandbox):
    cluster_id = connected_clusters(sandbox)[2]
    sandbox.control.set_connectivity(cluster_id, "Offline")
    with extensions_client(sandbox, cluster_id) as client:
        poller = client.extensions.begin_create(*cluster_args(cluster_id), "secret", extension(
            "contoso.secret", protected={"token": "x"}), **POLL)
        sandbox.control.advance_clock(40 * HOUR)
        sandbox.control.set_connectivity(cluster_id, "Connected")
        sandbox.control.advance_clock(10 * HOUR)
        assert poller.result().provisioning_state == "Succeeded"


def test_arm64_only_cluster_fails_extensions_except_flux_and_defender(sandbox):
    cluster_id = connected_clusters(sandbox)[3]
    sandbox.control.set_node_architectures(cluster_id, "arm64")
    with extensions_client(sandbox, cluster_id) as client:
        names = {extension_.extension_type: extension_.name
                 for extension_ in client.extensions.list(*cluster_args(cluster_id))}
        for existing in ("microsoft.flux", "microsoft.azuredefender.kubernetes"):
            if existing in names:
                client.extensions.begin_delete(*cluster_args(cluster_id), names[existing], **POLL)
        sandbox.control.advance_clock(60)
        failing = client.extensions.begin_create(*cluster_args(cluster_id), "monitoring",
                                                 extension("contoso.monitoring"), **POLL)
        flux = client.extensions.begin_create(*cluster_args(cluster_id), "flux2", extension("microsoft.flux"), **POLL)
        defender = client.extensions.begin_create(*cluster_args(cluster_id), "defender2",
                                                  extension("microsoft.azuredefender.kubernetes"), **POLL)
        sandbox.control.advance_clock(60)
        with pytest.raises(HttpResponseError, match="UnsupportedNodeArchitecture"):
            failing.result()
        assert flux.result().provisioning_state == "Succeeded"
        assert defender.result().provisioning_state == "Succeeded"
        sandbox.control.set_node_architectures(cluster_id, "amd64,arm64")
        mixed = client.extensions.begin_create(*cluster_args(cluster_id), "other", extension("contoso.other"), **POLL)
        sandbox.control.advance_clock(60)
        assert mixed.result().provisioning_state == "Succeeded"


def test_second_cluster_scoped_instance_conflicts_but_namespace_scoped_types_may_repeat(sandbox):
    cluster_id = connected_clusters(sandbox)[4]
    with extensions_client(sandbox, cluster_id) as client:
        client.extensions.begin_create(*cluster_args(cluster_id), "one", extension("contoso.single"), **POLL)
        sandbox.control.advance_clock(60)
        with pytest.raises(ResourceExistsError) as raised:
            client.extensions.begin_create(*cluster_args(cluster_id), "two", extension("contoso.single"), **POLL)
        assert raised.value.status_code == 409
        for name in ("gw-a", "gw-b"):
            client.extensions.begin_create(*cluster_args(cluster_id), name, extension(
                "microsoft.apimanagement", namespace=name), **POLL)
        sandbox.control.advance_clock(60)
        kinds = [item.extension_type for item in client.extensions.list(*cluster_args(cluster_id))]
    assert kinds.count("microsoft.apimanagement") >= 2
    assert kinds.count("contoso.single") == 1


def test_update_and_delete_run_as_long_running_operations(sandbox):
    cluster_id = connected_clusters(sandbox)[5]
    with extensions_client(sandbox, cluster_id) as client:
        client.extensions.begin_create(*cluster_args(cluster_id), "ext", extension("contoso.ext"), **POLL)
        sandbox.control.advance_clock(60)
        updating = client.extensions.begin_update(*cluster_args(cluster_id), "ext", k8s.PatchExtension(
            configuration_settings={"c": "d"}), **POLL)
        assert client.extensions.get(*cluster_args(cluster_id), "ext").provisioning_state == "Updating"
        sandbox.control.advance_clock(60)
        updated = updating.result()
        assert updated.configuration_settings == {"a": "b", "c": "d"}
        deleting = client.extensions.begin_delete(*cluster_args(cluster_id), "ext", **POLL)
        sandbox.control.advance_clock(60)
        deleting.result()
        assert "ext" not in [item.name for item in client.extensions.list(*cluster_args(cluster_id))]


def test_lro_wire_shapes_follow_arm_conventions(sandbox):
    cluster_id = connected_clusters(sandbox)[6]
    session = raw_session(sandbox)
    url = f"{sandbox.url}{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/wire"
    created = session.put(url, params={"api-version": "2023-05-01"},
                          json={"properties": {"extensionType": "contoso.wire"}})
    assert created.status_code == 201
    assert created.json()["properties"]["provisioningState"] == "Creating"
    status_url = created.headers["Azure-AsyncOperation"]
    assert session.get(status_url).json()["status"] == "InProgress"
    sandbox.control.advance_clock(60)
    assert session.get(status_url).json()["status"] == "Succeeded"
    deleted = session.delete(url, params={"api-version": "2023-05-01"})
    assert deleted.status_code == 202 and "Azure-AsyncOperation" in deleted.headers
    assert session.get(deleted.headers["Location"]).status_code == 202
    sandbox.control.advance_clock(60)
    assert session.get(deleted.headers["Location"]).status_code == 204
    assert session.get(url, params={"api-version": "2023-05-01"}).status_code == 404
    missing_version = session.get(url)
    assert missing_version.status_code == 400
    assert missing_version.json()["error"]["code"] == "MissingApiVersionParameter"


def test_writes_are_rate_limited_per_subscription_with_arm_headers(sandbox_factory):
    running = sandbox_factory(write_limit="3/0.01")
    cluster_id = connected_clusters(running)[0]
    subscription = ids.parse_resource_id(cluster_id).subscription_id
    kwargs = running.client_kwargs()
    remaining: list[str] = []
    with ResourceManagementClient(kwargs.pop("credential"), subscription, **kwargs) as client:
        for number in range(3):
            client.resource_groups.create_or_update(f"rg-limit-{number}", ResourceGroup(location="eastus"), cls=lambda
                                                    response, *_: remaining.append(response.http_response.headers[
                                                        "x-ms-ratelimit-remaining-subscription-writes"]))
        with pytest.raises(HttpResponseError) as raised:
            client.resource_groups.create_or_update("rg-limit-3", ResourceGroup(location="eastus"))
    assert remaining == ["2", "1", "0"]
    assert raised.value.status_code == 429
    assert int(raised.value.response.headers["Retry-After"]) >= 1
    assert running.control.stats()["throttled"] == 1


def test_generic_resources_and_list_keys_for_deploy_if_not_exists_templates(sandbox):
    subscription = ids.parse_resource_id(connected_clusters(sandbox)[0]).subscription_id
    kwargs = sandbox.client_kwargs()
    with ResourceManagementClient(kwargs.pop("credential"), subscription, **kwargs) as client:
        group = client.resource_groups.create_or_update("rg-monitoring", ResourceGroup(location="eastus"))
        workspace_id = f"{group.id}/providers/Microsoft.OperationalInsights/workspaces/logs"
        created = client.resources.begin_create_or_update_by_id(
            workspace_id, GenericResource(location="eastus", properties={"sku": {"name": "PerGB2018"}}),
            api_version="2022-10-01", **POLL).result()
        fetched = client.resources.get_by_id(workspace_id, api_version="2022-10-01")
        orphan = f"/subscriptions/{subscription}/resourceGroups/nope/providers/Microsoft.Storage/storageAccounts/x"
        with pytest.raises(HttpResponseError, match="ResourceGroupNotFound"):
            client.resources.begin_create_or_update_by_id(orphan, GenericResource(location="eastus"),
                                                          api_version="2023-01-01")
    assert created.properties["provisioningState"] == "Succeeded"
    assert fetched.properties["customerId"] and fetched.type == "Microsoft.OperationalInsights/workspaces"
    session = raw_session(sandbox)
    keys = session.post(f"{sandbox.url}{workspace_id}/sharedKeys", params={"api-version": "2020-08-01"}).json()
    again = session.post(f"{sandbox.url}{workspace_id}/listKeys", params={"api-version": "2015-03-20"}).json()
    assert keys["primarySharedKey"] and keys == again


def test_flux_configuration_lifecycle_through_the_sdk(sandbox):
    cluster_id = connected_clusters(sandbox)[7]
    with extensions_client(sandbox, cluster_id) as client:
        names = {item.extension_type: item.name for item in client.extensions.list(*cluster_args(cluster_id))}
        if "microsoft.flux" not in names:
            client.extensions.begin_create(*cluster_args(cluster_id), "flux", extension("microsoft.flux"), **POLL)
        poller = client.flux_configurations.begin_create_or_update(*cluster_args(cluster_id), "gitops", k8s.FluxConfiguration(
            scope="cluster", namespace="gitops", source_kind="GitRepository",
            git_repository=k8s.GitRepositoryDefinition(url="https://github.com/contoso/gitops",
                                                       repository_ref=k8s.RepositoryRefDefinition(branch="main")),
            kustomizations={"apps": k8s.KustomizationDefinition(path="./apps")}), **POLL)
        creating = client.flux_configurations.get(*cluster_args(cluster_id), "gitops")
        sandbox.control.advance_clock(60)
        created = poller.result()
    assert (creating.provisioning_state, creating.compliance_state, creating.statuses) == ("Creating", "Pending", [])
    assert (created.provisioning_state, created.compliance_state) == ("Succeeded", "Compliant")
    assert [(status.kind, status.name, status.compliance_state) for status in created.statuses] == [
        ("GitRepository", "gitops", "Compliant"), ("Kustomization", "gitops-apps", "Compliant")]
    assert created.source_synced_commit_id.startswith("main/")


def test_state_survives_a_restart(sandbox_factory):
    first = sandbox_factory()
    cluster_id = connected_clusters(first)[0]
    with extensions_client(first, cluster_id) as client:
        client.extensions.begin_create(*cluster_args(cluster_id), "kept", extension("contoso.kept"), **POLL)
    first.control.advance_clock(3 * HOUR)
    ca = first.endpoint.ca_bundle.read_bytes()
    first.server.stop()
    second = sandbox_factory(state_dir=first.state_dir)
    assert second.endpoint.ca_bundle.read_bytes() == ca
    with extensions_client(second, cluster_id) as client:
        assert client.extensions.get(*cluster_args(cluster_id), "kept").provisioning_state == "Succeeded"


def _fleet_with_extensions_mid_operation(path) -> tuple[str, str]:
    """A connected and an offline cluster whose extensions the fleet file holds mid-operation."""
    group = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    resources = []
    for name, connectivity in (("online", "Connected"), ("offline", "Offline")):
        cluster_id = f"{group}/providers/Microsoft.Kubernetes/connectedClusters/{name}"
        resources.append({"id": cluster_id, "name": name, "type": "Microsoft.Kubernetes/connectedClusters",
                          "location": "eastus", "properties": {"connectivityStatus": connectivity}})
        for extension_name, state in (("creating", "Creating"), ("updating", "Updating"), ("pending", "Pending")):
            resources.append({"id": f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/"
                                    f"{extension_name}", "name": extension_name,
                              "type": "Microsoft.KubernetesConfiguration/extensions",
                              "properties": {"extensionType": f"contoso.{extension_name}", "provisioningState": state}})
    path.write_text(json.dumps(resources))
    return f"{group}/providers/Microsoft.Kubernetes/connectedClusters/online", \
        f"{group}/providers/Microsoft.Kubernetes/connectedClusters/offline"


def test_states_the_fleet_file_holds_mid_operation_move_on_the_clock_like_the_sandboxs_own(sandbox_factory, tmp_path):
    online, offline = _fleet_with_extensions_mid_operation(tmp_path / "fleet.json")
    running = sandbox_factory(fleet=tmp_path / "fleet.json", provisioning_seconds=30)

    def states(cluster_id: str) -> dict[str, str]:
        with extensions_client(running, cluster_id) as client:
            return {item.name: item.provisioning_state for item in client.extensions.list(*cluster_args(cluster_id))}

    assert states(online) == {"creating": "Creating", "updating": "Updating", "pending": "Creating"}
    running.control.advance_clock(31)
    assert states(online) == dict.fromkeys(("creating", "updating", "pending"), "Succeeded")
    assert states(offline) == dict.fromkeys(("creating", "updating", "pending"), "Pending")
    running.control.set_connectivity(offline, "Connected")
    assert set(states(offline).values()) == {"Succeeded"}  # loaded more than 30 simulated seconds ago
