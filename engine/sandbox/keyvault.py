"""A minimal Key Vault secrets data plane: what ARM's deployment engine (and apply) reads Key Vault
parameter references from.

A vault created through ARM (``Microsoft.KeyVault/vaults``) gets ``properties.vaultUri`` pointing
at the sandbox itself, ``https://HOST:PORT/keyvault/{vault}/``. Under it, ``PUT`` and ``GET
secrets/{name}[/{version}]`` answer as the Key Vault REST API does for the azure-keyvault-secrets
``SecretClient``, with its challenge-based authentication: a request without a bearer token gets
401 and ``WWW-Authenticate: Bearer authorization="...", resource="https://vault.azure.net"``.
The SDK parses secret ids as ``https://HOST/secrets/{name}/{version}``, so the ids the sandbox
returns name the sandbox's address as the vault host. Secret values live in the sandbox's state
(as in a vault); ARM never returns them.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from engine.sandbox.http import Request, Response
from engine.sandbox.values import SANDBOX_TENANT_ID

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox

PATH_PREFIX = "/keyvault/"
VAULT_TYPE = "microsoft.keyvault/vaults"
RESOURCE = "https://vault.azure.net"
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/{SANDBOX_TENANT_ID}", resource="{RESOURCE}"'
VAULT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9-]{1,127}$")
SECRET_FACT = "keyvault-secret/"  # facts of the vault resource: the latest version, and each by version


def vault_uri(base_url: str, name: str) -> str:
    return f"{base_url}{PATH_PREFIX}{name}/"


def vault_defaults(sandbox: Sandbox, request: Request, resource: dict[str, Any],
                   previous: dict[str, Any] | None) -> None:
    """What ARM adds to a vault: its data-plane address (here: the sandbox itself)."""
    resource.setdefault("properties", {})["vaultUri"] = vault_uri(request.base_url, resource["name"])


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}}, dict(headers))


def handle(sandbox: Sandbox, request: Request, path: str) -> Response:
    """``{vaultUri}secrets/{name}[/{version}]``: PUT sets a new version, GET reads one."""
    token = request.headers.get("authorization", "")
    if not token.startswith("Bearer ") or not token[7:].strip():
        return _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                      **{"WWW-Authenticate": CHALLENGE})
    if "api-version" not in request.query:
        return _error(400, "BadParameter", "The api-version query parameter is required.")
    parts = path[len(PATH_PREFIX):].strip("/").split("/")
    if len(parts) not in (3, 4) or parts[1].lower() != "secrets":
        return _error(400, "BadParameter", "The sandbox's vaults serve secrets/{name}[/{version}] only.")
    vault_name, name, version = parts[0], parts[2], parts[3] if len(parts) == 4 else None
    if not VAULT_NAME.match(vault_name) or not SECRET_NAME.match(name):
        return _error(400, "BadParameter", "Invalid vault or secret name.")
    with sandbox.store.lock:
        vault = _vault(sandbox, vault_name)
        if vault is None:
            return _error(404, "VaultNotFound", f"Vault '{vault_name}' does not exist.")
        if request.method == "PUT" and version is None:
            return _set(sandbox, request, vault, name)
        if request.method == "GET":
            return _get(sandbox, request, vault, name, version)
    return _error(405, "MethodNotAllowed", f"{request.method} is not supported by the sandbox's vaults.")


def _vault(sandbox: Sandbox, name: str) -> str | None:
    """The key of the vault called ``name`` (vault names are unique across Azure)."""
    rows = sandbox.store.select_where("type_key = ? AND key LIKE ?",
                                      [VAULT_TYPE, f"%/providers/{VAULT_TYPE}/{name.lower()}"], "key", 1, 0)
    return rows[0][0] if rows else None


def secret_value(sandbox: Sandbox, vault_id: str, name: str) -> str | None:
    """The current value of a vault's secret: what a deployment's Key Vault parameter reference reads."""
    stored = sandbox.store.fact(vault_id.rstrip("/").lower(), f"{SECRET_FACT}{name.lower()}")
    return None if stored is None else str(orjson.loads(stored)["value"])


def _bundle(request: Request, name: str, stored: dict[str, Any]) -> dict[str, Any]:
    bundle = {"value": stored["value"], "id": f"{request.base_url}/secrets/{name}/{stored['version']}",
              "attributes": {"enabled": True, "created": stored["created"], "updated": stored["created"],
                             "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}}
    for key in ("contentType", "tags"):
        if stored.get(key) is not None:
            bundle[key] = stored[key]
    return bundle


def _set(sandbox: Sandbox, request: Request, vault: str, name: str) -> Response:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        return _error(400, "BadParameter", "The request body must be an object with a string 'value'.")
    stored = {"value": body["value"], "version": uuid.uuid4().hex, "created": int(sandbox.now()),
              "contentType": body.get("contentType"), "tags": body.get("tags")}
    encoded = orjson.dumps(stored).decode()
    sandbox.store.set_fact(vault, f"{SECRET_FACT}{name.lower()}", encoded)
    sandbox.store.set_fact(vault, f"{SECRET_FACT}{name.lower()}/{stored['version']}", encoded)
    return Response(200, _bundle(request, name, stored))


def _get(sandbox: Sandbox, request: Request, vault: str, name: str, version: str | None) -> Response:
    fact = f"{SECRET_FACT}{name.lower()}" + (f"/{version.lower()}" if version else "")
    stored = sandbox.store.fact(vault, fact)
    if stored is None:
        return _error(404, "SecretNotFound", f"A secret with (name/id) {name}{'/' + version if version else ''} "
                      f"was not found in this key vault.")
    return Response(200, _bundle(request, name, orjson.loads(stored)))
