"""Comparing a live ARM resource with a plan body, and addressing values inside a body.

ARM property names are case-insensitive and Azure Policy compares strings without regard to case,
so both are matched that way; a boolean or number written where the resource's schema says string
(a configuration setting) reads back as its text. Only what the plan sets is compared; read-only properties ARM adds
(state, statuses, versions, systemData) and secrets (which ARM never returns) are ignored.
"""

from __future__ import annotations

import copy
import json
from typing import Any

READ_ONLY_KEYS = frozenset({"provisioningstate", "statuses", "currentversion", "systemdata", "errorinfo",
                            "issystemextension", "packageuri", "customlocationsettings", "aksassignedidentity",
                            "compliancestate", "sourcesyncedcommitid", "sourceupdatedat", "statusupdatedat",
                            "etag", "id", "type", "name"})
# Templates set these on types that have none (an extension has no location); ARM drops them.
DROPPED_BY_ARM = frozenset({"location"})
SECRET_KEYS = frozenset({"configurationprotectedsettings"})
FAILED_STATES = frozenset({"failed", "canceled"})
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})


def _lookup(mapping: dict[str, Any], key: str) -> tuple[bool, Any]:
    if key in mapping:
        return True, mapping[key]
    lowered = key.lower()
    for candidate, value in mapping.items():
        if candidate.lower() == lowered:
            return True, value
    return False, None


def matches(live: Any, desired: Any) -> bool:
    """Whether ``live`` has every value ``desired`` sets (dicts: the desired keys only)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        for key, value in desired.items():
            if key.lower() in READ_ONLY_KEYS or key.lower() in SECRET_KEYS:
                continue
            found, live_value = _lookup(live, key)
            if not found:
                if value is None or value == {} or value == [] or key.lower() in DROPPED_BY_ARM:
                    continue
                return False
            if not matches(live_value, value):
                return False
        return True
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(
            matches(left, right) for left, right in zip(live, desired, strict=True))
    if isinstance(desired, str) and isinstance(live, str):
        return desired.lower() == live.lower()
    if isinstance(live, str) and isinstance(desired, bool | int | float):
        return live.lower() == json.dumps(desired)  # a string-typed property holds the value's text
    return bool(live == desired) and type(live) is type(desired)


def provisioning_state(resource: dict[str, Any] | None) -> str | None:
    if resource is None:
        return None
    properties = resource.get("properties") or {}
    found, state = _lookup(properties, "provisioningState")
    return str(state) if found and state is not None else None


def satisfies(live: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """The live resource already is what the plan writes, and did not fail provisioning."""
    if live is None:
        return False
    return (provisioning_state(live) or "").lower() not in FAILED_STATES and matches(live, body)


def _existing_key(mapping: dict[str, Any], key: str) -> str:
    """The spelling ``mapping`` already uses for ``key`` (ARM keys are case-insensitive)."""
    return next((candidate for candidate in mapping if candidate.lower() == key.lower()), key)


def _step(node: dict[str, Any], segments: list[str]) -> tuple[str, list[str]]:
    """The key of ``node`` a dotted path continues through, and the segments after it.

    Setting names contain dots (``amalogs.useAADAuth``): below a ``*Settings`` map the rest of
    the path is one key; elsewhere the longest key ``node`` already has wins.
    """
    for end in range(len(segments), 1, -1):
        joined = ".".join(segments[:end])
        if _lookup(node, joined)[0]:
            return _existing_key(node, joined), segments[end:]
    return _existing_key(node, segments[0]), segments[1:]


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted ``path`` (e.g. ``properties.configurationSettings.a.b``)."""
    node, segments = body, path.split(".")
    while True:
        key, rest = _step(node, segments)
        if not rest:
            node[key] = value
            return
        if not isinstance(node.get(key), dict):
            node[key] = {}
        if key.lower().endswith("settings"):
            node[key][_existing_key(node[key], ".".join(rest))] = value
            return
        node, segments = node[key], rest


def get_path(data: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` inside ``data`` (None when absent)."""
    node, segments = data, path.split(".") if path else []
    while segments:
        if not isinstance(node, dict):
            return None
        key, segments = _step(node, segments)
        node = _lookup(node, key)[1]
        if segments and key.lower().endswith("settings") and isinstance(node, dict):
            return _lookup(node, ".".join(segments))[1]
    return node


def contains_text(data: Any, text: str) -> bool:
    """Whether any string inside ``data`` contains ``text`` (a redaction marker left unfilled)."""
    if isinstance(data, dict):
        return any(contains_text(value, text) for value in data.values())
    if isinstance(data, list):
        return any(contains_text(value, text) for value in data)
    return isinstance(data, str) and text in data


EXPIRED_PROTECTED_SETTINGS = "protectedsettingsexpired"
WRITABLE_IDENTITY_KEYS = frozenset({"type", "userassignedidentities"})


def protected_settings_expired(live: dict[str, Any] | None) -> bool:
    """An extension Failed because its cluster stayed disconnected 48 hours after it was created:
    Azure no longer has its protected settings, and the extension has to be re-created."""
    if (provisioning_state(live) or "").lower() not in FAILED_STATES:
        return False
    error = _lookup((live or {}).get("properties") or {}, "errorInfo")[1]
    return isinstance(error, dict) and str(error.get("code") or "").lower() == EXPIRED_PROTECTED_SETTINGS


def protected_setting_names(resource: dict[str, Any] | None) -> list[str]:
    settings = _lookup((resource or {}).get("properties") or {}, "configurationProtectedSettings")[1]
    return [name.lower() for name in settings] if isinstance(settings, dict) else []


def recreation_body(live: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The body that re-creates ``live`` as the plan wants it: its writable properties (ARM's
    read-only ones and the protected settings it never returns left out), the plan's on top."""
    body: dict[str, Any] = {}
    for key, value in live.items():
        if key.lower() in READ_ONLY_KEYS:
            continue
        if key.lower() == "identity" and isinstance(value, dict):
            value = {name: item for name, item in value.items() if name.lower() in WRITABLE_IDENTITY_KEYS}
        if key.lower() == "properties" and isinstance(value, dict):
            value = {name: item for name, item in value.items()
                     if name.lower() not in READ_ONLY_KEYS and name.lower() not in SECRET_KEYS}
        body[key] = copy.deepcopy(value)
    return _overlay(body, desired)


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    for key, value in top.items():
        existing = _existing_key(base, key)
        if isinstance(value, dict) and isinstance(base.get(existing), dict):
            _overlay(base[existing], value)
        else:
            base[existing] = value
    return base
