"""``field`` references compiled into getters over a resource's ARM JSON.

A field is an envelope property (``type``, ``name``, ``tags['x']`` ...) or an alias. Array
aliases (``...statuses[*].code``) yield every element's value; inside a field ``count`` the
fields under the counted array read the element being counted instead of the whole array.

The docs page "Author policies for array properties" fixes two readings of a reference: a ``field``
condition evaluates every selected value (each element of a ``[*]`` alias, one lacking the property
included: "each element in the array is evaluated individually with logical and"), while the
``field()`` function returns the value as is: ``""`` for a missing property, ``[]`` for a ``[*]``
alias of a missing array, and inside a ``count.where`` an array with the single value selected from
the member being counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.azure_policy.alias_inference import infer_alias
from engine.azure_policy.aliases import ALIASES, MAP_PREFIXES, Alias, AliasTable
from engine.azure_policy.casing import name_key


class _Missing:
    """The value of a field the resource does not have (distinct from JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
WILDCARD = "[*]"
TAGS_MEMBERS = ("tags", WILDCARD)
# arcpolicy's table: the explicit and published aliases, other types' aliases read by Azure's convention
DEFAULT_ALIASES = AliasTable(ALIASES, MAP_PREFIXES, fallback=infer_alias)

ENVELOPE_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",), "kind": ("kind",), "type": ("type",), "location": ("location",),
    "id": ("id",), "identity.type": ("identity", "type"), "tags": ("tags",),
    "identity.userassignedidentities": ("identity", "userAssignedIdentities"),  # docs: policy rule "fields"
    # the API version the resource JSON was read at, as Microsoft's conformance cases read "field": "apiVersion"
    "apiversion": ("apiVersion",),
}


class FieldError(ValueError):
    """A field reference that names neither an envelope property nor a known alias."""


class UnknownAliasError(FieldError):
    """A field shaped like an alias that is neither in the table nor inferred (Azure: an invalid alias)."""


Getter = Callable[[dict[str, Any], dict[str, Any]], Any]


