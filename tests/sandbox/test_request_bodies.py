"""Bodies of the wrong shape get ARM's 400 with its error shape ({"error": {"code", "message"}}),
never a dropped connection: through the real SDK client and raw HTTPS."""

from __future__ import annotations

import io
import json

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.inventory import load_snapshot
from engine.sandbox import app
from engine.sandbox.http import Request

API = "api-version=2023-05-01"
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                                        max_size=3),
                    max_leaves=8)

SESSION = requests.Session()  # one connection for the many fuzzed requests


@pytest.fixture
def unthrottled(sandbox_factory):
    """A sandbox whose limits never answer 429 to the fuzzer's hundreds of writes and the reads that follow them."""
    return sandbox_factory(write_limit="100000/1000", read_limit="100000/1000", delete_limit="100000/1000")


def _cluster_id(running) -> str:
    return next(cluster.id for cluster in load_snapshot(running.fleet_file).clusters()
                if "connectedClusters" in cluster.id)


def _send(running, method: str, path: str, body: object, session: requests.Session | None = None,
          api: str = API) -> requests.Response:
    return (session or requests).request(method, f"{running.url}{path}?{api}", json=body, timeout=10,
                                         headers={"Authorization": "Bearer test"},
                                         verify=str(running.endpoint.ca_bundle))


