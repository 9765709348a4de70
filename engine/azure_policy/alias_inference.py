"""Aliases of resource types arcpolicy has no alias table for, read by Azure's default convention.

Azure publishes each resource type's aliases (``Get-AzPolicyAlias``, ``GET /providers?$expand=
resourceTypes/aliases``; docs: "Azure Policy definition structure aliases"). Most of them are
named after their property path: ``<type>/<path>`` reads ``properties.<path>`` of the resource,
and ``<type>/sku.name``, ``<type>/identity.type``, ``<type>/zones[*]`` ... read the resource's
top-level (envelope) properties. Offline, where Azure's list is not at hand, an alias the explicit
table (:mod:`engine.azure_policy.aliases`) lacks is read that way, said once per alias as a
warning; ``--strict-aliases`` refuses it instead. Types that have an explicit table are never
inferred: an alias missing there is a load-time error, as before.
"""

from __future__ import annotations

from functools import cache

from engine.azure_policy.aliases import ALIASES, Alias, split_path

# Top-level ARM properties some aliases read directly (``Microsoft.Compute/disks/sku.name``).
ENVELOPE_ROOTS = frozenset({"sku", "identity", "extendedlocation", "plan", "zones", "managedby", "kind", "etag"})


@cache
def _tabled_types() -> frozenset[str]:
    """The (lower-case) resource types whose aliases the explicit table lists."""
    return frozenset(name.rsplit("/", 1)[0] for name in ALIASES)


def _split_type(name: str) -> tuple[str, str] | None:
    """``(type, property path)`` of ``Namespace/type[/child...]/path``, split at the last ``/`` outside
    brackets; None when the name has no namespace, type and path."""
    depth = 0
    for position in range(len(name) - 1, -1, -1):
        character = name[position]
        if character == "]":
            depth += 1
        elif character == "[":
            depth -= 1
        elif character == "/" and depth == 0:
            resource_type, path = name[:position], name[position + 1:]
            if resource_type.count("/") >= 1 and "." in resource_type.split("/", 1)[0] and path:
                return resource_type, path
            return None
    return None


def _legacy(name: str) -> Alias | None:
    """A legacy two-segment alias ``<Namespace>/<type>.<path>`` (``Microsoft.Sql/auditingSettings.state``)
    reads ``properties.<path>`` of the resource of that type."""
    namespace, _, rest = name.partition("/")
    _, dot, path = rest.partition(".")
    if "." not in namespace or "/" in rest or not dot or not path:
        return None
    segments = split_path(path)
    return Alias(name, ("properties", *segments)) if segments and all(segments) else None


def infer_alias(name: str) -> Alias | None:
    """The alias ``name`` read by the default convention (:func:`convention_alias`), or None when it cannot be,
    or names a type whose explicit table does not list it."""
    split = _split_type(name)
    if split is not None and split[0].lower() in _tabled_types():
        return None
    return convention_alias(name)


def convention_alias(name: str) -> Alias | None:
    """``<Namespace>/<type>/<path>`` read as ``properties.<path>`` (an envelope path such as ``sku.name`` as
    itself), a legacy ``<Namespace>/<type>.<path>`` as ``properties.<path>``; None for other names."""
    split = _split_type(name)
    if split is None:
        return _legacy(name)
    segments = split_path(split[1])
    if not segments or any(not segment for segment in segments):
        return None
    if segments[0].lower() in ENVELOPE_ROOTS:
        return Alias(name, segments)
    return Alias(name, ("properties", *segments))