def normalized_location(value: Any) -> Any:
    """Docs "policy rule", fields: "Location fields are normalized to support various formats. For example,
    ``East US 2`` is considered equal to ``eastus2``": strings without whitespace, lower-cased (arrays of
    them for ``in``/``notIn``)."""
    if isinstance(value, str):
        return "".join(value.split()).lower()
    if isinstance(value, list):
        return [normalized_location(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class FieldReference:
    """A compiled field: its name as written, and getters ``(resource, current) -> value``.

    ``get`` reads what a ``field`` condition evaluates: for ``is_array`` references the list of selected
    values, MISSING for an element that lacks the property. ``select`` reads what ``field()`` returns
    (:meth:`value`). ``inferred`` when the alias is not in the table but read by its fallback;
    ``normalize`` when conditions compare normalized values (``location``).
    """

    name: str
    get: Getter
    is_array: bool
    alias: Alias | None = None
    inferred: bool = False
    select: Getter | None = None  # when field() reads differently from the condition
    returns_array: bool = False  # field() returns an array: the alias's path holds [*]
    normalize: Callable[[Any], Any] | None = None

    def value(self, resource: dict[str, Any], current: dict[str, Any]) -> Any:
        """``field(name)``: the value as is; ``[]`` for a ``[*]`` alias of a missing array, ``""`` for
        another missing property (docs "Author policies for array properties", the field() table)."""
        value = (self.select or self.get)(resource, current)
        if value is MISSING:
            return [] if self.returns_array else ""
        return value


def lookup(value: Any, key: str) -> Any:
    """``value[key]`` with ARM's case-insensitive property names (:func:`~engine.azure_policy.casing.name_key`);
    MISSING when absent."""
    if not isinstance(value, dict):
        if isinstance(value, list) and key[:1] == "[" and key[1:-1].isdigit():  # an index: "[0]"
            position = int(key[1:-1])
            return value[position] if position < len(value) else MISSING
        return MISSING
    found = value.get(key, MISSING)
    if found is not MISSING:
        return found
    wanted = name_key(key)
    for name, item in value.items():
        if name_key(name) == wanted:
            return item
    return MISSING


def read_path(value: Any, path: tuple[str, ...], keep_missing: bool = False) -> Any:
    """Follow ``path`` from ``value``; ``[*]`` fans out into a list of every element's value (nested ``[*]``
    flattened). What ``field()`` reads (``keep_missing`` False): an element lacking the property is left out,
    and a path through a missing array selects nothing, ``[]``. What a ``field`` condition reads
    (``keep_missing``): an element lacking the property is MISSING in the list, and a missing array (here or
    in any element) makes the whole selection MISSING, which no condition holds for."""
    for position, segment in enumerate(path):
        if segment == WILDCARD:
            if not isinstance(value, list):
                return MISSING if keep_missing else []
            rest = path[position + 1:]
            nested = WILDCARD in rest
            values: list[Any] = []
            for element in value:
                item = read_path(element, rest, keep_missing)
                if nested:
                    if item is MISSING:
                        return MISSING
                    values.extend(item)
                elif item is not MISSING or keep_missing:
                    values.append(item)
            return values
        value = lookup(value, segment)
        if value is MISSING:
            return [] if WILDCARD in path[position:] and not keep_missing else MISSING
    return value


def _tag_name(lowered: str, name: str) -> str | None:
    """The tag key of ``tags['x']``, ``tags[x]`` or ``tags.x``; None for other fields. An apostrophe in a quoted
    tag name is written twice (docs "policy rule", fields: ``tags['''My.Apostrophe.Tag''']`` names the tag
    ``'My.Apostrophe.Tag'``)."""
    if lowered.startswith("tags['") and lowered.endswith("']"):
        return name[6:-2].replace("''", "'")
    if lowered.startswith("tags[") and lowered.endswith("]"):
        return name[5:-1]
    if lowered.startswith("tags."):
        return name[5:]
    return None


def _find_alias(name: str, infer: bool, table: AliasTable) -> tuple[Alias, bool]:
    """The alias ``name`` and whether the table's fallback read it (see :class:`AliasTable`)."""
    alias = table.resolve(name)
    if alias is not None:
        return alias, False
    fallback = table.fallback
    alias = fallback(name) if infer and fallback is not None else None
    if alias is None:
        strict = " (--strict-aliases: aliases outside arcpolicy's table are not inferred)" if (
            not infer and fallback is not None and fallback(name) is not None) else ""
        raise UnknownAliasError(f"unknown field or alias '{name}'{strict}")
    return alias, True


def compile_field(name: str, counted: tuple[str, ...] = (), infer: bool = True,
                  table: AliasTable = DEFAULT_ALIASES) -> FieldReference:
    """Compile a field name; ``counted`` are the array aliases of the enclosing field counts.

    An alias the table lacks is read by its fallback (arcpolicy's: Azure's default convention) unless
    ``infer`` is False. Raises FieldError for an unknown field or alias.
    """
    if not isinstance(name, str) or not name:
        raise FieldError("a field must be a non-empty string")
    lowered = name.lower()
    if lowered == "tags[*]":  # every member of a tags array, as Microsoft's conformance cases read it
        return FieldReference(name, _path_getter(TAGS_MEMBERS, True), True, select=_path_getter(TAGS_MEMBERS),
                              returns_array=True)
    tag = _tag_name(lowered, name)
    if tag is not None:
        return FieldReference(name, _path_getter(("tags", tag)), False)
    if lowered in ENVELOPE_FIELDS:
        return FieldReference(name, _path_getter(ENVELOPE_FIELDS[lowered]), False,
                              normalize=normalized_location if lowered == "location" else None)
    if lowered == "fullname":
        return FieldReference(name, lambda resource, current: full_name(resource), False)
    alias, inferred = _find_alias(name, infer, table)
    returns_array = WILDCARD in alias.path
    if alias.paths_by_type:
        return FieldReference(name, _by_type_getter(alias), any(WILDCARD in path for path in
                                                                 alias.paths_by_type.values()), alias)
    for counted_name in reversed(counted):
        prefix = counted_name.lower()
        if lowered == prefix or lowered.startswith(prefix + ".") or lowered.startswith(prefix + "["):
            return _counted_reference(name, alias, inferred, prefix, _find_alias(counted_name, True, table)[0])
    if alias.versioned:
        return FieldReference(name, _versioned(alias.path_at, lambda path: _path_getter(path, True)), returns_array,
                              alias, inferred, _versioned(alias.path_at, _path_getter), returns_array)
    if returns_array:
        return FieldReference(name, _path_getter(alias.path, True), True, alias, inferred,
                              _path_getter(alias.path), True)
    return FieldReference(name, _path_getter(alias.path), False, alias, inferred)


def _counted_reference(name: str, alias: Alias, inferred: bool, prefix: str, counted: Alias) -> FieldReference:
    """``alias`` inside the count of ``counted`` (called ``prefix``): read from the member being counted."""
    if alias.versioned or counted.versioned:
        remainder_at = _versioned_remainder(alias, counted)
        return FieldReference(name, _versioned(remainder_at, lambda path: _current_getter(prefix, path, True)),
                              WILDCARD in alias.path[len(counted.path):], alias, inferred,
                              _versioned(remainder_at, lambda path: _counted_selection(prefix, path)), True)
    remainder = alias.path[len(counted.path):]
    return FieldReference(name, _current_getter(prefix, remainder, True), WILDCARD in remainder, alias, inferred,
                          _counted_selection(prefix, remainder), True)


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


def _versioned(path_at: Callable[[Any], tuple[str, ...]], getter: Callable[[tuple[str, ...]], Getter]) -> Getter:
    """A getter of an alias with paths per API version: reads the path at the version the resource JSON was read
    at (its ``apiVersion``); ``path_at`` gives the path at a version (the default path for others)."""
    getters: dict[tuple[str, ...], Getter] = {}

    def get(resource: dict[str, Any], current: dict[str, Any]) -> Any:
        path = path_at(lookup(resource, "apiVersion"))
        found = getters.get(path)
        if found is None:
            found = getters[path] = getter(path)
        return found(resource, current)

    return get


def _versioned_remainder(alias: Alias, counted: Alias) -> Callable[[Any], tuple[str, ...]]:
    """The path of ``alias`` below the member of the counted array, at an API version."""
    return lambda version: alias.path_at(version)[len(counted.path_at(version)):]


def _path_getter(path: tuple[str, ...], keep_missing: bool = False) -> Getter:
    """A dedicated getter: plain property paths read with ``dict.get`` and fall back to the
    case-insensitive :func:`lookup` only when a name is not found as written."""
    if WILDCARD in path:
        return lambda resource, current: read_path(resource, path, keep_missing)
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


def _current_getter(counted: str, remainder: tuple[str, ...], keep_missing: bool) -> Getter:
    """Inside the count of ``counted``: the value selected from the member being counted."""
    return lambda resource, current: read_path(current[counted], remainder, keep_missing)


def _counted_selection(counted: str, remainder: tuple[str, ...]) -> Getter:
    """``field()`` of the counted alias (or below it) inside its count: "an array with a single member",
    the value selected from the member being counted (several when ``remainder`` holds ``[*]``)."""
    if WILDCARD in remainder:
        return lambda resource, current: read_path(current[counted], remainder)

    def select(resource: dict[str, Any], current: dict[str, Any]) -> list[Any]:
        value = read_path(current[counted], remainder)
        return [] if value is MISSING else [value]

    return select
