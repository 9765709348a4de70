"""Request dispatch: authentication, fault injection, limits, then the route's handler.

Routes: the control API under ``/sandbox/``, the Resource Graph query endpoint, the Key Vault
secrets data plane under ``/keyvault/``, and ARM (:mod:`engine.sandbox.arm`) within its read, write
and delete buckets.
"""

from __future__ import annotations

import time

from engine.sandbox import arm, control, graph, keyvault
from engine.sandbox.core import Sandbox
from engine.sandbox.http import Request, Response, arm_error
from engine.sandbox.limits import FaultRule, FaultTarget, RequestKind

GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"
CONTROL_PREFIX = "/sandbox/"
WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE", "POST"})


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
    """The route's answer: Resource Graph, or ARM within its buckets."""
    if is_graph:
        if request.method != "POST":
            return arm_error(405, "MethodNotAllowed", "Resource Graph queries are POST requests.")
        return graph.query(sandbox, request)
    kind = RequestKind.of(request.method)
    subscription = _subscription(path)
    allowed, headers = sandbox.buckets.take(kind, subscription)
    if not allowed:
        sandbox.count("throttled")
        scope = f"subscription '{subscription}'" if subscription else "the tenant"
        return arm_error(429, "SubscriptionRequestsThrottled" if subscription else "TenantRequestsThrottled",
                         f"Number of {kind.value[:-1]} requests for {scope} exceeded the limit. Please try again "
                         f"after '{headers['Retry-After']}' seconds.", **headers)
    with sandbox.store.lock:
        response = arm.handle(sandbox, request, path)
    response.headers.update(headers)
    if request.method not in WRITE_METHODS:
        sandbox.count("reads")
    elif response.status < 400:
        sandbox.count("writes")
    return response


def _subscription(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""
