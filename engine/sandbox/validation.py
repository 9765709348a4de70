"""Request bodies checked against the published schema, as ARM and the resource providers apply it.

- :func:`cleaned` walks a body with its :class:`~engine.sandbox.swagger.Schema`: JSON kinds, enums
  (matched without regard to case and stored in the spec's spelling), number bounds and required
  properties are checked (a 400 ``InvalidRequestContent`` naming the property); ``readOnly`` and
  unknown properties are dropped, never stored or echoed; property names match without regard to case
  and take the spec's spelling. A boolean or number where the schema says string is taken as its JSON
  text, as the provider's deserializer converts it (Microsoft's Flux extension built-in writes booleans
  into ``configurationSettings``, a map of strings); an object, an array or a null there is refused.
- :func:`with_defaults` fills the spec's ``default`` values into what a create or replace leaves out.
- :func:`create_only_changes` finds properties ``x-ms-mutability`` allows only on create.
- :func:`merge_patch` applies a PATCH body as a JSON merge patch (RFC 7396): ``null`` removes a member,
  objects merge member by member, anything else replaces.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from engine.sandbox.swagger import JSON_KINDS, MISSING, Schema

KIND_NAMES = {"object": "an object", "array": "an array", "string": "a string", "boolean": "a boolean",
              "integer": "an integer", "number": "a number"}
DESERIALIZATION_FAILED = "The request content was invalid and could not be deserialized: "


class Refused(ValueError):
    """A request ARM refuses (400 unless ``status`` says otherwise): ``code`` is ARM's error code, the
    message names the place."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    return next(name for kind, name in (("object", "an object"), ("array", "an array"), ("string", "a string"),
                                        ("number", "a number")) if isinstance(value, JSON_KINDS[kind]))


def _is_kind(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    return isinstance(value, JSON_KINDS[kind])


def _canonical_enum(schema: Schema, value: Any, place: str) -> Any:
    options = schema.enum
    if options is None:
        return value
    for option in options:
        if option == value or (isinstance(option, str) and isinstance(value, str) and option.lower() == value.lower()):
            return option
    listed = ", ".join(f"'{option}'" for option in options)
    raise Refused("InvalidRequestContent", f"{DESERIALIZATION_FAILED}'{place}' must be one of {listed}, not "
                                           f"'{value}'.")


def _member(properties: dict[str, Schema], name: str) -> tuple[str, Schema] | None:
    if name in properties:
        return name, properties[name]
    lowered = name.lower()
    return next(((known, schema) for known, schema in properties.items() if known.lower() == lowered), None)


def cleaned(schema: Schema, value: Any, place: str = "", *, patch: bool = False) -> Any:
    """``value`` as the resource provider takes it (see the module docstring); raises :class:`Refused`.

    In a PATCH body (``patch``) every member may be ``null`` (it removes the member) and nothing is required.
    """
    if value is None:
        return None
    kind = schema.kind
    if kind == "string" and isinstance(value, bool | int | float):
        return _canonical_enum(schema, orjson.dumps(value).decode(), place)
    if kind is not None and not _is_kind(value, kind):
        raise Refused("InvalidRequestContent", f"{DESERIALIZATION_FAILED}'{place or 'body'}' must be "
                                               f"{KIND_NAMES.get(kind, kind)}, not {_kind_of(value)}.")
    if isinstance(value, dict) and (schema.properties or schema.additional is not None):  # else an opaque object
        return _cleaned_object(schema, value, place, patch)
    if isinstance(value, list) and schema.items is not None:
        return [_cleaned_item(schema.items, item, f"{place}[{index}]", patch) for index, item in enumerate(value)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_bounds(schema, value, place)
    return _canonical_enum(schema, value, place)


def _cleaned_item(schema: Schema, value: Any, place: str, patch: bool) -> Any:
    if value is None and schema.kind is not None:
        raise Refused("InvalidRequestContent", f"{DESERIALIZATION_FAILED}'{place}' must be "
                                               f"{KIND_NAMES.get(schema.kind, schema.kind)}, not null.")
    return cleaned(schema, value, place, patch=patch)


def _cleaned_object(schema: Schema, value: dict[str, Any], place: str, patch: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    prefix = f"{place}." if place else ""
    for name, member in value.items():
        known = _member(schema.properties, name)
        if known is not None:
            canonical, member_schema = known
            if member_schema.read_only or (member_schema.items is not None and member_schema.items.read_only):
                continue  # ARM ignores read-only properties in a request
            if member is None:
                if patch:
                    result[canonical] = None
                continue
            result[canonical] = cleaned(member_schema, member, f"{prefix}{canonical}", patch=patch)
        elif schema.additional is not None:
            if member is None and patch:
                result[name] = None
                continue
            result[name] = _cleaned_item(schema.additional, member, f"{prefix}{name}", patch)
    if not patch:
        for name in sorted(schema.required):
            member_schema = schema.properties.get(name)
            if name not in result and not (member_schema is not None and member_schema.read_only):
                raise Refused("InvalidRequestContent", f"{DESERIALIZATION_FAILED}'{prefix}{name}' is required.")
    return result


def _check_bounds(schema: Schema, value: float, place: str) -> None:
    if schema.kind == "integer" and isinstance(value, float) and not value.is_integer():
        raise Refused("InvalidRequestContent", f"{DESERIALIZATION_FAILED}'{place}' must be an integer, not {value}.")
    if (schema.minimum is not None and value < schema.minimum) or (schema.maximum is not None and value > schema.maximum):
        raise Refused("InvalidRequestContent", f"{DESERIALIZATION_FAILED}'{place}' must be between "
                                               f"{schema.minimum} and {schema.maximum}, not {value}.")


def with_defaults(schema: Schema, value: Any) -> Any:
    """``value`` with the spec's defaults for members it leaves out (in objects it has, at any depth)."""
    if isinstance(value, dict):
        for name, member_schema in schema.properties.items():
            if name in value:
                value[name] = with_defaults(member_schema, value[name])
            elif member_schema.default is not MISSING:
                value[name] = copy.deepcopy(member_schema.default)
        if schema.additional is not None:
            for name, member in value.items():
                if name not in schema.properties:
                    value[name] = with_defaults(schema.additional, member)
    elif isinstance(value, list) and schema.items is not None:
        return [with_defaults(schema.items, item) for item in value]
    return value


def create_only_changes(schema: Schema, before: Any, after: Any, place: str = "") -> list[str]:
    """The places whose value ``after`` changes although ``x-ms-mutability`` allows them only on create."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    changed = []
    prefix = f"{place}." if place else ""
    for name, member_schema in schema.properties.items():
        if member_schema.read_only or name not in before:
            continue
        if member_schema.create_only and not _same_value(before.get(name), after.get(name)):
            changed.append(f"{prefix}{name}")
        else:
            changed.extend(create_only_changes(member_schema, before.get(name), after.get(name), f"{prefix}{name}"))
    return changed


def _same_value(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: ``target`` with ``patch`` applied (neither is modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
