"""``POST /providers/Microsoft.ResourceGraph/resources``: the Resource Graph query API.

Request and response follow API version 2021-03-01 (the kept swagger checks the request): ``subscriptions``,
``managementGroups``, ``query``, ``options`` (``$top``, ``$skip``, ``$skipToken``, ``resultFormat``
``objectArray`` or ``table``), ``facets`` (counts per value of an expression, filtered, sorted, cut);
``totalRecords``, ``count``, ``data``, ``facets``, ``$skipToken``, ``resultTruncated``. Rows are the stored
ARM JSON with Resource Graph's lower-case ``type`` and the columns it adds.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from engine import ids
from engine.sandbox import arm, kql
from engine.sandbox.core import Sandbox
from engine.sandbox.http import Request, Response
from engine.sandbox.resources.registry import Parent, ResourceType, register
from engine.sandbox.store import graph_type
from engine.sandbox.swagger import Schema, find_operation, spec_file
from engine.sandbox.validation import DESERIALIZATION_FAILED, Refused, cleaned, with_defaults
from engine.sandbox.values import SANDBOX_TENANT_ID

MAX_TOP = 1000
DEFAULT_TOP = 100
FACET_TOP = 10
DEFAULT_ORDER = "key ASC"  # Resource Graph pages in a stable order: by id
GRAPH_TYPE = "Microsoft.ResourceGraph/resources"
GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"
GRAPH_SPEC = spec_file("resourcegraph", "resource-manager", "Microsoft.ResourceGraph", "stable", "2021-03-01",
                       "resourcegraph.json")
# The 2021-03-01 schema's options, for their defaults (resultFormat objectArray, sortOrder desc)
QUERY_OPTIONS = Schema({"$ref": "#/definitions/QueryRequestOptions"}, GRAPH_SPEC)
FACET_OPTIONS = Schema({"$ref": "#/definitions/FacetRequestOptions"}, GRAPH_SPEC)
# Microsoft.ResourceGraph/resources api-versions (azure-rest-api-specs' resourcegraph folders)
GRAPH_API_VERSIONS = ("2018-09-01-preview", "2019-04-01", "2020-04-01-preview", "2020-09-01-preview", "2021-03-01",
                      "2021-06-01-preview", "2022-10-01", "2024-04-01")
register(ResourceType(GRAPH_TYPE, GRAPH_API_VERSIONS, parent=Parent.TENANT, writable=False))


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


def _skip_token(offset: int, last_key: str, fingerprint: str, page_size: int) -> str:
    """The continuation token, "capturing the next page size and offset, as well as the context of the query"
    (the 2021-03-01 spec's ``$skipToken``)."""
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "k": last_key, "f": fingerprint,
                                                  "t": page_size})).decode()


