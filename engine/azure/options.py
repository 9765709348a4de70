"""The connection choices commands and config files name (the endpoint, the credential kind), without the
Azure SDK: a command that never talks to Azure imports this, not :mod:`engine.azure.connection`."""

from __future__ import annotations

from enum import StrEnum

AZURE_RESOURCE_MANAGER = "https://management.azure.com"
SANDBOX_TOKEN = "arcpolicy-sandbox-token"


class CredentialKind(StrEnum):
    default = "default"
    cli = "cli"
    sandbox = "sandbox"
