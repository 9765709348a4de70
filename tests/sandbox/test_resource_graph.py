"""The Resource Graph source against the sandbox over HTTPS with the real SDK client."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from engine import ids
from engine.azure import ArmConnection, CredentialKind, RetryPolicy
from engine.azure.retry import parse_timespan
from engine.cli.main import main
from engine.errors import InputError
from engine.inventory import Fleet, load_snapshot
from engine.inventory.resource_graph import SUBSCRIPTIONS_PER_QUERY, ResourceGraphSource, _scopes
from engine.output.redact import blank_secrets

FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=0.2)


def assert_same_fleet(actual: Fleet, expected: Fleet) -> None:
    """``actual`` (pulled) holds ``expected`` (the snapshot) and, as a real tenant does, the subscriptions and
    resource groups its resources live in (``resourcecontainers``), which the snapshot leaves out."""
    containers = {ids.normalize(resource["id"]) for resource in actual.other_resources()
                  if ids.normalize(resource["type"]) in ids.CONTAINER_TYPES}
    scopes = {ids.normalize(scope) for resource in expected.resources()
              for scope in (f"/subscriptions/{ids.parse_resource_id(resource['id']).subscription_id}",
                            ids.resource_group_id(resource["id"]))}
    assert containers == scopes
    actual = Fleet(resource for resource in actual.resources() if ids.normalize(resource["id"]) not in containers)
    assert actual.summary() == expected.summary()
    assert sorted(actual.cluster_ids()) == sorted(expected.cluster_ids())
    for cluster in expected.clusters():
        pulled = actual.cluster(cluster.id)
        assert pulled is not None
        assert pulled.resource == cluster.resource
        assert sorted(pulled.extensions, key=lambda item: item["id"]) == \
            sorted(cluster.extensions, key=lambda item: item["id"])
        assert sorted(pulled.flux_configurations, key=lambda item: item["id"]) == \
            sorted(cluster.flux_configurations, key=lambda item: item["id"])
    assert actual.fingerprint() == expected.fingerprint()


def test_pull_across_many_pages_under_the_default_quota_matches_the_snapshot(sandbox_factory):
    running = sandbox_factory(max_page_size=9)  # ~20 pages: past one 15-query window
    source = ResourceGraphSource(running.connection(), retry=FAST_RETRY)
    fleet = Fleet(source.resources())
    assert_same_fleet(fleet, load_snapshot(running.fleet_file))
    assert source.stats.pages > 15
    assert source.stats.retries == 0
    stats = running.control.stats()
    assert stats["throttled"] == 0
    assert stats["queries"] == source.stats.pages


def test_cli_save_writes_a_snapshot_that_reads_back_identically(sandbox, tmp_path: Path, capsys):
    saved, summary = tmp_path / "pulled.json", tmp_path / "summary.json"
    status = main(["inventory", "--resource-graph", "--arm-endpoint", sandbox.url, "--ca-bundle",
                   str(sandbox.endpoint.ca_bundle), "--credential", "sandbox", "--save", str(saved),
                   "--format", "json", "-o", str(summary)])
    assert status == 0, capsys.readouterr().err
    # the sandbox's fleet as every --save writes a fleet: values under secret-looking keys blanked
    original = Fleet(blank_secrets(resource) for resource in load_snapshot(sandbox.fleet_file).resources())
    assert_same_fleet(load_snapshot(saved), original)
    pulled = load_snapshot(saved)
    assert json.loads(summary.read_text()) == pulled.summary().model_dump(by_alias=True)
    assert pulled.summary().other_resources == sum(1 for resource in pulled.other_resources()
                                                   if ids.normalize(resource["type"]) in ids.CONTAINER_TYPES) > 0


def test_injected_429_500_and_dropped_connections_are_retried_to_completion(sandbox):
    sandbox.control.inject_fault(status=429, retryAfter=0, count=2, target="graph")
    sandbox.control.inject_fault(status=500, count=2, target="graph")
    sandbox.control.inject_fault(drop=True, count=1, target="graph")
    sandbox.control.inject_fault(status=503, probability=0.2, target="graph")
    source = ResourceGraphSource(sandbox.connection(), retry=FAST_RETRY)
    fleet = Fleet(source.resources())
    assert_same_fleet(fleet, load_snapshot(sandbox.fleet_file))
    assert source.stats.retries >= 5
    assert sandbox.control.stats()["faultsInjected"] == source.stats.retries


def test_persistent_failure_gives_up_with_the_arm_error(sandbox):
    sandbox.control.inject_fault(status=503, target="graph")
    source = ResourceGraphSource(sandbox.connection(), retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    with pytest.raises(Exception, match="HTTP 503 SandboxInjectedFault") as raised:
        list(source.resources())
    assert type(raised.value).__name__ == "AzureRequestError"


def _graph_client(running) -> ResourceGraphClient:
    kwargs = running.client_kwargs()
    return ResourceGraphClient(kwargs.pop("credential"), **kwargs)


def test_query_outside_the_supported_subset_returns_a_400_arm_body(sandbox):
    with _graph_client(sandbox) as client, pytest.raises(HttpResponseError) as raised:
        client.resources(QueryRequest(query="resources | mv-expand tags"))
    assert raised.value.status_code == 400
    assert raised.value.error.code == "BadRequest"
    assert "unsupported operator 'mv-expand'" in raised.value.error.message
    with _graph_client(sandbox) as client, pytest.raises(HttpResponseError) as raised:
        client.resources(QueryRequest(query="resources | where location matches regex 'east'"))
    assert "unsupported comparison operator 'matches'" in raised.value.error.message
    with _graph_client(sandbox) as client, pytest.raises(HttpResponseError) as raised:
        # the fuzzer's find: a conversion given two arguments was a TypeError (a 500), even on an empty fleet
        client.resources(QueryRequest(query="resources | where type == 'x' | project tostring(name, id)"))
    assert raised.value.status_code == 400
    assert "tostring() takes one argument, not 2" in raised.value.error.message


def test_quota_headers_on_every_response_and_429_past_the_quota(sandbox_factory):
    running = sandbox_factory(throttle="2/60s")
    seen: list[dict[str, str]] = []
    with _graph_client(running) as client:
        for _ in range(2):
            client.resources(QueryRequest(query="resources | take 1"),
                             cls=lambda response, page, _: seen.append(dict(response.http_response.headers)))
        with pytest.raises(HttpResponseError) as raised:
            client.resources(QueryRequest(query="resources | take 1"))
    assert [headers["x-ms-user-quota-remaining"] for headers in seen] == ["1", "0"]
    assert all(0 < parse_timespan(headers["x-ms-user-quota-resets-after"]) <= 60 for headers in seen)
    assert raised.value.status_code == 429
    assert int(raised.value.response.headers["Retry-After"]) >= 1
    assert running.control.stats()["throttled"] == 1


def test_paging_shapes_skip_token_top_and_truncation(sandbox):
    query = "kubernetesconfigurationresources | where type =~ 'microsoft.kubernetesconfiguration/extensions'"
    with _graph_client(sandbox) as client:
        first = client.resources(QueryRequest(query=query, options=QueryRequestOptions(top=5)))
        second = client.resources(QueryRequest(query=query, options=QueryRequestOptions(
            top=5, skip_token=first.skip_token)))
        skipped = client.resources(QueryRequest(query=query, options=QueryRequestOptions(top=5, skip=5)))
        no_ids = client.resources(QueryRequest(query=query + " | project name, type",
                                               options=QueryRequestOptions(top=5)))
    assert first.count == 5 and first.skip_token and first.result_truncated == "false"
    assert first.total_records > 5
    assert [row["id"] for row in second.data] == [row["id"] for row in skipped.data]
    assert not {row["id"] for row in first.data} & {row["id"] for row in second.data}
    assert first.data[0]["type"] == "microsoft.kubernetesconfiguration/extensions"
    assert {"subscriptionId", "resourceGroup", "tenantId"} <= set(first.data[0])
    assert no_ids.skip_token is None and no_ids.result_truncated == "true"
    assert set(no_ids.data[0]) == {"name", "type"}


def test_a_skip_token_carries_the_page_size_and_top_and_skip_override_it(sandbox):
    """The 2021-03-01 spec's QueryRequestOptions: ``$skipToken`` is "capturing the next page size and offset"
    (ResourcesNextPageQuery pages on with the token alone); ``$top`` "Overrides the page size when $skipToken property
    is present", ``$skip`` "Overrides the next page offset when $skipToken property is present"."""
    query = "kubernetesconfigurationresources | where type =~ 'microsoft.kubernetesconfiguration/extensions'"
    with _graph_client(sandbox) as client:
        every = [row["id"] for row in client.resources(QueryRequest(query=query, options=QueryRequestOptions(top=6))).data]
        first = client.resources(QueryRequest(query=query, options=QueryRequestOptions(top=2)))
        token = first.skip_token
        pages = {name: [row["id"] for row in client.resources(QueryRequest(query=query, options=options)).data]
                 for name, options in (("next", QueryRequestOptions(skip_token=token)),
                                       ("wider", QueryRequestOptions(skip_token=token, top=3)),
                                       ("moved", QueryRequestOptions(skip_token=token, skip=1)))}
    assert len(every) == 6 and [row["id"] for row in first.data] == every[:2]
    assert pages == {"next": every[2:4], "wider": every[2:5], "moved": every[1:3]}


