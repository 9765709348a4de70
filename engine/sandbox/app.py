"""Request dispatch: authentication, fault injection, limits, then the route's handler.

Routes are a registry: the control API under ``/sandbox/``, the Resource Graph query endpoint,
the Key Vault secrets data plane under ``/keyvault/``, and ARM (operation status, POST actions,
resources by type, collections).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engine import ids
from engine.sandbox import arm, control, graph, keyvault
from engine.sandbox.core import Request, Response, Sandbox, arm_error
from engine.sandbox.limits import FaultRule, FaultTarget

GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"
CONTROL_PREFIX = "/sandbox/"
WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE", "POST"})

ResourceHandler = Callable[[Sandbox, Request, ids.ResourceId], Response]
GENERIC_HANDLERS: dict[str, ResourceHandler] = {
    "PUT": arm.generic_put, "PATCH": arm.generic_patch, "DELETE": arm.generic_delete,
}


def handle(sandbox: Sandbox, request: Request) -> Response:
    """Answer one request as ARM would (never raises for bad input: that is a 4xx)."""
    sandbox.count("requests")
    path = request.path.rstrip("/") or "/"
    if path.lower().startswith(keyvault.PATH_PREFIX):
        return keyvault.handle(sandbox, request, path)  # a vault's data plane, with its own auth challenge
    token = request.headers.get("authorization", "")
    if not token.startswith("Bearer ") or not token[7:].strip():
        return arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                         "missing or is not a Bearer token.")
    if path.startswith(CONTROL_PREFIX):
        return control.handle(sandbox, request, path[len(CONTROL_PREFIX):])
    is_graph = path.lower() == GRAPH_PATH
    fault = sandbox.faults.draw(_fault_targets(request, is_graph))
    if fault is not None and not fault.after_processing:
        injected = _injected(sandbox, fault)
        if injected is not None:
            return injected
    response = _answer(sandbox, request, path, is_graph)
    if fault is not None and fault.after_processing:  # carried out; its answer is what gets lost
        return _injected(sandbox, fault) or response
    return response


def _fault_targets(request: Request, is_graph: bool) -> frozenset[FaultTarget]:
    if is_graph:
        return frozenset({FaultTarget.all, FaultTarget.graph})
    if request.method in WRITE_METHODS:
        return frozenset({FaultTarget.all, FaultTarget.arm, FaultTarget.write})
    return frozenset({FaultTarget.all, FaultTarget.arm})


def _injected(sandbox: Sandbox, fault: FaultRule) -> Response | None:
    """The fault's answer (None: a delay only, the request is answered as usual)."""
    sandbox.count("faultsInjected")
    time.sleep(fault.delay_seconds)
    if fault.drop:
        return Response(0, drop=True)
    if fault.status is not None:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return arm_error(fault.status, "SandboxInjectedFault", f"Injected fault: HTTP {fault.status}.", **headers)
    return None


def _answer(sandbox: Sandbox, request: Request, path: str, is_graph: bool) -> Response:
    """The route's answer: Resource Graph, or ARM within the write limits."""
    if is_graph:
        if request.method != "POST":
            return arm_error(405, "MethodNotAllowed", "Resource Graph queries are POST requests.")
        return graph.query(sandbox, request)
    if "api-version" not in request.query:
        return arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) "
                         "is required for all requests.")
    if request.method in WRITE_METHODS:
        subscription = _subscription(path)
        allowed, headers = sandbox.write_buckets.take(subscription)
        if not allowed:
            sandbox.count("throttled")
            return arm_error(429, "SubscriptionRequestsThrottled", f"Number of write requests for subscription "
                             f"'{subscription}' exceeded the limit. Please try again after "
                             f"'{headers['Retry-After']}' seconds.", **headers)
        with sandbox.store.lock:
            response = _arm(sandbox, request, path)
        response.headers.update(headers)
        if response.status < 400:
            sandbox.count("writes")
        return response
    sandbox.count("reads")
    with sandbox.store.lock:
        return _arm(sandbox, request, path)


def _subscription(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""


def _arm(sandbox: Sandbox, request: Request, path: str) -> Response:
    _, marker, operation_id = path.rpartition(arm.OPERATION_MARKER)
    if marker and request.method == "GET" and "/" not in operation_id:
        return arm.operation_status(sandbox, request, operation_id)
    sandbox.settle()
    try:
        resource_id = ids.parse_resource_id(path)
    except ids.ResourceIdError:
        return _collection_or_action(sandbox, request, path)
    kind = arm.LIFECYCLE_KINDS.get(ids.normalize(resource_id.type))
    if request.method == "GET":
        resource = sandbox.store.get(path)
        if resource is None:
            return arm_error(404, "ResourceNotFound", f"The Resource '{resource_id.type}/{resource_id.name}' "
                             "was not found.")
        return Response(200, resource)
    handlers: dict[str, ResourceHandler] = (
        {"PUT": kind.put, "PATCH": kind.patch, "DELETE": kind.delete} if kind else GENERIC_HANDLERS)
    handler = handlers.get(request.method)
    if handler is None:
        return arm_error(405, "MethodNotAllowed", f"{request.method} is not supported on {resource_id.type}.")
    return handler(sandbox, request, resource_id)


def _collection_or_action(sandbox: Sandbox, request: Request, path: str) -> Response:
    parent, _, last = path.rpartition("/")
    if request.method == "POST":
        return arm.action(sandbox, request, parent, last)
    if request.method != "GET":
        return arm_error(400, "InvalidResourceId", f"'{path}' is not a resource id.")
    return Response(200, {"value": list(sandbox.store.children(path))})
