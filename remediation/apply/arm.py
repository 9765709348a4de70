"""ARM reads and writes through the real Azure SDK clients, paced, retried and polled.

Extensions go through the KubernetesConfiguration extensions client; flux configurations and
every other type through the generic resources client of azure-mgmt-resource; both with the
api-version the plan carries. Key Vault secrets (the values of Key Vault references) are read
with the Key Vault SecretClient, sharing the credential and the HTTPS session. A write is sent once per attempt, after a token of its
subscription's :class:`WritePacer`; its long-running operation is then polled by URL (the URL is
what the journal keeps, so a resumed apply polls the same operation). Reads (GETs, polls, list pages)
spend a token of the subscription's read pacer, as ARM meters them in their own bucket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.keyvault.secrets import SecretClient
from azure.mgmt.kubernetesconfiguration.extensions import KubernetesConfigurationExtensionsMgmtClient
from azure.mgmt.resource.resources import ResourceManagementClient

from engine import ids
from engine.azure import ArmConnection, AzureRequestError, RetryPolicy, with_retries
from engine.azure.retry import RETRYABLE_STATUS, retry_after
from remediation.apply.compare import TERMINAL_STATES, provisioning_state
from remediation.apply.interrupt import Interrupted
from remediation.apply.pacing import DEFAULT_READ_BURST, DEFAULT_READ_RATE, REMAINING_READS_HEADER, WritePacer
from remediation.plan.models import Action

T = TypeVar("T")
ASYNC_OPERATION_HEADER = "azure-asyncoperation"
LOCATION_HEADER = "location"
DEFAULT_POLL_SECONDS = 1.0
CLUSTER_API_VERSIONS = {ids.CONNECTED_CLUSTER_TYPE: "2024-01-01", ids.MANAGED_CLUSTER_TYPE: "2024-05-01"}
KUBERNETES_CONFIGURATION_API_VERSION = "2023-05-01"
KEY_VAULT_API_VERSION = "2023-07-01"
# Key Vault's challenge names https://vault.azure.net; the SDK checks the vault's host is under it,
# which a local stand-in (the sandbox) never is.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class OperationFailed(AzureRequestError):
    """A long-running operation ended Failed or Canceled (or never ended); the message says why."""


class StillRunning(OperationFailed):
    """A long-running operation outlasted the timeout; ``url`` follows it further (``--resume``)."""

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


class WriteFailed(AzureRequestError):
    """ARM refused a write, or it kept failing; ``sent`` requests went out."""

    def __init__(self, message: str, sent: int):
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class ClusterParts:
    """The path parameters the extensions client wants for a cluster."""

    resource_group: str
    provider: str
    cluster_type: str
    name: str

    @classmethod
    def of(cls, cluster_id: str) -> ClusterParts:
        parsed = ids.parse_resource_id(cluster_id)
        if parsed.resource_group is None or parsed.namespace is None or len(parsed.segments) != 1:
            raise ValueError(f"not a cluster id: {cluster_id}")
        return cls(parsed.resource_group, parsed.namespace, parsed.segments[0][0], parsed.name)


def polling_url(headers: Mapping[str, str]) -> str | None:
    """Where ARM says the outcome of an accepted write can be followed (None: already done)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get(ASYNC_OPERATION_HEADER) or lowered.get(LOCATION_HEADER)


@dataclass(frozen=True)
class WriteReceipt:
    polling_url: str | None  # None: the write completed synchronously (or had already landed)
    sent: int  # write requests sent, retries included


@dataclass
class ArmStats:
    """What this process sent and met: write requests and 429 answers."""

    writes: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, writes: int = 0, throttled: int = 0) -> None:
        with self._lock:
            self.writes += writes
            self.throttled += throttled