@pytest.mark.parametrize("forged", [{"t": -1}, {"t": 0}, {"t": 5000}, {"o": -3}])
def test_a_forged_skip_token_is_refused(sandbox, forged):
    """A token is base64 JSON the client holds: a page size outside 1..1000 (every row but one, or an endless run of
    empty pages) or a negative offset in it is a 400, as a $top or $skip outside its bounds is."""
    query = "kubernetesconfigurationresources | where type =~ 'microsoft.kubernetesconfiguration/extensions' | project id"
    with _graph_client(sandbox) as client:
        token = client.resources(QueryRequest(query=query, options=QueryRequestOptions(top=2))).skip_token
        decoded = json.loads(base64.urlsafe_b64decode(token))
        forged_token = base64.urlsafe_b64encode(json.dumps({**decoded, **forged}).encode()).decode()
        with pytest.raises(HttpResponseError) as refused:
            client.resources(QueryRequest(query=query, options=QueryRequestOptions(skip_token=forged_token)))
    assert refused.value.status_code == 400 and "$skipToken is not valid" in str(refused.value)


def test_subscription_scope_filters_and_batches(sandbox):
    original = load_snapshot(sandbox.fleet_file)
    clusters = list(original.clusters())
    chosen = clusters[0].cluster.id.split("/")[2]
    source = ResourceGraphSource(sandbox.connection(subscriptions=[chosen]), retry=FAST_RETRY)
    fleet = Fleet(source.resources())
    expected = sorted(cluster.id for cluster in clusters if cluster.id.split("/")[2] == chosen)
    assert sorted(fleet.cluster_ids()) == expected
    many = ArmConnection(subscriptions=[f"sub-{number}" for number in range(SUBSCRIPTIONS_PER_QUERY + 1)])
    assert [len(scope["subscriptions"]) for scope in _scopes(many)] == [SUBSCRIPTIONS_PER_QUERY, 1]


