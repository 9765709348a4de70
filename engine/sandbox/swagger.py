"""The published REST API specifications the sandbox serves, read from ``engine/sandbox/specs/``.

The swagger (OpenAPI 2.0) files are kept as published in Azure/azure-rest-api-specs (``SOURCE.md`` there
names the commit of each file), so ``$ref`` paths between them resolve as in the original repository.
:class:`Schema` is a lazily resolved view of a schema: ``$ref`` followed (with the attributes written
beside it, such as ``readOnly`` or ``x-ms-mutability``, applied on top as autorest does), ``allOf``
members merged; recursive definitions resolve on demand. :class:`SpecOperation` is one path and method
of a swagger file: its parameters and body schema, its paging, and its examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

SPEC_ROOT = Path(__file__).parent / "specs"
SPECIFICATION = "specification"
MISSING: Any = object()  # a schema without a default
JSON_KINDS = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}


@cache
def load_document(relative: str) -> Any:
    """A kept specification file (a path relative to ``specs/``, POSIX separators), parsed once."""
    return orjson.loads((SPEC_ROOT / relative).read_bytes())


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def referenced_file(reference: str, file: str) -> str:
    """The file a ``$ref`` points into (relative references resolve from ``file``)."""
    target = reference.partition("#")[0]
    if not target:
        return file
    parts: list[str] = []
    for part in (PurePosixPath(file).parent / target).parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def resolve_reference(reference: str, file: str) -> tuple[Any, str]:
    """The node a ``$ref`` names, and the file it lives in."""
    target = referenced_file(reference, file)
    return _pointer(load_document(target), reference.partition("#")[2]), target


def _followed(raw: dict[str, Any], file: str) -> tuple[dict[str, Any], str]:
    """A schema with its ``$ref`` chain followed; attributes beside a ``$ref`` override the target's."""
    if "$ref" not in raw:
        return raw, file
    target, target_file = resolve_reference(raw["$ref"], file)
    followed, followed_file = _followed(target, target_file)
    siblings = {name: value for name, value in raw.items() if name != "$ref"}
    return ({**followed, **siblings} if siblings else followed), followed_file


class Schema:
    """One swagger schema, resolved lazily (properties of recursive definitions on first access)."""

    def __init__(self, raw: dict[str, Any], file: str):
        self.raw, self.file = _followed(raw, file)

    @cached_property
    def _members(self) -> list[Schema]:
        return [Schema(member, self.file) for member in self.raw.get("allOf", ())]

    @cached_property
    def properties(self) -> dict[str, Schema]:
        merged: dict[str, Schema] = {}
        for member in self._members:
            merged.update(member.properties)
        merged.update({name: Schema(value, self.file) for name, value in self.raw.get("properties", {}).items()})
        return merged

    @cached_property
    def required(self) -> frozenset[str]:
        return frozenset(self.raw.get("required", ())).union(*(member.required for member in self._members))

    @cached_property
    def additional(self) -> Schema | None:
        """The schema of a map's values (``additionalProperties``), None when the object has no map."""
        additional = self.raw.get("additionalProperties")
        return Schema(additional, self.file) if isinstance(additional, dict) else None

    @cached_property
    def items(self) -> Schema | None:
        items = self.raw.get("items")
        return Schema(items, self.file) if isinstance(items, dict) else None

    @cached_property
    def kind(self) -> str | None:
        """The JSON kind (``object``, ``string`` ...); objects may leave ``type`` out."""
        declared = self.raw.get("type")
        if declared is None and (self.properties or self.additional is not None):
            return "object"
        return declared

    @property
    def enum(self) -> tuple[Any, ...] | None:
        values = self.raw.get("enum")
        return tuple(values) if values else None

    @property
    def read_only(self) -> bool:
        return bool(self.raw.get("readOnly"))

    @property
    def create_only(self) -> bool:
        """``x-ms-mutability`` allows the value to be set on create but never changed afterwards."""
        mutability = self.raw.get("x-ms-mutability")
        return mutability is not None and "create" in mutability and "update" not in mutability

    @property
    def secret(self) -> bool:
        return bool(self.raw.get("x-ms-secret"))

    @property
    def default(self) -> Any:
        return self.raw.get("default", MISSING)

    @property
    def minimum(self) -> float | None:
        return self.raw.get("minimum")

    @property
    def maximum(self) -> float | None:
        return self.raw.get("maximum")


@dataclass(frozen=True)
class SpecOperation:
    """One operation of a kept swagger file."""

    file: str
    template: str
    method: str
    raw: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.raw.get("operationId", ""))

    @cached_property
    def parameters(self) -> list[dict[str, Any]]:
        return [_followed(parameter, self.file)[0] for parameter in self.raw.get("parameters", ())]

    @cached_property
    def body(self) -> Schema | None:
        """The request body's schema."""
        for parameter in self.raw.get("parameters", ()):
            followed, file = _followed(parameter, self.file)
            if followed.get("in") == "body":
                return Schema(followed["schema"], file)
        return None

    @property
    def pageable(self) -> bool:
        """``x-ms-pageable`` with a next link: clients follow ``nextLink`` page after page."""
        pageable = self.raw.get("x-ms-pageable")
        return isinstance(pageable, dict) and pageable.get("nextLinkName") is not None

    @property
    def examples(self) -> dict[str, str]:
        """``{title: example file}`` (paths relative to ``specs/``) of the operation's ``x-ms-examples``."""
        return {title: referenced_file(entry["$ref"], self.file)
                for title, entry in self.raw.get("x-ms-examples", {}).items()}

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        parts = [("[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part))
                 for part in self.template.strip("/").split("/")]
        return re.compile("/" + "/".join(parts), re.IGNORECASE)

    def matches(self, path: str) -> bool:
        return self._pattern.fullmatch(path.rstrip("/")) is not None


HTTP_METHODS = ("get", "put", "patch", "delete", "post")


@cache
def operations(file: str) -> tuple[SpecOperation, ...]:
    """Every operation of a kept swagger file."""
    return tuple(SpecOperation(file, template, method.upper(), raw)
                 for template, methods in load_document(file).get("paths", {}).items()
                 for method, raw in methods.items() if method in HTTP_METHODS)


def find_operation(files: tuple[str, ...], method: str, path: str) -> SpecOperation | None:
    """The operation of ``files`` that serves ``method`` on ``path``."""
    return next((operation for file in files for operation in operations(file)
                 if operation.method == method and operation.matches(path)), None)


def spec_file(*parts: str) -> str:
    """A kept file's path under ``specs/`` (``specification/...``)."""
    return "/".join((SPECIFICATION, *parts))
