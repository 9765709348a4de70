"""Where ARM is and who we are: the connection options every Azure-facing command accepts.

One :class:`ArmConnection` describes the endpoint, the CA bundle to trust, the credential kind
and the scope (subscriptions or management groups); it builds the azure-core credential and the
keyword arguments every Azure SDK client is constructed with, so clients stay consistent.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import InputError

AZURE_RESOURCE_MANAGER = "https://management.azure.com"
SANDBOX_TOKEN = "arcpolicy-sandbox-token"


class CredentialKind(StrEnum):
    default = "default"
    cli = "cli"
    sandbox = "sandbox"


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


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        parts = urlsplit(self.arm_endpoint)
        if parts.scheme != "https" or not parts.hostname:
            raise InputError("--arm-endpoint", "must be an https:// URL", value=self.arm_endpoint)
        if self.credential is CredentialKind.sandbox and not is_loopback(self.arm_endpoint):
            raise InputError("--credential", "the sandbox credential is accepted only for a loopback "
                             "endpoint (127.0.0.1, ::1 or localhost)", value=self.arm_endpoint)
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise InputError(str(self.ca_bundle), "CA bundle not found (--ca-bundle)")
        if self.subscriptions and self.management_groups:
            raise InputError("--management-group", "give subscriptions or management groups, not both")
        return self

    def token_credential(self) -> TokenCredential:
        self.validated()
        return CREDENTIAL_FACTORIES[self.credential]()

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any azure-mgmt client: endpoint, trust, scopes; SDK retries off.

        Retries are ours (:func:`engine.azure.retry.with_retries`) so they honour Retry-After,
        are counted, and are never doubled up with the SDK's own.
        """
        endpoint = self.arm_endpoint.rstrip("/")
        scope = AZURE_RESOURCE_MANAGER if self.credential is not CredentialKind.sandbox else endpoint
        kwargs: dict[str, Any] = {"base_url": endpoint, "credential_scopes": [f"{scope}/.default"],
                                  "retry_total": 0}
        if self.ca_bundle is not None:
            kwargs["connection_verify"] = str(self.ca_bundle)
        return kwargs
