"""The sandbox as strict as ARM: what issue #26 found lenient, each answered as the published specs say.

Raw HTTPS shows the wire (status, error codes, headers); the real SDK clients show what arcpolicy sees.
"""

from __future__ import annotations

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import (
    FacetRequest,
    FacetRequestOptions,
    QueryRequest,
    QueryRequestOptions,
)

from engine import ids
from engine.inventory import load_snapshot
from tests.sandbox.test_arm import POLL, cluster_args, connected_clusters, extensions_client, raw_session

API = {"api-version": "2023-05-01"}
KC = "providers/Microsoft.KubernetesConfiguration"


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _extension_url(running, cluster_id: str, name: str) -> str:
    return f"{running.url}{cluster_id}/{KC}/extensions/{name}"


def _flux_url(running, cluster_id: str, name: str) -> str:
    return f"{running.url}{cluster_id}/{KC}/fluxConfigurations/{name}"


def _settled(running, session, url: str) -> dict:
    running.control.advance_clock(120)
    return session.get(url, params=API).json()


def _with_flux_extension(running, session, cluster_id: str) -> None:
    """A cluster with the microsoft.flux extension (a Flux configuration needs it), provisioned."""
    listed = session.get(f"{running.url}{cluster_id}/{KC}/extensions", params=API).json()["value"]
    if not any(item["properties"]["extensionType"] == "microsoft.flux" for item in listed):
        created = session.put(_extension_url(running, cluster_id, "flux"), params=API,
                              json={"properties": {"extensionType": "microsoft.flux"}})
        assert created.status_code == 201, created.text
        running.control.advance_clock(120)


def test_api_version_is_checked_per_resource_type_in_arms_error_shape(sandbox):
    session = raw_session(sandbox)
    cluster_id = connected_clusters(sandbox)[0]
    extensions = f"{sandbox.url}{cluster_id}/{KC}/extensions"
    unregistered = session.get(extensions, params={"api-version": "1999-01-01"})
    assert _error(unregistered) == (400, "NoRegisteredProviderFound")
    assert "'2023-05-01'" in unregistered.json()["error"]["message"]
    assert _error(session.get(extensions, params={"api-version": "banana"})) == (400, "InvalidApiVersionParameter")
    assert _error(session.get(extensions)) == (400, "MissingApiVersionParameter")
    assert session.get(extensions, params={"api-version": "2022-03-01"}).status_code == 200
    # the newest versions of the specification folders (extensions 2024-11-02-preview, 2025-03-01; connected clusters
    # 2025-12-01-preview, 2026-02-01-preview, 2026-05-01) are served too
    for version in ("2024-11-02-preview", "2025-03-01"):
        assert session.get(extensions, params={"api-version": version}).status_code == 200, version
    for version in ("2025-12-01-preview", "2026-02-01-preview", "2026-05-01"):
        assert session.get(f"{sandbox.url}{cluster_id}", params={"api-version": version}).status_code == 200, version
    group = ids.resource_group_id(cluster_id)
    assert _error(session.get(f"{sandbox.url}{group}", params={"api-version": "2023-05-01-preview"})) == \
        (400, "InvalidApiVersionParameter")  # resource groups are ARM's own: no provider to find
    graph = f"{sandbox.url}/providers/Microsoft.ResourceGraph/resources"
    assert _error(session.post(graph, json={"query": "resources | take 1"})) == (400, "MissingApiVersionParameter")
    assert _error(session.post(graph, params={"api-version": "1999-01-01"}, json={"query": "resources"})) == \
        (400, "NoRegisteredProviderFound")


def test_put_replaces_the_extension_and_fills_the_spec_defaults(sandbox):
    session = raw_session(sandbox)
    url = _extension_url(sandbox, connected_clusters(sandbox)[1], "replaced")
    first = session.put(url, params=API, json={"properties": {
        "extensionType": "contoso.agent", "releaseTrain": "Preview", "autoUpgradeMinorVersion": False,
        "configurationSettings": {"a": "1"}}})
    assert first.status_code == 201
    _settled(sandbox, session, url)
    second = session.put(url, params=API, json={"properties": {"extensionType": "contoso.agent"}})
    assert second.status_code == 200
    properties = _settled(sandbox, session, url)["properties"]
    assert "configurationSettings" not in properties
    assert (properties["releaseTrain"], properties["autoUpgradeMinorVersion"]) == ("Stable", True)
    assert properties["isSystemExtension"] is False


