"""The control API under ``/sandbox/``: what tests, demos and users do to the simulated world.

``GET stats``; ``GET|POST clock`` (``{"advanceSeconds": N}``); ``POST connectivity``
(``{"clusterId", "connectivityStatus"}``); ``POST node-architectures`` (``{"clusterId",
"architectures": "arm64"}``); ``POST faults`` (a :class:`FaultRule`) and ``DELETE faults``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from engine import ids
from engine.sandbox.core import NODE_ARCHITECTURES, Sandbox
from engine.sandbox.http import Request, Response, arm_error
from engine.sandbox.limits import FaultRule
from engine.sandbox.values import timestamp

CONNECTIVITY_STATES = ("Connected", "Offline", "Expired", "Connecting", "AgentNotInstalled")


class ClockAdvance(BaseModel):
    advance_seconds: float = Field(alias="advanceSeconds", ge=0)


class Connectivity(BaseModel):
    cluster_id: str = Field(alias="clusterId")
    connectivity_status: str = Field(alias="connectivityStatus", pattern="|".join(CONNECTIVITY_STATES))


class NodeArchitectures(BaseModel):
    cluster_id: str = Field(alias="clusterId")
    architectures: str = Field(pattern=r"^(amd64|arm64)(,(amd64|arm64))*$")


def _stats(sandbox: Sandbox, body: Any) -> Response:
    counts = {name: sandbox.stats.get(name, 0) for name in ("requests", "reads", "writes", "queries", "rows",
                                                            "throttled", "faultsInjected")}
    return Response(200, counts)


def _clock(sandbox: Sandbox, body: Any) -> Response:
    if body is not None:
        sandbox.advance(ClockAdvance.model_validate(body).advance_seconds)
    return Response(200, {"now": timestamp(sandbox.now())})


def _cluster(sandbox: Sandbox, cluster_id: str) -> dict[str, Any]:
    cluster = sandbox.store.get(cluster_id)
    if cluster is None or ids.normalize(cluster["type"]) not in ids.CLUSTER_TYPES:
        raise LookupError(f"no cluster {cluster_id}")
    return cluster


def _connectivity(sandbox: Sandbox, body: Any) -> Response:
    change = Connectivity.model_validate(body)
    with sandbox.store.lock:
        sandbox.settle()  # what happened while the old connectivity held stays happened
        cluster = _cluster(sandbox, change.cluster_id)
        properties = cluster.setdefault("properties", {})
        properties["connectivityStatus"] = change.connectivity_status
        if change.connectivity_status == "Connected":
            properties["lastConnectivityTime"] = timestamp(sandbox.now())
        sandbox.store.put(cluster)
        sandbox.facts_changed()
        sandbox.settle()
    return Response(200, cluster)


def _node_architectures(sandbox: Sandbox, body: Any) -> Response:
    change = NodeArchitectures.model_validate(body)
    with sandbox.store.lock:
        sandbox.settle()
        cluster = _cluster(sandbox, change.cluster_id)
        sandbox.store.set_fact(ids.normalize(cluster["id"]), NODE_ARCHITECTURES, change.architectures)
        sandbox.facts_changed()
    return Response(200, {"clusterId": cluster["id"], "architectures": change.architectures})


def _add_fault(sandbox: Sandbox, body: Any) -> Response:
    rule = FaultRule.model_validate(body)
    sandbox.faults.add(rule)
    return Response(201, rule.model_dump(by_alias=True))


def _clear_faults(sandbox: Sandbox, body: Any) -> Response:
    sandbox.faults.clear()
    return Response(204)


ROUTES: dict[tuple[str, str], Callable[[Sandbox, Any], Response]] = {
    ("GET", "stats"): _stats,
    ("GET", "clock"): _clock,
    ("POST", "clock"): _clock,
    ("POST", "connectivity"): _connectivity,
    ("POST", "node-architectures"): _node_architectures,
    ("POST", "faults"): _add_fault,
    ("DELETE", "faults"): _clear_faults,
}


def handle(sandbox: Sandbox, request: Request, name: str) -> Response:
    route = ROUTES.get((request.method, name))
    if route is None:
        return arm_error(404, "NotFound", f"No control endpoint {request.method} /sandbox/{name}.")
    try:
        return route(sandbox, request.json() if request.method != "GET" else None)
    except ValidationError as error:
        first = error.errors()[0]
        return arm_error(400, "InvalidRequestContent",
                         f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    except (ValueError, LookupError) as error:
        return arm_error(404 if isinstance(error, LookupError) else 400, "InvalidRequestContent", str(error))