class ArmGateway:
    """Thread-safe access to ARM for apply: one pooled HTTPS session shared by every client."""

    def __init__(self, connection: ArmConnection, pacer: WritePacer, *, read_pacer: WritePacer | None = None,
                 pool_size: int = 64, retry: RetryPolicy | None = None):
        self._connection = connection.validated()
        self._credential = connection.token_credential()
        self._pacer = pacer
        self._read_pacer = read_pacer or WritePacer(DEFAULT_READ_BURST, DEFAULT_READ_RATE, pacer.clock, pacer.sleep,
                                                    REMAINING_READS_HEADER)
        self._retry = retry or RetryPolicy()
        self._sleep = pacer.sleep
        self._clock = pacer.clock
        session = self._connection.session(pool_size)
        verify = self._connection.client_kwargs().get("connection_verify", True)
        self._transport = RequestsTransport(session=session, session_owner=False, connection_verify=verify)
        self._session = session
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._lock = threading.Lock()
        self.stats = ArmStats()

    # ---- clients ----------------------------------------------------------------------------
    def _client(self, kind: str, subscription: str, api_version: str | None = None) -> Any:
        key = (kind, subscription.lower(), api_version)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                kwargs = {**self._connection.client_kwargs(), "transport": self._transport}
                if kind == "extensions":
                    client = KubernetesConfigurationExtensionsMgmtClient(
                        self._credential, subscription, api_version=api_version, **kwargs)
                else:
                    client = ResourceManagementClient(self._credential, subscription, **kwargs)
                self._clients[key] = client
        return client

    def _secret_client(self, vault_uri: str) -> SecretClient:
        key = ("keyvault", vault_uri.lower(), None)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = SecretClient(vault_uri, self._credential, transport=self._transport, retry_total=0,
                                      verify_challenge_resource=urlsplit(vault_uri).hostname not in LOOPBACK_HOSTS)
                self._clients[key] = client
        return client

    def _resources(self, resource_id: str) -> ResourceManagementClient:
        subscription = ids.parse_resource_id(resource_id).subscription_id or ""
        return self._client("resources", subscription)

    def _retried(self, call: Callable[[], T]) -> T:
        return with_retries(call, self._retry, sleep=self._sleep)

    def _read_retried(self, resource_id: str, call: Callable[[Callable[[Mapping[str, str]], None]], T]) -> T:
        """A read (GET) within the subscription's read bucket: each attempt spends a read token, ARM's count
        of remaining reads and a 429's Retry-After pull our copy of the bucket down."""
        subscription = ids.parse_resource_id(resource_id).subscription_id or ""

        def attempt() -> T:
            self._read_pacer.take(subscription)
            return call(lambda headers: self._read_pacer.observe(subscription, headers))

        def on_retry(error: Exception, delay: float) -> None:
            if isinstance(error, HttpResponseError) and error.status_code == 429:
                self._read_pacer.hold(subscription, retry_after(error) or delay)

        return with_retries(attempt, self._retry, sleep=self._sleep, on_retry=on_retry)

    # ---- reads ------------------------------------------------------------------------------
    def read(self, resource_id: str, api_version: str) -> dict[str, Any] | None:
        """The resource's ARM JSON, or None when it does not exist."""
        client = self._resources(resource_id)

        def get(observe: Callable[[Mapping[str, str]], None]) -> dict[str, Any] | None:
            def read_back(response: PipelineResponse, _: Any, __: Any) -> dict[str, Any]:
                observe(response.http_response.headers)
                return response.http_response.json()

            try:
                return client.resources.get_by_id(resource_id, api_version=api_version, cls=read_back)
            except ResourceNotFoundError:
                return None

        return self._read_retried(resource_id, get)

    def read_cluster(self, cluster_id: str) -> dict[str, Any] | None:
        api_version = CLUSTER_API_VERSIONS.get(ids.normalize(ids.parse_resource_id(cluster_id).type),
                                               CLUSTER_API_VERSIONS[ids.CONNECTED_CLUSTER_TYPE])
        return self.read(cluster_id, api_version)

    def read_any(self, resource_id: str) -> dict[str, Any] | None:
        """A resource of any type (a policy's evaluated resource): clusters with the api-version
        apply reads them with, other types with their provider's newest."""
        api_version = CLUSTER_API_VERSIONS.get(ids.normalize(ids.parse_resource_id(resource_id).type))
        return self.read(resource_id, api_version or self.latest_api_version(resource_id))

    def read_secret(self, vault_uri: str, name: str) -> str | None:
        """A Key Vault secret's current value (None: the vault has no such secret), read with the
        Key Vault SecretClient from the vault's data-plane address (its ``vaultUri``)."""
        client = self._secret_client(vault_uri)

        def get() -> str | None:
            try:
                return client.get_secret(name).value
            except ResourceNotFoundError:
                return None

        return self._retried(get)

    def list_children(self, cluster_id: str, child_type: str = "extensions",
                      api_version: str = KUBERNETES_CONFIGURATION_API_VERSION) -> list[dict[str, Any]]:
        """A cluster's extensions (or ``fluxConfigurations``) as ARM JSON, every page."""
        client = self._resources(cluster_id)
        url = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/{child_type}?api-version={api_version}"

        def page(link: str, observe: Callable[[Mapping[str, str]], None]) -> dict[str, Any]:
            response = client.send_request(HttpRequest("GET", link))
            observe(response.headers)
            response.raise_for_status()
            return response.json()

        children: list[dict[str, Any]] = []
        link: str | None = url
        while link:
            document = self._read_retried(cluster_id, lambda observe, link=link: page(link, observe))
            children.extend(document.get("value") or [])
            link = document.get("nextLink")
        return children

    def list_action(self, resource_id: str, action: str, api_version: str, body: Any = None) -> Any:
        """A template's ``list*()`` of a resource (``listKeys``, ``listSecrets`` ...): a POST that
        writes nothing, with the function's optional request body."""
        client = self._resources(resource_id)
        request = HttpRequest("POST", f"{resource_id}/{action}", params={"api-version": api_version},
                              json=body)

        def post() -> dict[str, Any]:
            self._pacer.take(ids.parse_resource_id(resource_id).subscription_id or "")  # ARM meters POSTs as writes
            self.stats.add(writes=1)  # and so does the result's count
            response = client.send_request(request)
            response.raise_for_status()
            return response.json()

        return self._retried(post)

    # ---- writes -----------------------------------------------------------------------------
    def write(self, action: Action, resource_id: str, resource_type: str, api_version: str,
              body: dict[str, Any] | None, *, landed: Callable[[], bool]) -> WriteReceipt:
        """Send the write (create/update/delete); the receipt has the URL to poll (None: done).

        Every attempt spends a write token. After an attempt whose outcome is unknown (a dropped
        connection or a 5xx), ``landed()`` re-reads the target first, so a write that did reach
        ARM is not sent twice.
        """
        subscription = ids.parse_resource_id(resource_id).subscription_id or ""
        unsure = False
        sent = 0

        def attempt() -> str | None:
            nonlocal unsure, sent
            if unsure and landed():
                return None
            self._pacer.take(subscription)
            sent += 1
            captured: dict[str, Mapping[str, str]] = {}

            def hook(response: PipelineResponse) -> None:
                captured["headers"] = response.http_response.headers

            self.stats.add(writes=1)
            try:
                self._send(action, resource_id, resource_type, api_version, body, subscription, hook)
            except HttpResponseError as error:
                unsure = error.status_code is not None and error.status_code >= 500
                raise
            except ServiceResponseError:
                unsure = True
                raise
            finally:
                if "headers" in captured:
                    self._pacer.observe(subscription, captured["headers"])
            return polling_url(captured.get("headers", {}))

        def on_retry(error: Exception, delay: float) -> None:
            if isinstance(error, HttpResponseError) and error.status_code == 429:
                self.stats.add(throttled=1)
                self._pacer.hold(subscription, retry_after(error) or delay)

        try:
            url = with_retries(attempt, self._retry, sleep=self._sleep, on_retry=on_retry)
        except Interrupted:
            raise
        except AzureRequestError as error:
            raise WriteFailed(str(error), sent) from None
        return WriteReceipt(url, sent)

    def _send(self, action: Action, resource_id: str, resource_type: str, api_version: str,
              body: dict[str, Any] | None, subscription: str, hook: Callable[[PipelineResponse], None]) -> None:
        options: dict[str, Any] = {"polling": False, "raw_response_hook": hook}
        if ids.normalize(resource_type) == ids.EXTENSION_TYPE:
            parsed = ids.parse_resource_id(resource_id)
            parts = ClusterParts.of(parsed.parent.raw if parsed.parent else "")
            extensions = self._client("extensions", subscription, api_version).extensions
            path = (parts.resource_group, parts.provider, parts.cluster_type, parts.name, parsed.name)
            if action is Action.CREATE:
                extensions.begin_create(*path, body, **options)
            elif action is Action.UPDATE:
                extensions.begin_update(*path, body, **options)
            else:
                extensions.begin_delete(*path, **options)
            return
        resources = self._client("resources", subscription).resources
        if action is Action.CREATE:
            resources.begin_create_or_update_by_id(resource_id, body, api_version=api_version, **options)
        elif action is Action.UPDATE:
            resources.begin_update_by_id(resource_id, body, api_version=api_version, **options)
        else:
            resources.begin_delete_by_id(resource_id, api_version=api_version, **options)

    # ---- long-running operations ------------------------------------------------------------
    def poll(self, url: str, resource_id: str, timeout: float) -> None:
        """Follow an Azure-AsyncOperation or Location URL until the operation ends.

        Raises :class:`OperationFailed` when it ends Failed/Canceled, :class:`StillRunning` when
        it outlasts ``timeout`` seconds; returns when it succeeded.
        """
        client = self._resources(resource_id)
        deadline = self._clock() + timeout
        while True:
            if self._clock() > deadline:
                raise StillRunning(f"still running after {timeout:g}s; re-run with --resume to keep polling", url)
            def get(observe: Callable[[Mapping[str, str]], None]) -> tuple[int, dict[str, Any] | None, float | None]:
                response = client.send_request(HttpRequest("GET", url))
                observe(response.headers)
                if response.status_code in RETRYABLE_STATUS or response.status_code >= 400:
                    response.raise_for_status()
                try:
                    document = response.json() if response.content else None
                except ValueError:
                    document = None
                hinted = response.headers.get("Retry-After")
                return response.status_code, document, float(hinted) if hinted and hinted.isdigit() else None

            status_code, document, delay = self._read_retried(resource_id, get)
            status = str((document or {}).get("status") or "") if status_code != 202 else "InProgress"
            if status_code in (200, 201, 204) and not status:
                return  # a Location URL answering with the final resource (or nothing)
            if status.lower() in TERMINAL_STATES:
                if status.lower() == "succeeded":
                    return
                error = (document or {}).get("error") or {}
                raise OperationFailed(f"{status}: {error.get('code', '')} {error.get('message', '')}".strip())
            self._sleep(DEFAULT_POLL_SECONDS if delay is None else delay)

    def wait_provisioned(self, resource_id: str, api_version: str, timeout: float) -> dict[str, Any] | None:
        """Re-read until the provisioning state is terminal, or Pending (the cluster is offline), or
        ``timeout`` seconds passed: the caller checks which."""
        deadline = self._clock() + timeout
        while True:
            live = self.read(resource_id, api_version)
            state = (provisioning_state(live) or "succeeded").lower()
            if live is None or state in TERMINAL_STATES or state == "pending" or self._clock() > deadline:
                return live
            self._sleep(DEFAULT_POLL_SECONDS)

    def latest_api_version(self, resource_id: str) -> str:
        """The newest stable api-version of a resource's type, from its provider's registration."""
        parsed = ids.parse_resource_id(resource_id)
        resource_type = parsed.type.split("/", 1)[1] if "/" in parsed.type else parsed.type
        provider = self._read_retried(resource_id,
                                      lambda _: self._resources(resource_id).providers.get(parsed.namespace or ""))
        for registered in provider.resource_types or []:
            if ids.same(registered.resource_type, resource_type):
                stable = [version for version in registered.api_versions or [] if "preview" not in version]
                if stable or registered.api_versions:
                    return max(stable or registered.api_versions)
        raise AzureRequestError(f"no api-version registered for {parsed.type}")

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._session.close()
