"""The Resource Graph inventory source: every cluster, extension and flux configuration a tenant
holds, read with azure-mgmt-resourcegraph and streamed into a :class:`Fleet`.

Subscriptions go in batches of at most 300 per query (the service's advice), pages of 1000 rows
follow ``$skipToken``, queries are paced from the ``x-ms-user-quota-*`` headers so a normal scan
never draws a 429, and transient failures are retried honouring Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions, ResultFormat

from engine import ids
from engine.azure import ArmConnection, QuotaPacer, RetryPolicy, with_retries
from engine.azure.retry import DEFAULT_RETRY
from engine.inventory.fleet import Fleet

SUBSCRIPTIONS_PER_QUERY = 300
PAGE_SIZE = 1000
API_VERSION = "2021-03-01"
QUERY_PATH = "/providers/Microsoft.ResourceGraph/resources"
# Columns Resource Graph adds to every row that an ARM GET of the resource does not have.
GRAPH_ONLY_COLUMNS = ("tenantId", "resourceGroup", "subscriptionId")


@dataclass(frozen=True)
class InventoryQuery:
    """One KQL query of the inventory: a Resource Graph table and the types read from it."""

    table: str
    types: tuple[str, ...]

    @property
    def text(self) -> str:
        listed = ", ".join(f"'{kind}'" for kind in self.types)
        return f"{self.table} | where type in~ ({listed}) | order by id asc"


INVENTORY_QUERIES = (
    InventoryQuery("resources", tuple(sorted(ids.CLUSTER_TYPES))),
    InventoryQuery("kubernetesconfigurationresources", (ids.EXTENSION_TYPE, ids.FLUX_CONFIGURATION_TYPE)),
    InventoryQuery("resourcecontainers", (ids.SUBSCRIPTION_TYPE, ids.RESOURCE_GROUP_TYPE)),  # policies on them
)


@dataclass
class GraphScanStats:
    """What a scan cost: queries (pages) sent and retries made (429s and failures recovered from)."""

    pages: int = 0
    rows: int = 0
    retries: int = 0
    throttled: int = 0  # retries after a 429 answer


def arm_resource(row: dict[str, Any]) -> dict[str, Any]:
    """A Resource Graph row as the ARM resource it describes: canonical type, graph columns dropped.

    The type's canonical casing is the one in the resource's own id, which ARM keeps as created.
    """
    resource = {name: value for name, value in row.items() if name not in GRAPH_ONLY_COLUMNS}
    canonical = ids.parse_resource_id(resource["id"]).type
    if ids.same(canonical, resource["type"]):
        resource["type"] = canonical
    return resource


def _scopes(connection: ArmConnection) -> Iterator[dict[str, list[str]]]:
    if connection.management_groups:
        yield {"management_groups": list(connection.management_groups)}
    elif connection.subscriptions:
        for start in range(0, len(connection.subscriptions), SUBSCRIPTIONS_PER_QUERY):
            yield {"subscriptions": list(connection.subscriptions[start:start + SUBSCRIPTIONS_PER_QUERY])}
    else:
        yield {}  # every subscription the identity can read


class ResourceGraphSource:
    """Reads the fleet through Resource Graph with the connection's endpoint, trust and identity."""

    def __init__(self, connection: ArmConnection, retry: RetryPolicy | None = None,
                 pacer: QuotaPacer | None = None, on_retry: Callable[[Exception, float], None] | None = None,
                 stats: GraphScanStats | None = None):
        connection.validated()
        self.connection = connection
        self.client = ResourceGraphClient(connection.token_credential(), **connection.client_kwargs())
        self.retry = retry or DEFAULT_RETRY
        self.pacer = pacer or QuotaPacer()
        self.stats = stats if stats is not None else GraphScanStats()
        self._on_retry = on_retry

    def resources(self) -> Iterator[dict[str, Any]]:
        """Every cluster, extension and flux configuration in scope, as ARM JSON, page by page."""
        for scope in _scopes(self.connection):
            for query in INVENTORY_QUERIES:
                for row in self._rows(query.text, scope):
                    yield arm_resource(row)

    def _rows(self, text: str, scope: dict[str, list[str]]) -> Iterator[dict[str, Any]]:
        skip_token: str | None = None
        while True:
            request = QueryRequest(query=text, options=QueryRequestOptions(
                top=PAGE_SIZE, skip_token=skip_token, result_format=ResultFormat.OBJECT_ARRAY), **scope)
            page = with_retries(lambda request=request: self._query(request), self.retry, on_retry=self._retried)
            self.stats.pages += 1
            self.stats.rows += len(page["data"])
            yield from page["data"]
            skip_token = page.get("$skipToken")
            if not skip_token:
                return

    def _query(self, request: QueryRequest) -> dict[str, Any]:
        """One page, sent through the client's pipeline (auth, policies) and parsed with orjson.

        The SDK model's generic ``object`` deserializer walks every value of every row, which
        costs more than the quota allows per page at 1000 rows; the wire shape is the same.
        """
        self.pacer.wait()
        response = self.client._send_request(HttpRequest(  # the SDK's documented raw-request entry
            "POST", QUERY_PATH, params={"api-version": API_VERSION}, json=request.serialize()))
        self.pacer.observe(response.headers)
        if response.status_code != 200:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return orjson.loads(response.content)

    def _retried(self, error: Exception, delay: float) -> None:
        self.stats.retries += 1
        if isinstance(error, HttpResponseError) and error.status_code == 429:
            self.stats.throttled += 1
        if self._on_retry is not None:
            self._on_retry(error, delay)

    def close(self) -> None:
        self.client.close()


def load_resource_graph(connection: ArmConnection, stats: GraphScanStats | None = None) -> Fleet:
    """The fleet as Resource Graph reports it for the connection's scope (what it cost added to ``stats``)."""
    source = ResourceGraphSource(connection, stats=stats)
    try:
        return Fleet(source.resources())
    finally:
        source.close()
