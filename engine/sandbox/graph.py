"""``POST /providers/Microsoft.ResourceGraph/resources``: the Resource Graph query API.

Request and response follow API version 2021-03-01 as the SDK sends it: ``subscriptions``,
``managementGroups``, ``query``, ``options`` (``$top``, ``$skip``, ``$skipToken``,
``resultFormat``); ``totalRecords``, ``count``, ``data``, ``$skipToken``, ``resultTruncated``.
Rows are the stored ARM JSON with a lower-case ``type`` and the columns Resource Graph adds.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from engine import ids
from engine.sandbox import kql
from engine.sandbox.core import SANDBOX_TENANT_ID, Request, Response, Sandbox

MAX_TOP = 1000
DEFAULT_TOP = 100
DEFAULT_ORDER = "key ASC"  # Resource Graph pages in a stable order: by id
SUPPORTED_FORMATS = frozenset({None, "objectArray"})


def graph_error(message: str, code: str = "InvalidQuery") -> Response:
    """Resource Graph's 400 shape: a BadRequest with the reason in ``details``."""
    return Response(400, {"error": {"code": "BadRequest", "message": message,
                                    "details": [{"code": code, "message": message}]}})


def _caller(request: Request) -> str:
    """The quota key: one window per caller identity (here, per bearer token)."""
    token = request.headers.get("authorization", "")
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _fingerprint(body: dict[str, Any]) -> str:
    scope = {"q": body.get("query"), "s": body.get("subscriptions"), "m": body.get("managementGroups")}
    return hashlib.sha256(orjson.dumps(scope, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def _skip_token(offset: int, last_key: str, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "k": last_key, "f": fingerprint})).decode()


def _position_from_token(token: str, fingerprint: str) -> tuple[int, str]:
    """(rows already returned, id key of the last one): keyset paging, no OFFSET scans."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        offset, last_key, owner = int(decoded["o"]), str(decoded["k"]), decoded["f"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise kql.UnsupportedQuery("$skipToken is not valid") from None
    if owner != fingerprint:
        raise kql.UnsupportedQuery("$skipToken belongs to a different query or scope")
    return offset, last_key


def _row(body: bytes, columns: list[str] | None) -> dict[str, Any]:
    resource = orjson.loads(body)
    parsed = ids.parse_resource_id(resource["id"])
    resource["type"] = resource["type"].lower()
    resource["tenantId"] = SANDBOX_TENANT_ID
    resource["resourceGroup"] = (parsed.resource_group or "").lower()
    resource["subscriptionId"] = parsed.subscription_id or ""
    if columns is None:
        return resource
    return {column: resource.get(column) for column in columns}


def query(sandbox: Sandbox, request: Request) -> Response:
    allowed, quota_headers = sandbox.quota.take(_caller(request))
    if not allowed:
        sandbox.count("throttled")
        return Response(429, {"error": {"code": "RateLimiting", "message": "Client application has been "
                                        "throttled and should not attempt to repeat the request until an "
                                        "amount of time has elapsed."}}, quota_headers)
    try:
        response = _answer(sandbox, request)
    except kql.UnsupportedQuery as error:
        response = graph_error(f"Query is invalid or unsupported by the sandbox: {error}")
    response.headers.update(quota_headers)
    return response


def _answer(sandbox: Sandbox, request: Request) -> Response:
    try:
        body = request.json()
    except orjson.JSONDecodeError:
        return graph_error("request body is not JSON", "InvalidRequestContent")
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return graph_error("request body needs a 'query' string", "InvalidRequestContent")
    options = body.get("options") or {}
    if options.get("resultFormat") not in SUPPORTED_FORMATS:
        raise kql.UnsupportedQuery(f"resultFormat {options.get('resultFormat')!r} (supported: objectArray)")
    parsed = kql.parse(body["query"])
    clause, parameters = ["tbl = ?"], [parsed.table]
    for condition in parsed.conditions:
        sql, values = condition.sql()
        clause.append(sql)
        parameters.extend(values)
    subscriptions = body.get("subscriptions") or []
    if subscriptions:
        clause.append(f"sub IN ({', '.join('?' * len(subscriptions))})")
        parameters.extend(str(subscription).lower() for subscription in subscriptions)
    where = " AND ".join(clause)
    top = options.get("$top")
    page_size = min(int(top) if top is not None else DEFAULT_TOP, MAX_TOP, sandbox.options.max_page_size)
    if page_size < 1:
        raise kql.UnsupportedQuery("$top must be at least 1")
    fingerprint = _fingerprint(body)
    token = options.get("$skipToken")
    offset, last_key = _position_from_token(token, fingerprint) if token else (int(options.get("$skip") or 0), "")
    order = parsed.order or [DEFAULT_ORDER]
    with sandbox.store.lock:
        sandbox.settle()
        total = sandbox.store.count_where(where, parameters)
        if parsed.take is not None:
            total = min(total, parsed.take)
        limit = max(0, min(page_size, total - offset))
        if last_key and order == [DEFAULT_ORDER]:
            rows = sandbox.store.select_where(f"{where} AND key > ?", [*parameters, last_key], DEFAULT_ORDER,
                                              limit, 0) if limit else []
        else:
            rows = sandbox.store.select_where(where, parameters, ", ".join(order), limit, offset) if limit else []
    data = [_row(stored, parsed.columns) for _, stored in rows]
    sandbox.count("queries")
    sandbox.count("rows", len(data))
    result: dict[str, Any] = {"totalRecords": total, "count": len(data), "data": data, "facets": [],
                              "resultTruncated": "false"}
    if offset + len(data) < total:
        if parsed.columns is None or "id" in parsed.columns:
            result["$skipToken"] = _skip_token(offset + len(data), rows[-1][0], fingerprint)
        else:  # without ids the service cannot page: it truncates, as documented
            result["resultTruncated"] = "true"
    return Response(200, result)