def test_read_only_and_unknown_properties_are_ignored_never_stored(sandbox):
    session = raw_session(sandbox)
    url = _extension_url(sandbox, connected_clusters(sandbox)[2], "ignored")
    created = session.put(url, params=API, json={"bogusTop": 1, "properties": {
        "extensionType": "contoso.agent", "isSystemExtension": True, "statuses": [{"code": "forged"}],
        "packageUri": "https://forged", "currentVersion": "9.9.9", "provisioningState": "Succeeded",
        "bogusProp": "x"}})
    assert created.status_code == 201
    for body in (created.json(), _settled(sandbox, session, url)):
        assert "bogusTop" not in body and "bogusProp" not in body["properties"]
        assert "packageUri" not in body["properties"] and body["properties"]["statuses"] == []
        assert body["properties"]["isSystemExtension"] is False
        assert body["properties"]["currentVersion"] != "9.9.9"


def test_patch_is_a_json_merge_patch_and_a_no_op_answers_200(sandbox):
    session = raw_session(sandbox)
    url = _extension_url(sandbox, connected_clusters(sandbox)[3], "patched")
    session.put(url, params=API, json={"properties": {"extensionType": "contoso.agent",
                                                      "configurationSettings": {"a": "1", "b": "2"},
                                                      "configurationProtectedSettings": {"token": "t0ken-value"}}})
    _settled(sandbox, session, url)
    patched = session.patch(url, params=API, json={"properties": {
        "extensionType": "contoso.other", "configurationSettings": {"a": None, "c": "3"}}})
    assert patched.status_code == 202 and "Azure-AsyncOperation" in patched.headers
    properties = _settled(sandbox, session, url)["properties"]
    assert properties["configurationSettings"] == {"b": "2", "c": "3"}  # null removed a setting, not stored null
    assert properties["extensionType"] == "contoso.agent"  # not in PatchExtension: ignored
    again = session.patch(url, params=API, json={"properties": {
        "configurationSettings": {"c": "3"}, "configurationProtectedSettings": {"token": "t0ken-value"}}})
    assert again.status_code == 200 and "Azure-AsyncOperation" not in again.headers
    assert again.json()["properties"]["provisioningState"] == "Succeeded"
    changed = session.patch(url, params=API, json={"properties": {"configurationProtectedSettings": {"token": "new"}}})
    assert changed.status_code == 202  # a protected value that differs is a change


def test_flux_merge_patch_removes_nulled_kustomizations_and_merges_nested_fields(sandbox):
    session = raw_session(sandbox)
    cluster_id = connected_clusters(sandbox)[4]
    _with_flux_extension(sandbox, session, cluster_id)
    url = _flux_url(sandbox, cluster_id, "merged")
    created = session.put(url, params=API, json={"properties": {
        "scope": "cluster", "namespace": "gitops", "gitRepository": {"url": "https://github.com/contoso/gitops"},
        "kustomizations": {"one": {"path": "./one"},
                           "two": {"path": "./two", "dependsOn": ["one"], "timeoutInSeconds": 300,
                                   "retryIntervalInSeconds": 120, "prune": True}}}})
    assert created.status_code == 201, created.text
    _settled(sandbox, session, url)
    patched = session.patch(url, params=API, json={"properties": {
        "namespace": "elsewhere", "kustomizations": {"one": None, "two": {"path": "./alt", "dependsOn": None},
                                                     "three": {"path": "./three"}}}})
    assert patched.status_code == 202, patched.text
    properties = _settled(sandbox, session, url)["properties"]
    assert set(properties["kustomizations"]) == {"two", "three"}
    two = properties["kustomizations"]["two"]
    assert (two["path"], two["timeoutInSeconds"], two["retryIntervalInSeconds"], two["prune"]) == \
        ("./alt", 300, 120, True)
    assert "dependsOn" not in two
    assert properties["kustomizations"]["three"]["name"] == "three"
    assert properties["namespace"] == "gitops"  # not in FluxConfigurationPatch: ignored