def _assert_arm_400(response: requests.Response, naming: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidRequestContent" and naming in error["message"], error


@pytest.mark.parametrize(("body", "naming", "in_patch"), [
    ({"properties": [1, 2]}, "'properties' must be an object, not an array", True),
    ({"properties": "x"}, "'properties' must be an object, not a string", True),
    ({"properties": 7}, "'properties' must be an object, not an integer", True),
    ({"identity": "SystemAssigned", "properties": {"extensionType": "contoso.agent"}}, "'identity'", False),
    ({"properties": {"extensionType": ["contoso.agent"]}}, "'properties.extensionType' must be a string", False),
    ({"properties": {"extensionType": "contoso.agent", "configurationProtectedSettings": ["k"]}},
     "'properties.configurationProtectedSettings' must be an object", True),
    ({"properties": {"extensionType": "contoso.agent", "scope": "cluster"}}, "'properties.scope'", False),
])
def test_extension_put_and_patch_of_the_wrong_shape_get_a_400_in_arm_error_shape(sandbox, body, naming, in_patch):
    """PUT checks the Extension schema; PATCH the PatchExtension one, which has no identity, extensionType or
    scope: ARM ignores those members in a PATCH (the PATCH changes nothing, answered 200)."""
    extension = f"{_cluster_id(sandbox)}/providers/Microsoft.KubernetesConfiguration/extensions/probe"
    _assert_arm_400(_send(sandbox, "PUT", extension, body), naming)
    existing = f"{_cluster_id(sandbox)}/providers/Microsoft.KubernetesConfiguration/extensions/probe-ok"
    assert _send(sandbox, "PUT", existing, {"properties": {"extensionType": "contoso.agent"}}).status_code == 201
    sandbox.control.advance_clock(600)
    patched = _send(sandbox, "PATCH", existing, body)
    if in_patch:
        _assert_arm_400(patched, naming)
    else:
        assert patched.status_code == 200 and patched.json()["properties"]["extensionType"] == "contoso.agent"


def test_flux_and_generic_resources_of_the_wrong_shape_get_a_400(sandbox):
    cluster = _cluster_id(sandbox)
    flux = f"{cluster}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/probe"
    _assert_arm_400(_send(sandbox, "PUT", flux, {"properties": {"gitRepository": "https://x"}}),
                    "'properties.gitRepository' must be an object")
    group = "/".join(cluster.split("/")[:5])
    _assert_arm_400(_send(sandbox, "PUT", f"{group}/providers/Microsoft.OperationalInsights/workspaces/w",
                          {"location": "eastus", "properties": [1, 2]}, api="api-version=2022-10-01"),
                    "'properties' must be an object")


def test_the_sdk_client_gets_the_400_with_its_code(sandbox):
    kwargs = sandbox.client_kwargs()
    extension = f"{_cluster_id(sandbox)}/providers/Microsoft.KubernetesConfiguration/extensions/probe"
    subscription = extension.split("/")[2]
    with ResourceManagementClient(kwargs.pop("credential"), subscription, **kwargs) as client, \
            pytest.raises(HttpResponseError) as raised:
        client.resources.begin_create_or_update_by_id(extension, api_version="2023-05-01",
                                                      parameters=io.BytesIO(b'{"properties": [1, 2]}')).result()
    assert raised.value.status_code == 400 and raised.value.error.code == "InvalidRequestContent"


@given(properties=JSON, envelope=st.dictionaries(st.sampled_from(["identity", "tags", "sku", "plan", "zones"]),
                                                 JSON, max_size=2))
@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_json_body_is_answered_never_dropped(unthrottled, properties, envelope):
    running = unthrottled
    extension = f"{_cluster_id(running)}/providers/Microsoft.KubernetesConfiguration/extensions/fuzzed"
    for method in ("PUT", "PATCH"):
        response = _send(running, method, extension, {**envelope, "properties": properties}, SESSION)
        assert response.status_code in (200, 201, 202, 400, 404, 409), response.text
        if response.status_code >= 400:
            error = response.json()["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)


PATH_PARTS = st.sampled_from(["subscriptions", "00000000-0000-0000-0000-0000000000aa", "resourceGroups", "rg", "providers",
                              "Microsoft.Kubernetes", "connectedClusters", "c1", "Microsoft.KubernetesConfiguration",
                              "extensions", "fluxConfigurations", "operations", "listClusterUserCredential", "x", ""])


@given(method=st.sampled_from(["GET", "HEAD", "PUT", "PATCH", "DELETE", "POST"]),
       parts=st.lists(PATH_PARTS, max_size=12),
       query=st.dictionaries(st.sampled_from(["api-version", "$skiptoken", "forceDelete"]),
                             st.sampled_from(["2024-01-01", "2023-05-01", "banana", "1999-01-01", "!!", "true", ""]),
                             max_size=3))
@example(method="GET", parts=["providers", "Microsoft.Kubernetes", "connectedClusters"], query={"api-version": "2024-01-01"})
@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_path_and_query_is_answered_by_arm_never_a_500(unthrottled, method, parts, query):
    """Every route the ARM router can take, on any path shape: an answer in ARM's shape, never a sandbox failure."""
    sandbox = unthrottled.server.sandbox
    request = Request(method, "/" + "/".join(parts), query, {"authorization": "Bearer test"}, b"{}", unthrottled.url)
    response = app.handle(sandbox, request)
    assert response.status < 500, (request.path, response.body)
    if response.status >= 400 and method != "HEAD":
        assert set(response.body["error"]) >= {"code", "message"}


TEMPLATE_RESOURCE = st.fixed_dictionaries(
    {"type": st.sampled_from(["Microsoft.KubernetesConfiguration/extensions", "Microsoft.Storage/storageAccounts",
                              "Microsoft.Resources/deployments", "x", "[parameters('p')]"]),
     "name": st.sampled_from(["a", "a/b", "", "[concat('n', '1')]", "[parameters('missing')]"]),
     "apiVersion": st.sampled_from(["2023-05-01", "banana", "2020-01-01"])},
    optional={"scope": st.sampled_from(["Microsoft.Kubernetes/connectedClusters/c1", "x", ""]),
              "dependsOn": st.lists(st.sampled_from(["a", "x/y/z", "/bad"]), max_size=2),
              "location": st.sampled_from(["eastus", ""]), "properties": JSON, "copy": JSON, "condition": JSON})
DEPLOYMENT_PROPERTIES = st.fixed_dictionaries(
    {"mode": st.sampled_from(["Incremental", "Complete", ""]),
     "template": st.one_of(JSON, st.fixed_dictionaries({"resources": st.lists(TEMPLATE_RESOURCE, max_size=3)},
                                                       optional={"parameters": JSON, "variables": JSON}))},
    optional={"parameters": JSON, "templateLink": JSON})


@given(properties=st.one_of(JSON, DEPLOYMENT_PROPERTIES), location=st.sampled_from([None, "eastus"]),
       scope=st.sampled_from(["/subscriptions/{s}/resourceGroups/{g}", "/subscriptions/{s}"]))
@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_deployment_body_is_answered_never_a_500(unthrottled, properties, location, scope):
    """A template deployment of any shape: refused in ARM's shape, or accepted and run to an end; the sandbox keeps
    answering (a running deployment never breaks a later request)."""
    sandbox = unthrottled.server.sandbox
    cluster = _cluster_id(unthrottled)
    parsed = cluster.split("/")
    prefix = scope.format(s=parsed[2], g=parsed[4])
    body = {"properties": properties, **({"location": location} if location else {})}
    request = Request("PUT", f"{prefix}/providers/Microsoft.Resources/deployments/fuzzed",
                      {"api-version": "2024-03-01"}, {"authorization": "Bearer test"},
                      json.dumps(body).encode(), unthrottled.url)
    response = app.handle(sandbox, request)
    assert response.status in (201, 400, 404, 409), (response.status, response.body)
    follow = app.handle(sandbox, Request("GET", cluster, {"api-version": "2024-01-01"}, {"authorization": "Bearer x"},
                                         b"", unthrottled.url))
    assert follow.status == 200