def test_sandbox_credential_is_refused_for_a_non_loopback_endpoint(capsys):
    connection = ArmConnection(arm_endpoint="https://management.azure.com", credential=CredentialKind.sandbox)
    with pytest.raises(InputError, match="loopback"):
        connection.token_credential()
    status = main(["inventory", "--resource-graph", "--credential", "sandbox"])
    assert status == 2
    assert "loopback" in capsys.readouterr().err


def test_requests_without_a_bearer_token_get_401_with_an_arm_body(sandbox):
    context = ssl.create_default_context(cafile=str(sandbox.endpoint.ca_bundle))
    request = urllib.request.Request(f"{sandbox.url}/providers/Microsoft.ResourceGraph/resources"
                                     "?api-version=2021-03-01", data=b'{"query": "resources"}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, context=context)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["error"]["code"] == "AuthenticationFailed"


def test_cli_reports_a_service_that_keeps_failing_as_exit_4(sandbox, capsys):
    # Retry-After: 0 keeps the retries fast; the source gives up after its attempts
    sandbox.control.inject_fault(status=503, retryAfter=0, target="graph")
    status = main(["inventory", "--resource-graph", "--arm-endpoint", sandbox.url, "--ca-bundle",
                   str(sandbox.endpoint.ca_bundle), "--credential", "sandbox"])
    error = capsys.readouterr().err
    assert status == 4
    assert error.startswith("arcpolicy: error: ") and "503" in error
    assert error.strip().count("\n") == 0