def test_flux_defaults_enums_and_create_only_properties(sandbox):
    session = raw_session(sandbox)
    cluster_id = connected_clusters(sandbox)[5]
    _with_flux_extension(sandbox, session, cluster_id)
    url = _flux_url(sandbox, cluster_id, "defaults")
    assert session.put(url, params=API, json={"properties": {
        "gitRepository": {"url": "https://github.com/contoso/gitops"}, "kustomizations": {"apps": {}}}}).status_code == 201
    properties = _settled(sandbox, session, url)["properties"]
    assert (properties["scope"], properties["namespace"], properties["sourceKind"], properties["suspend"]) == \
        ("cluster", "default", "GitRepository", False)
    assert (properties["gitRepository"]["timeoutInSeconds"], properties["gitRepository"]["syncIntervalInSeconds"]) == \
        (600, 600)
    assert properties["kustomizations"]["apps"] == {"name": "apps", "path": "", "timeoutInSeconds": 600,
                                                    "syncIntervalInSeconds": 600, "prune": False, "force": False,
                                                    "wait": True}
    for wrong in ({"scope": "galaxy"}, {"sourceKind": "Svn"}):
        refused = session.put(_flux_url(sandbox, cluster_id, "wrong"), params=API,
                              json={"properties": {**wrong, "gitRepository": {"url": "https://x"}}})
        assert _error(refused) == (400, "InvalidRequestContent")
        assert next(iter(wrong)) in refused.json()["error"]["message"]
    moved = session.put(url, params=API, json={"properties": {"namespace": "elsewhere",
                                                              "gitRepository": {"url": "https://github.com/contoso/gitops"}}})
    assert _error(moved) == (400, "PropertyChangeNotAllowed") and "namespace" in moved.json()["error"]["message"]
    rescoped = session.put(url, params=API, json={"properties": {"scope": "namespace",
                                                                 "gitRepository": {"url": "https://x"}}})
    assert _error(rescoped) == (400, "PropertyChangeNotAllowed")


def test_flux_configuration_needs_the_flux_extension(sandbox):
    session = raw_session(sandbox)
    fleet = load_snapshot(sandbox.fleet_file)
    bare = next(cluster.id for cluster in fleet.clusters() if not any(
        extension["properties"]["extensionType"].lower() == "microsoft.flux" for extension in cluster.extensions))
    refused = session.put(_flux_url(sandbox, bare, "gitops"), params=API,
                          json={"properties": {"gitRepository": {"url": "https://github.com/contoso/gitops"}}})
    assert _error(refused) == (400, "BadRequest") and "flux" in refused.json()["error"]["message"]


def test_lists_and_reads_under_a_missing_parent_are_404_in_arms_words(sandbox):
    session = raw_session(sandbox)
    cluster_id = connected_clusters(sandbox)[0]
    missing_cluster = cluster_id.rsplit("/", 1)[0] + "/nowhere"
    assert _error(session.get(f"{sandbox.url}{missing_cluster}/{KC}/extensions", params=API)) == \
        (404, "ParentResourceNotFound")
    group = ids.resource_group_id(cluster_id)
    missing_group = group.rsplit("/", 1)[0] + "/nowhere"
    clusters = {"api-version": "2024-01-01"}
    assert _error(session.get(f"{sandbox.url}{missing_group}/providers/Microsoft.Kubernetes/connectedClusters",
                              params=clusters)) == (404, "ResourceGroupNotFound")
    assert _error(session.get(f"{sandbox.url}{missing_group}/providers/Microsoft.Kubernetes/connectedClusters/x",
                              params=clusters)) == (404, "ResourceGroupNotFound")


def test_subscriptions_and_resource_groups_of_the_fleet_exist(sandbox):
    fleet = load_snapshot(sandbox.fleet_file)
    cluster_id = connected_clusters(sandbox)[0]
    subscription = ids.parse_resource_id(cluster_id).subscription_id
    group = ids.resource_group_id(cluster_id)
    kwargs = sandbox.client_kwargs()
    with ResourceManagementClient(kwargs.pop("credential"), subscription, **kwargs) as client:
        fetched = client.resource_groups.get(ids.parse_resource_id(group).resource_group)
        assert client.resource_groups.check_existence(ids.parse_resource_id(group).resource_group)
        listed = {item.name for item in client.resource_groups.list()}
        workspace = client.resources.begin_create_or_update_by_id(
            f"{group}/providers/Microsoft.OperationalInsights/workspaces/logs", {"location": fetched.location},
            api_version="2022-10-01", **POLL).result()
    assert fetched.id.lower() == group.lower() and fetched.properties.provisioning_state == "Succeeded"
    assert {ids.parse_resource_id(cluster.id).resource_group for cluster in fleet.clusters()
            if ids.parse_resource_id(cluster.id).subscription_id == subscription} <= listed
    assert workspace.properties["customerId"]
    session = raw_session(sandbox)
    got = session.get(f"{sandbox.url}/subscriptions/{subscription}", params={"api-version": "2022-12-01"}).json()
    assert (got["subscriptionId"], got["state"]) == (subscription, "Enabled")
    subscriptions = {item["subscriptionId"] for item in
                     session.get(f"{sandbox.url}/subscriptions", params={"api-version": "2022-12-01"}).json()["value"]}
    assert subscriptions == {ids.parse_resource_id(cluster.id).subscription_id for cluster in fleet.clusters()}
    with ResourceGraphClient(sandbox.client_kwargs()["credential"], **sandbox.connection().client_kwargs()) as graph:
        rows = graph.resources(QueryRequest(query="resourcecontainers | project id, type", subscriptions=[subscription],
                                            options=QueryRequestOptions(top=1000))).data
    assert {"microsoft.resources/subscriptions", "microsoft.resources/subscriptions/resourcegroups"} == \
        {row["type"] for row in rows}
    assert group.lower() in {row["id"].lower() for row in rows}


