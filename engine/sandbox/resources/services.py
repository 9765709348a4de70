"""Resource types a deployIfNotExists template creates beside cluster extensions: Log Analytics workspaces,
storage accounts and key vaults, with the POST actions templates call on them (``listKeys``,
``sharedKeys``). Their providers' swaggers are not kept: their bodies are checked as ARM's resource
envelope, their ``properties`` kept as sent, and the values their providers set are set here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import TYPE_CHECKING, Any

from engine import ids
from engine.sandbox import keyvault
from engine.sandbox.resources.registry import ResourceType, register
from engine.sandbox.values import deterministic_uuid

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox
    from engine.sandbox.http import Request

KEY_SECRET = "listkeys_secret"
# Microsoft.OperationalInsights/workspaces api-versions (azure-rest-api-specs' operationalinsights folders).
WORKSPACE_API_VERSIONS = ("2015-03-20", "2015-11-01-preview", "2020-03-01-preview", "2020-08-01", "2020-10-01",
                          "2021-06-01", "2021-12-01-preview", "2022-10-01", "2023-09-01", "2025-02-01")


def derived_secret(sandbox: Sandbox, resource: dict[str, Any], name: str) -> str:
    """A stable key per resource, derived from a per-sandbox secret (never stored in the clear)."""
    secret = sandbox.store.meta(KEY_SECRET)
    if secret is None:
        secret = uuid.uuid4().hex + uuid.uuid4().hex
        sandbox.store.set_meta(KEY_SECRET, secret)
    digest = hmac.new(secret.encode(), f"{ids.normalize(resource['id'])}/{name}".encode(), hashlib.sha512)
    return base64.b64encode(digest.digest()).decode()


def _workspace_defaults(sandbox: Sandbox, request: Request, resource: dict[str, Any],
                        previous: dict[str, Any] | None) -> None:
    """A workspace's customer id, fixed at creation."""
    properties = resource.setdefault("properties", {})
    properties["customerId"] = ((previous or {}).get("properties") or {}).get("customerId") \
        or deterministic_uuid(ids.normalize(resource["id"]), "customer")


def _workspace_keys(sandbox: Sandbox, request: Request, resource: dict[str, Any], body: Any) -> dict[str, Any]:
    return {"primarySharedKey": derived_secret(sandbox, resource, "primary"),
            "secondarySharedKey": derived_secret(sandbox, resource, "secondary")}


def _storage_keys(sandbox: Sandbox, request: Request, resource: dict[str, Any], body: Any) -> dict[str, Any]:
    return {"keys": [{"keyName": name, "value": derived_secret(sandbox, resource, name), "permissions": "FULL"}
                     for name in ("key1", "key2")]}


WORKSPACES = register(ResourceType(
    "Microsoft.OperationalInsights/workspaces", WORKSPACE_API_VERSIONS, tracked=True, prepare=_workspace_defaults,
    actions={"sharedKeys": _workspace_keys, "listKeys": _workspace_keys}))
STORAGE_ACCOUNTS = register(ResourceType("Microsoft.Storage/storageAccounts", (), tracked=True,
                                         actions={"listKeys": _storage_keys}))
VAULTS = register(ResourceType("Microsoft.KeyVault/vaults", (), tracked=True, prepare=keyvault.vault_defaults))
