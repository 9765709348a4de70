"""Where ARM is and who we are: the connection options every Azure-facing command accepts.

One :class:`ArmConnection` describes the endpoint, the CA bundle to trust, the credential kind
and the scope (subscriptions or management groups); it builds the azure-core credential and the
keyword arguments every Azure SDK client is constructed with, so clients stay consistent.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import RequestsTransport
from pydantic import BaseModel, ConfigDict, Field
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from engine.azure.options import AZURE_RESOURCE_MANAGER, SANDBOX_TOKEN, CredentialKind
from engine.azure.retry import describe
from engine.errors import InputError, ServiceError


class SandboxCredential:
    """A static bearer token: the sandbox accepts any token, real Azure none of these."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(SANDBOX_TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(SANDBOX_TOKEN, int(time.time()) + 3600)


def _default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _cli_credential() -> TokenCredential:
    from azure.identity import AzureCliCredential

    return AzureCliCredential()


CREDENTIAL_FACTORIES: dict[CredentialKind, Callable[[], TokenCredential]] = {
    CredentialKind.default: _default_credential,
    CredentialKind.cli: _cli_credential,
    CredentialKind.sandbox: SandboxCredential,
}


class EndpointError(ValueError):
    """An endpoint URL that could be read two ways, or is not a plain https://host[:port][/path]."""


def endpoint_host(url: str) -> str:
    """The host an HTTP client connects to for ``url``, once the URL is known to mean one thing only.

    ``urlsplit`` and urllib3 (what requests and azure-core use) disagree on some URLs:
    ``https://192.0.2.2:18777\\@127.0.0.1:18600`` is host 127.0.0.1 to the first and 192.0.2.2 to the
    second. So user info, backslashes, whitespace and control characters are refused, and both
    parsers must agree on scheme, host and port.
    """
    if "\\" in url or any(character.isspace() or ord(character) < 32 or ord(character) == 127 for character in url):
        raise EndpointError("must not contain backslashes, whitespace or control characters")
    try:
        split, parsed = urlsplit(url), parse_url(url)
        split_port = split.port
    except (ValueError, LocationParseError) as error:
        raise EndpointError(f"is not a valid URL ({error})") from None
    if split.scheme != "https" or not split.hostname:
        raise EndpointError("must be an https:// URL")
    if "@" in split.netloc or parsed.auth:
        raise EndpointError("must not carry user info (user@host)")
    if (parsed.scheme, (parsed.host or "").strip("[]").lower(), parsed.port) != (split.scheme, split.hostname,
                                                                                split_port):
        raise EndpointError("is read differently by URL parsers; write it as https://host[:port][/path]")
    return split.hostname


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    try:
        return is_loopback_host(endpoint_host(url))
    except EndpointError:
        return False


class _LoopbackPeerConnection(HTTPSConnection):
    """An HTTPS connection that connects only to loopback addresses: every address the host resolves
    to is checked before connecting, and the connected peer again before a byte is sent."""

    def _new_conn(self) -> socket.socket:
        resolved = {str(info[4][0]) for info in socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)}
        _require_loopback(self._dns_host, sorted(resolved))
        sock = super()._new_conn()
        try:
            _require_loopback(self._dns_host, [str(sock.getpeername()[0])])
        except InputError:
            sock.close()
            raise
        return sock


def _require_loopback(host: str, addresses: list[str]) -> None:
    outside = [address for address in addresses if not is_loopback_host(address)]
    if outside:
        raise InputError("--arm-endpoint", f"{host} resolves to {', '.join(outside)}, not a loopback address: "
                         "the sandbox credential is accepted only for a loopback endpoint")


class _LoopbackPeerPool(HTTPSConnectionPool):
    ConnectionCls = _LoopbackPeerConnection


class LoopbackOnlyAdapter(HTTPAdapter):
    """A requests adapter whose HTTPS connections refuse any peer that is not a loopback address."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {**self.poolmanager.pool_classes_by_scheme,
                                                   "https": _LoopbackPeerPool}


def check_ca_bundle(path: Path) -> None:
    """``--ca-bundle`` is a readable PEM file of CA certificates: checked before anything connects or
    is written, so a wrong file is one line now rather than TLS failures after every retry."""
    if not path.is_file():
        raise InputError(str(path), "CA bundle not found (--ca-bundle)")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, UnicodeDecodeError) as error:
        raise InputError(str(path), f"not a PEM file of CA certificates (--ca-bundle): {error}") from None


class ArmConnection(BaseModel):
    """The endpoint, trust, identity and scope of an Azure-facing command."""

    model_config = ConfigDict(frozen=True)

    arm_endpoint: str = AZURE_RESOURCE_MANAGER
    ca_bundle: Path | None = None
    credential: CredentialKind = CredentialKind.default
    subscriptions: list[str] = Field(default_factory=list)
    management_groups: list[str] = Field(default_factory=list)

    def validated(self) -> ArmConnection:
        """Raise InputError for options that cannot work together; returns self for chaining."""
        try:
            host = endpoint_host(self.arm_endpoint)
        except EndpointError as error:
            shown = re.sub(r"//[^/@]*@", "//***@", self.arm_endpoint)  # user info may hold a password
            raise InputError("--arm-endpoint", str(error), value=shown) from None
        if self.credential is CredentialKind.sandbox and not is_loopback_host(host):
            raise InputError("--credential", "the sandbox credential is accepted only for a loopback "
                             "endpoint (127.0.0.1, ::1 or localhost)", value=self.arm_endpoint)
        if self.ca_bundle is not None:
            check_ca_bundle(self.ca_bundle)
        if self.subscriptions and self.management_groups:
            raise InputError("--management-group", "give subscriptions or management groups, not both")
        return self

    def token_credential(self) -> TokenCredential:
        self.validated()
        return CREDENTIAL_FACTORIES[self.credential]()

    def check_token(self) -> None:
        """Get an access token now: a credential that yields none is one line (exit 4) before the command
        reads or writes anything, rather than every request failing on its own."""
        try:
            self.token_credential().get_token(self._scope())
        except ClientAuthenticationError as error:
            raise ServiceError(describe(error)) from None

    def _scope(self) -> str:
        endpoint = self.arm_endpoint.rstrip("/")
        return f"{AZURE_RESOURCE_MANAGER if self.credential is not CredentialKind.sandbox else endpoint}/.default"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any azure-mgmt client: endpoint, trust, scopes; SDK retries off.

        Retries are ours (:func:`engine.azure.retry.with_retries`) so they honour Retry-After,
        are counted, and are never doubled up with the SDK's own.
        """
        kwargs: dict[str, Any] = {"base_url": self.arm_endpoint.rstrip("/"), "credential_scopes": [self._scope()],
                                  "retry_total": 0}
        if self.ca_bundle is not None:
            kwargs["connection_verify"] = str(self.ca_bundle)
        if self.credential is CredentialKind.sandbox:
            kwargs["transport"] = RequestsTransport(session=self.session(), session_owner=True,
                                                    connection_verify=kwargs.get("connection_verify", True))
        return kwargs

    def session(self, pool_size: int = 10) -> requests.Session:
        """A requests session for this endpoint; with the sandbox credential, one that connects only to
        loopback addresses (:class:`LoopbackOnlyAdapter`)."""
        session = requests.Session()
        adapter_type = LoopbackOnlyAdapter if self.credential is CredentialKind.sandbox else HTTPAdapter
        session.mount("https://", adapter_type(pool_connections=4, pool_maxsize=pool_size))
        return session