def test_connected_clusters_list_by_subscription_and_pages_with_next_link(sandbox_factory):
    running = sandbox_factory(arm_page_size=7)
    fleet = load_snapshot(running.fleet_file)
    subscription = ids.parse_resource_id(next(iter(fleet.cluster_ids()))).subscription_id
    expected = {cluster_id.lower() for cluster_id in fleet.cluster_ids()
                if ids.same(ids.parse_resource_id(cluster_id).type, ids.CONNECTED_CLUSTER_TYPE)
                and ids.parse_resource_id(cluster_id).subscription_id == subscription}
    session = raw_session(running)
    url = f"{running.url}/subscriptions/{subscription}/providers/Microsoft.Kubernetes/connectedClusters"
    seen, pages, link = [], 0, None
    page = session.get(url, params={"api-version": "2024-01-01"}).json()
    while True:
        pages += 1
        assert len(page["value"]) <= 7
        seen.extend(item["id"].lower() for item in page["value"])
        link = page.get("nextLink")
        if not link:
            break
        page = session.get(link).json()
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert pages == -(-len(expected) // 7) > 1


def test_sdk_lists_follow_next_link_across_small_pages(sandbox_factory):
    running = sandbox_factory(arm_page_size=2)
    cluster_id = max(load_snapshot(running.fleet_file).clusters(), key=lambda cluster: len(cluster.extensions)).id
    reads = running.control.stats()["reads"]
    with extensions_client(running, cluster_id) as client:
        names = [item.name for item in client.extensions.list(*cluster_args(cluster_id))]
    expected = {extension["name"] for extension in load_snapshot(running.fleet_file).cluster(cluster_id).extensions}
    assert len(expected) > 2 and sorted(names) == sorted(expected)
    assert running.control.stats()["reads"] - reads == -(-len(expected) // 2)  # one request per page of 2


def test_force_delete_removes_an_extension_at_once(sandbox):
    session = raw_session(sandbox)
    url = _extension_url(sandbox, connected_clusters(sandbox)[6], "forced")
    session.put(url, params=API, json={"properties": {"extensionType": "contoso.forced"}})
    deleted = session.delete(url, params={**API, "forceDelete": "true"})
    assert deleted.status_code == 200 and "Azure-AsyncOperation" not in deleted.headers
    assert _error(session.get(url, params=API)) == (404, "ResourceNotFound")
    slow = _extension_url(sandbox, connected_clusters(sandbox)[6], "slow")
    session.put(slow, params=API, json={"properties": {"extensionType": "contoso.slow"}})
    assert session.delete(slow, params=API).status_code == 202


def test_reads_writes_and_deletes_have_their_own_buckets_and_headers(sandbox_factory):
    running = sandbox_factory(read_limit="3/0.01", write_limit="2/0.01", delete_limit="1/0.01")
    session = raw_session(running)
    cluster_id = connected_clusters(running)[0]
    url = _extension_url(running, cluster_id, "metered")
    reads = [session.get(url, params=API) for _ in range(4)]
    assert [response.headers["x-ms-ratelimit-remaining-subscription-reads"] for response in reads] == ["2", "1", "0", "0"]
    assert reads[-1].status_code == 429 and int(reads[-1].headers["Retry-After"]) >= 1
    written = session.put(url, params=API, json={"properties": {"extensionType": "contoso.metered"}})
    assert written.headers["x-ms-ratelimit-remaining-subscription-writes"] == "1"
    deleted = session.delete(url, params=API)
    assert deleted.headers["x-ms-ratelimit-remaining-subscription-deletes"] == "0"
    throttled = session.delete(url, params=API)
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "x-ms-ratelimit-remaining-subscription-writes" not in throttled.headers
    assert session.put(url, params=API, json={"properties": {"extensionType": "contoso.metered"}}).status_code != 429


def test_resource_graph_facets_and_table_format(sandbox):
    with ResourceGraphClient(sandbox.client_kwargs()["credential"], **sandbox.connection().client_kwargs()) as client:
        response = client.resources(QueryRequest(
            query="resources | where type =~ 'microsoft.kubernetes/connectedclusters' | project id, location",
            facets=[FacetRequest(expression="location", options=FacetRequestOptions(top=2)),
                    FacetRequest(expression="nowhere")],
            options=QueryRequestOptions(top=1000)))
        table = client.resources(QueryRequest(query="resources | project id, name | take 3",
                                              options=QueryRequestOptions(result_format="table")))
    clusters = [cluster for cluster in load_snapshot(sandbox.fleet_file).clusters()
                if ids.same(cluster.resource["type"], ids.CONNECTED_CLUSTER_TYPE)]
    by_location: dict[str, int] = {}
    for cluster in clusters:
        by_location[cluster.resource["location"]] = by_location.get(cluster.resource["location"], 0) + 1
    located, missing = response.facets
    assert located.result_type == "FacetResult" and located.total_records == len(by_location)
    assert [(row["location"], row["count"]) for row in located.data] == \
        sorted(by_location.items(), key=lambda item: -item[1])[:2]
    assert missing.result_type == "FacetError" and missing.errors[0].code == "NoValidColumns"
    assert [column["name"] for column in table.data["columns"]] == ["id", "name"]
    assert len(table.data["rows"]) == 3 and all(len(row) == 2 for row in table.data["rows"])


@pytest.mark.parametrize("query", ["resources | summarize count() by location | top 2 by count_",
                                   "resources | where type =~ 'microsoft.kubernetes/connectedclusters' "
                                   "| extend lower = tolower(name) | project lower | take 2"])
def test_resource_graph_answers_the_examples_kql_forms(sandbox, query):
    with ResourceGraphClient(sandbox.client_kwargs()["credential"], **sandbox.connection().client_kwargs()) as client:
        data = client.resources(QueryRequest(query=query)).data
    assert len(data) == 2
    if "count_" in query:
        assert data[0]["count_"] >= data[1]["count_"] > 0
    else:
        assert all(row["lower"] == row["lower"].lower() for row in data)


def test_flux_put_replaces_patch_ignores_scope_and_force_delete_removes_it_at_once(sandbox):
    """Flux configurations share the extensions' path rules: a second PUT replaces (what it leaves out is gone or
    back to the spec's default), a PATCH cannot change `scope` (not in FluxConfigurationPatch), and
    FluxConfigurations_Delete takes forceDelete as Extensions_Delete does."""
    session = raw_session(sandbox)
    cluster_id = connected_clusters(sandbox)[8]
    _with_flux_extension(sandbox, session, cluster_id)
    url = _flux_url(sandbox, cluster_id, "replaced")
    created = session.put(url, params=API, json={"properties": {
        "suspend": True, "gitRepository": {"url": "https://github.com/contoso/gitops", "syncIntervalInSeconds": 60,
                                           "repositoryRef": {"branch": "release"}},
        "kustomizations": {"apps": {"path": "./apps", "prune": True}, "infra": {"path": "./infra"}}}})
    assert created.status_code == 201, created.text
    _settled(sandbox, session, url)
    replaced = session.put(url, params=API, json={"properties": {
        "gitRepository": {"url": "https://github.com/contoso/gitops"}, "kustomizations": {"apps": {"path": "./apps"}}}})
    assert replaced.status_code == 200, replaced.text
    properties = _settled(sandbox, session, url)["properties"]
    assert properties["suspend"] is False and properties["complianceState"] == "Compliant"
    assert properties["gitRepository"]["syncIntervalInSeconds"] == 600 and "repositoryRef" not in properties["gitRepository"]
    assert set(properties["kustomizations"]) == {"apps"} and properties["kustomizations"]["apps"]["prune"] is False
    rescoped = session.patch(url, params=API, json={"properties": {"scope": "namespace"}})
    assert rescoped.status_code == 200  # nothing the patch schema has changed: a no-op
    assert _settled(sandbox, session, url)["properties"]["scope"] == "cluster"
    deleted = session.delete(url, params={**API, "forceDelete": "true"})
    assert deleted.status_code == 200 and "Azure-AsyncOperation" not in deleted.headers
    assert _error(session.get(url, params=API)) == (404, "ResourceNotFound")
