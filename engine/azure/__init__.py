"""Talking to Azure (or the sandbox): connection options, credentials, retries and pacing.

Shared by every stage that reads inventory through Resource Graph or writes through ARM. The names below
are imported on first use (the Azure SDK costs a tenth of a second): ``engine.azure.options`` alone is light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {"ArmConnection": "connection", "CredentialKind": "options", "SandboxCredential": "connection",
          "AzureRequestError": "retry", "QuotaPacer": "retry", "RetryPolicy": "retry", "with_retries": "retry"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'engine.azure' has no attribute {name!r}")
    return getattr(import_module(f"engine.azure.{_HOMES[name]}"), name)


__all__ = sorted(_HOMES)
