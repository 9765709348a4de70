"""What arcpolicy knows about cluster extension types: data, not code.

From the cluster-extensions concept document: every current extension type is cluster-scoped (one
instance per cluster) except Azure API Management's gateway and Event Grid on Kubernetes; on
clusters whose nodes are all arm64 only Flux and Defender for Containers can be installed; and
Flux configurations need the ``microsoft.flux`` extension. An unknown type's scope is read from
the extension body's ``scope`` (``cluster`` or ``namespace``, keys case-insensitive).
"""

from __future__ import annotations

from typing import Any, Literal

from engine import ids

Scope = Literal["cluster", "namespace"]

NAMESPACE_SCOPED_TYPES = frozenset({"microsoft.apimanagement", "microsoft.eventgrid"})
ARM64_SUPPORTED_TYPES = frozenset({"microsoft.flux", "microsoft.azuredefender.kubernetes"})

# resource type -> extension types that must be installed on the same cluster first
PREREQUISITE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    ids.FLUX_CONFIGURATION_TYPE: ("microsoft.flux",),
}


def extension_type_of(body: dict[str, Any] | None) -> str | None:
    """The lower-cased ``properties.extensionType`` of an extension body."""
    properties = _get(body or {}, "properties") or {}
    value = _get(properties, "extensionType")
    return str(value).lower() if value else None


def extension_scope(extension_type: str | None, body: dict[str, Any] | None) -> Scope:
    """Cluster- or namespace-scoped: the catalog for known types, the body's ``scope`` otherwise."""
    if extension_type in NAMESPACE_SCOPED_TYPES:
        return "namespace"
    scope = _get(_get(body or {}, "properties") or {}, "scope") or {}
    if isinstance(scope, dict) and _get(scope, "namespace") is not None:
        return "namespace"
    return "cluster"


def release_namespace(body: dict[str, Any] | None) -> str | None:
    scope = _get(_get(body or {}, "properties") or {}, "scope") or {}
    cluster = _get(scope, "cluster") if isinstance(scope, dict) else None
    return _get(cluster, "releaseNamespace") if isinstance(cluster, dict) else None


def _get(mapping: dict[str, Any], name: str) -> Any:
    """ARM property names are case-insensitive (built-ins write ``"Cluster"``)."""
    if name in mapping:
        return mapping[name]
    lowered = name.lower()
    return next((value for key, value in mapping.items() if key.lower() == lowered), None)
