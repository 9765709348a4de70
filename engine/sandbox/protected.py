"""Write-only values (``x-ms-secret``): kept as SHA-256 digests, never stored or returned in the clear.

ARM never returns an extension's or flux configuration's protected settings; the sandbox answers with
their names only. It keeps a digest per protected setting written, so tests can check which value
reached ARM, and so a PATCH that resends the same values is recognised as a no-op.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson

from engine import ids
from engine.sandbox.swagger import Schema

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox

PROTECTED_DIGESTS = "protected-settings-sha256"
PROTECTED_SETTINGS = "configurationProtectedSettings"


def _digest(value: Any) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()


def protected_setting_digests(sandbox: Sandbox, resource_id: str) -> dict[str, str]:
    """``{setting: sha256 hex of the value last written}`` of an extension or flux configuration."""
    stored = sandbox.store.fact(ids.normalize(resource_id), PROTECTED_DIGESTS)
    return orjson.loads(stored) if stored else {}


def written_settings(properties: dict[str, Any] | None) -> dict[str, Any]:
    """The protected settings a request body writes (``null`` removes one, in a PATCH)."""
    settings = (properties or {}).get(PROTECTED_SETTINGS)
    return settings if isinstance(settings, dict) else {}


def unchanged(sandbox: Sandbox, resource_id: str, written: dict[str, Any]) -> bool:
    """Whether writing ``written`` leaves every protected setting as it is."""
    digests = protected_setting_digests(sandbox, resource_id)
    return all((value is None and name not in digests) or digests.get(name) == _digest(value)
               for name, value in written.items() if value is not None or name in digests)


def record(sandbox: Sandbox, resource_id: str, written: dict[str, Any], *, replace: bool) -> None:
    """Remember the digests of the settings written (``replace``: a PUT, which forgets the others)."""
    existing = protected_setting_digests(sandbox, resource_id)
    if not written and (not replace or not existing):
        return
    digests = {} if replace else existing
    for name, value in written.items():
        if value is None:
            digests.pop(name, None)
        else:
            digests[name] = _digest(value)
    sandbox.store.set_fact(ids.normalize(resource_id), PROTECTED_DIGESTS, orjson.dumps(digests).decode())


def blanked(schema: Schema, value: Any) -> Any:
    """``value`` with every ``x-ms-secret`` value removed: a secret map keeps its names (values ``""``)."""
    if isinstance(value, dict):
        result = {}
        for name, member in value.items():
            member_schema = schema.properties.get(name) or schema.additional
            if member_schema is not None and member_schema.secret:
                if isinstance(member, dict):
                    result[name] = dict.fromkeys(member, "")
                continue
            result[name] = blanked(member_schema, member) if member_schema is not None else member
        return result
    if isinstance(value, list) and schema.items is not None:
        return [blanked(schema.items, item) for item in value]
    return value