def _position_from_token(token: str, fingerprint: str) -> tuple[int, str, int]:
    """(rows already returned, id key of the last one, page size): keyset paging, no OFFSET scans."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        offset, last_key, owner = int(decoded["o"]), str(decoded["k"]), decoded["f"]
        page_size = int(decoded.get("t", DEFAULT_TOP))
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError):
        raise kql.UnsupportedQuery("$skipToken is not valid") from None
    if offset < 0 or not 1 <= page_size <= MAX_TOP:  # a token is the client's to forge: its page is bounded too
        raise kql.UnsupportedQuery("$skipToken is not valid")
    if owner != fingerprint:
        raise kql.UnsupportedQuery("$skipToken belongs to a different query or scope")
    return offset, last_key, page_size


def _row(body: bytes, columns: list[str] | None) -> dict[str, Any]:
    resource = orjson.loads(body)
    parsed = ids.parse_resource_id(resource["id"])
    resource["type"] = graph_type(resource["type"])
    resource["tenantId"] = SANDBOX_TENANT_ID
    resource["resourceGroup"] = (parsed.resource_group or "").lower()
    resource["subscriptionId"] = parsed.subscription_id or ""
    if columns is None:
        return resource
    return {column: resource.get(column) for column in columns}


def query(sandbox: Sandbox, request: Request) -> Response:
    refused = arm.checked_api_version(sandbox, request, arm.Target(GRAPH_PATH, GRAPH_TYPE))
    if refused is not None:
        return refused
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


def _request(request: Request) -> dict[str, Any]:
    """The QueryRequest body, checked against the 2021-03-01 schema (``query`` required, option kinds, enums)."""
    try:
        body = request.json()
    except orjson.JSONDecodeError:
        raise kql.UnsupportedQuery("request body is not JSON") from None
    operation = find_operation((GRAPH_SPEC,), "POST", GRAPH_PATH)
    assert operation is not None and operation.body is not None
    try:
        return cleaned(operation.body, body)
    except Refused as refusal:
        raise kql.UnsupportedQuery(str(refusal).removeprefix(DESERIALIZATION_FAILED)) from None


def _answer(sandbox: Sandbox, request: Request) -> Response:
    try:
        body = _request(request)
    except kql.UnsupportedQuery as error:
        return graph_error(str(error), "InvalidRequestContent")
    options = with_defaults(QUERY_OPTIONS, body.get("options") or {})
    parsed = kql.parse(body["query"])
    clause, parameters = ["tbl = ?"], [parsed.table]
    for condition in parsed.sql:
        sql, values = condition.sql()
        clause.append(sql)
        parameters.extend(values)
    subscriptions = body.get("subscriptions") or []
    if subscriptions:
        clause.append(f"sub IN ({', '.join('?' * len(subscriptions))})")
        parameters.extend(str(subscription).lower() for subscription in subscriptions)
    where = " AND ".join(clause)
    fingerprint = _fingerprint(body)
    token = options.get("$skipToken")
    offset, last_key, page_size = _position_from_token(token, fingerprint) if token else (0, "", DEFAULT_TOP)
    if options.get("$skip") is not None:  # "Overrides the next page offset when $skipToken property is present"
        offset, last_key = int(options["$skip"]), ""
    if options.get("$top") is not None:  # "Overrides the page size when $skipToken property is present"
        page_size = int(options["$top"])
    page_size = min(page_size, MAX_TOP, sandbox.options.max_page_size)
    plain = parsed.plain
    with sandbox.store.lock:
        sandbox.settle()
        if plain is not None and not body.get("facets"):
            result, next_key = _plain_page(sandbox, parsed, plain, where, parameters, page_size, offset, last_key)
            total, keyed = result["totalRecords"], plain[0] is None or "id" in plain[0]
        else:
            rows = parsed.run(_row(stored, None) for _, stored in sandbox.store.select_where(
                where, parameters, DEFAULT_ORDER, -1, 0))
            total, keyed = len(rows), True
            page = rows[offset: offset + page_size]
            result = {"totalRecords": total, "count": len(page), "data": page,
                      "facets": [_facet(rows, facet) for facet in body.get("facets") or []], "resultTruncated": "false"}
            next_key = ""
    sandbox.count("queries")
    sandbox.count("rows", result["count"])
    if offset + result["count"] < total:
        if keyed:
            result["$skipToken"] = _skip_token(offset + result["count"], next_key, fingerprint, page_size)
        else:  # without ids the service cannot page: it truncates, as documented
            result["resultTruncated"] = "true"
    if options.get("resultFormat") == "table":
        result["data"] = _table(result["data"])
    return Response(200, result)


def _plain_page(sandbox: Sandbox, parsed: kql.Query, plain: tuple[list[str] | None, list[str], int | None],
                where: str, parameters: list[Any], page_size: int, offset: int,
                last_key: str) -> tuple[dict[str, Any], str]:
    """A page of a query SQLite answers whole (keyset paging in id order): no tenant is parsed to count it."""
    columns, order, take = plain
    order = order or [DEFAULT_ORDER]
    total = sandbox.store.count_where(where, parameters)
    if take is not None:
        total = min(total, take)
    limit = max(0, min(page_size, total - offset))
    if last_key and order == [DEFAULT_ORDER]:
        rows = sandbox.store.select_where(f"{where} AND key > ?", [*parameters, last_key], DEFAULT_ORDER,
                                          limit, 0) if limit else []
    else:
        rows = sandbox.store.select_where(where, parameters, ", ".join(order), limit, offset) if limit else []
    data = [_row(stored, columns) for _, stored in rows]
    return ({"totalRecords": total, "count": len(data), "data": data, "facets": [], "resultTruncated": "false"},
            rows[-1][0] if rows else "")


def _facet(rows: list[dict[str, Any]], facet: dict[str, Any]) -> dict[str, Any]:
    """A facet of the query's result: counts per value of its expression (FacetResult), or a FacetError."""
    expression = str(facet["expression"])
    options = with_defaults(FACET_OPTIONS, facet.get("options") or {})
    try:
        column = kql.expression(expression)
        name = column.name
        if not rows or not all(name in row for row in rows):
            raise kql.UnsupportedQuery(expression)
        selected = kql.Where(kql.condition(options["filter"])).run(rows) if options.get("filter") else rows
        counts = kql.Summarize([kql.COUNT_COLUMN], [(name, column)]).run(selected)
        ordering = kql.expression(options["sortBy"]) if options.get("sortBy") else kql.Column((kql.COUNT_COLUMN,))
        counts = kql.Order([(ordering, options["sortOrder"] == "desc"), (column, False)]).run(counts)
    except kql.UnsupportedQuery:
        return {"expression": expression, "resultType": "FacetError", "errors": [
            {"code": "NoValidColumns", "message": "No valid columns in facet expression."},
            {"code": "InvalidColumnNames", "message": f"Invalid column names: [{expression}]."}]}
    data = [{name: row[name], "count": row[kql.COUNT_COLUMN]} for row in counts[: int(options.get("$top") or FACET_TOP)]]
    return {"expression": expression, "resultType": "FacetResult", "totalRecords": len(counts), "count": len(data),
            "data": data}


COLUMN_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def _table(data: list[dict[str, Any]]) -> dict[str, Any]:
    """``resultFormat: table``: column descriptors and rows of values (the objectArray rows, column by column)."""
    names: list[str] = []
    for row in data:
        names.extend(name for name in row if name not in names)

    def kind(name: str) -> str:
        values = [row.get(name) for row in data if row.get(name) is not None]
        found = {next((kind for python, kind in COLUMN_TYPES if isinstance(value, python)), "object")
                 for value in values}
        return found.pop() if len(found) == 1 else "object" if found else "string"

    return {"columns": [{"name": name, "type": kind(name)} for name in names],
            "rows": [[row.get(name) for name in names] for row in data]}
