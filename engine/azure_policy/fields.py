"""``field`` references compiled into getters over a resource's ARM JSON.

A field is an envelope property (``type``, ``name``, ``tags['x']`` ...) or an alias. Array
aliases (``...statuses[*].code``) yield every element's value; inside a field ``count`` the
fields under the counted array read the element being counted instead of the whole array.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.azure_policy.alias_inference import infer_alias
from engine.azure_policy.aliases import Alias, resolve_alias


class _Missing:
    """The value of a field the resource does not have (distinct from JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
WILDCARD = "[*]"

ENVELOPE_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",), "kind": ("kind",), "type": ("type",), "location": ("location",),
    "id": ("id",), "identity.type": ("identity", "type"), "tags": ("tags",),
    "identity.userassignedidentities": ("identity", "userAssignedIdentities"),  # docs: policy rule "fields"
}


class FieldError(ValueError):
    """A field reference that names neither an envelope property nor a known alias."""


class UnknownAliasError(FieldError):
    """A field shaped like an alias that is neither in the table nor inferred (Azure: an invalid alias)."""


@dataclass(frozen=True, slots=True)
class FieldReference:
    """A compiled field: its name as written, and a getter ``(resource, current) -> value``.

    ``is_array`` is True for ``[*]`` references whose value is the list of element values;
    ``inferred`` when the alias is not in the table but read by Azure's default convention.
    """

    name: str
    get: Callable[[dict[str, Any], dict[str, Any]], Any]
    is_array: bool
    alias: Alias | None = None
    inferred: bool = False


def lookup(value: Any, key: str) -> Any:
    """``value[key]`` with ARM's case-insensitive property names; MISSING when absent."""
    if not isinstance(value, dict):
        return MISSING
    found = value.get(key, MISSING)
    if found is not MISSING:
        return found
    lowered = key.lower()
    for name, item in value.items():
        if name.lower() == lowered:
            return item
    return MISSING


def read_path(value: Any, path: tuple[str, ...]) -> Any:
    """Follow ``path`` from ``value``; ``[*]`` fans out into a list of every element's value."""
    for position, segment in enumerate(path):
        if segment == WILDCARD:
            if not isinstance(value, list):
                return []
            rest = path[position + 1:]
            values: list[Any] = []
            for element in value:
                item = read_path(element, rest)
                if isinstance(item, list) and WILDCARD in rest:
                    values.extend(item)
                elif item is not MISSING:
                    values.append(item)
            return values
        value = lookup(value, segment)
        if value is MISSING:
            return MISSING
    return value


def _tag_name(lowered: str, name: str) -> str | None:
    """The tag key of ``tags['x']``, ``tags[x]`` or ``tags.x``; None for other fields."""
    if lowered.startswith("tags['") and lowered.endswith("']"):
        return name[6:-2]
    if lowered.startswith("tags[") and lowered.endswith("]"):
        return name[5:-1]
    if lowered.startswith("tags."):
        return name[5:]
    return None


def _find_alias(name: str, infer: bool) -> tuple[Alias, bool]:
    """The alias ``name`` and whether it was inferred (see :mod:`engine.azure_policy.alias_inference`)."""
    alias = resolve_alias(name)
    if alias is not None:
        return alias, False
    alias = infer_alias(name) if infer else None
    if alias is None:
        strict = " (--strict-aliases: aliases outside arcpolicy's table are not inferred)" if (
            not infer and infer_alias(name) is not None) else ""
        raise UnknownAliasError(f"unknown field or alias '{name}'{strict}")
    return alias, True


def compile_field(name: str, counted: tuple[str, ...] = (), infer: bool = True) -> FieldReference:
    """Compile a field name; ``counted`` are the array aliases of the enclosing field counts.

    An alias of a type without an explicit table is read by Azure's default convention unless
    ``infer`` is False. Raises FieldError for an unknown field or alias.
    """
    if not isinstance(name, str) or not name:
        raise FieldError("a field must be a non-empty string")
    lowered = name.lower()
    tag = _tag_name(lowered, name)
    if tag is not None:
        return FieldReference(name, _path_getter(("tags", tag)), False)
    if lowered in ENVELOPE_FIELDS:
        return FieldReference(name, _path_getter(ENVELOPE_FIELDS[lowered]), False)
    if lowered == "fullname":
        return FieldReference(name, lambda resource, current: full_name(resource), False)
    alias, inferred = _find_alias(name, infer)
    if alias.paths_by_type:
        return FieldReference(name, _by_type_getter(alias), any(WILDCARD in path for path in
                                                                 alias.paths_by_type.values()), alias)
    for counted_name in reversed(counted):
        prefix = counted_name.lower()
        if lowered == prefix or lowered.startswith(prefix + ".") or lowered.startswith(prefix + "["):
            remainder = alias.path[len(_find_alias(counted_name, True)[0].path):]
            return FieldReference(name, _current_getter(prefix, remainder), WILDCARD in remainder, alias, inferred)
    return FieldReference(name, _path_getter(alias.path), WILDCARD in alias.path, alias, inferred)


def full_name(resource: dict[str, Any]) -> Any:
    """Azure Policy's ``fullName``: the name prefixed by its parents' names (``server/db``).

    The names are read from the resource id after its last provider namespace (an extension
    resource's parent is not its parent by name); a resource without a parseable id keeps its name.
    """
    resource_id = lookup(resource, "id")
    name = lookup(resource, "name")
    if not isinstance(resource_id, str):
        return name
    parts = resource_id.strip("/").split("/")
    providers = [index for index, part in enumerate(parts) if part.lower() == "providers"]
    if not providers:
        return name
    names = parts[providers[-1] + 2:][1::2]
    return "/".join(names) if names and len(parts[providers[-1] + 2:]) % 2 == 0 else name


def _by_type_getter(alias: Alias) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """A legacy two-segment alias reads the path of the resource's type; MISSING for other types."""
    getters = {resource_type: _path_getter(path) for resource_type, path in alias.paths_by_type.items()}

    def get(resource: dict[str, Any], current: dict[str, Any]) -> Any:
        getter = getters.get(str(lookup(resource, "type")).lower())
        return MISSING if getter is None else getter(resource, current)

    return get


def _path_getter(path: tuple[str, ...]) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """A dedicated getter: plain property paths read with ``dict.get`` and fall back to the
    case-insensitive :func:`lookup` only when a name is not found as written."""
    if WILDCARD in path:
        return lambda resource, current: read_path(resource, path)
    if len(path) == 1:
        key = path[0]
        return lambda resource, current: lookup(resource, key)
    if len(path) == 2:
        first, second = path

        def get_two(resource: dict[str, Any], current: dict[str, Any]) -> Any:
            value = resource.get(first, MISSING)
            if value is MISSING:
                value = lookup(resource, first)
            if value.__class__ is dict:
                found = value.get(second, MISSING)
                return found if found is not MISSING else lookup(value, second)
            return lookup(value, second)

        return get_two

    def get(resource: dict[str, Any], current: dict[str, Any]) -> Any:
        value: Any = resource
        for key in path:
            found = value.get(key, MISSING) if value.__class__ is dict else MISSING
            value = found if found is not MISSING else lookup(value, key)
            if value is MISSING:
                return MISSING
        return value

    return get


def _current_getter(counted: str, remainder: tuple[str, ...]) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    return lambda resource, current: read_path(current[counted], remainder)
