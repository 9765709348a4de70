"""Snapshot files: the fleet as JSON files of ARM resources, in every shape users have.

Accepted shapes: a JSON list of resources, an ARM list page ``{"value": [...]}``, a Resource
Graph response ``{"data": [...]}``, or NDJSON (one resource per line). Files are streamed with
ijson, so a 600,000-resource snapshot is never parsed into one giant document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from engine import ids
from engine.atomic import atomic_writer
from engine.errors import InputError

WRAPPER_KEYS = ("value", "data")


def iter_snapshot(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield every resource of a snapshot file, validated to carry a well-formed id and a type.

    Raises :class:`InputError` naming the file and the position or resource on bad input.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a snapshot file") from None
    except OSError as error:
        raise InputError(str(path), f"cannot read: {error.strerror}") from None
    with handle:
        first = _first_significant_byte(handle)
        if first is None:
            raise InputError(str(path), "empty file, expected a JSON list, an object with 'value' or 'data', "
                                        "or NDJSON")
        if first == b"[":
            items = _stream_items(path, handle, "item")
            labels = _resource_labels()
        elif first == b"{":
            shape = _object_shape(path, handle)
            if shape == "ndjson":
                items = _ndjson_items(path, handle)
                labels = _line_labels()
            else:
                items = _stream_items(path, handle, f"{shape}.item")
                labels = _resource_labels()
        else:
            raise InputError(str(path), "line 1: expected a JSON list, an object with 'value' or 'data', or NDJSON",
                             value=first.decode("latin-1"))
        for item, label in zip(items, labels, strict=False):
            yield _validated(path, label, item)


def _first_significant_byte(handle: IO[bytes]) -> bytes | None:
    while True:
        char = handle.read(1)
        if not char:
            return None
        if char == b"\xef":  # UTF-8 byte order mark
            handle.read(2)
            continue
        if not char.isspace():
            handle.seek(handle.tell() - 1)
            return char


def _object_shape(path: Path, handle: IO[bytes]) -> str:
    """``"value"`` / ``"data"`` for wrapped lists, ``"ndjson"`` for one resource per line."""
    start = handle.tell()
    first_line = handle.readline()
    handle.seek(start)
    try:
        document = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        wrapped = [key for key in WRAPPER_KEYS if isinstance(document.get(key), list)]
        if wrapped and "id" not in document:
            return wrapped[0]
        if "id" in document:
            return "ndjson"
        raise InputError(str(path), "object is neither a resource (no 'id') nor a list of resources "
                                    "(no 'value' or 'data')", location="line 1")
    # A pretty-printed object: find its top-level list key without reading the whole file.
    try:
        for prefix, event, value in ijson.parse(handle):
            if prefix == "" and event == "map_key" and value in WRAPPER_KEYS:
                handle.seek(start)
                return value
            if prefix == "" and event == "end_map":
                break
    except ijson.JSONError:
        _raise_json_error(path)
    raise InputError(str(path), "top-level object has no 'value' or 'data' list of resources")


def _stream_items(path: Path, handle: IO[bytes], prefix: str) -> Iterator[Any]:
    try:
        yield from ijson.items(handle, prefix, use_float=True)
    except ijson.JSONError:
        _raise_json_error(path)


def _raise_json_error(path: Path) -> None:
    """Re-read a file ijson rejected with the stdlib parser, which knows line and column."""
    try:
        with path.open("rb") as handle:
            json.load(handle)
    except json.JSONDecodeError as error:
        raise InputError(str(path), f"malformed JSON: {error.msg}",
                         location=f"line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError as error:
        raise InputError(str(path), "not UTF-8 text", location=f"byte {error.start}") from None
    raise InputError(str(path), "malformed JSON")


def _ndjson_items(path: Path, handle: IO[bytes]) -> Iterator[Any]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            column = getattr(error, "colno", None)
            raise InputError(str(path), f"malformed JSON: {str(error).split(':')[0]}",
                             location=f"line {number}" + (f" column {column}" if column else "")) from None


def _resource_labels() -> Iterator[str]:
    number = 0
    while True:
        number += 1
        yield f"resource {number}"


def _line_labels() -> Iterator[None]:
    while True:
        yield None


def _validated(path: Path, label: str | None, item: Any) -> dict[str, Any]:
    if label is None:  # NDJSON items come with their line number
        number, item = item
        label = f"line {number}"
    if not isinstance(item, dict):
        raise InputError(str(path), "expected a resource object", location=label, value=item)
    resource_id = item.get("id")
    if not isinstance(resource_id, str) or not resource_id:
        name = item.get("name")
        raise InputError(str(path), "resource has no 'id'" + (f" (name {name!r})" if name else ""), location=label)
    if not isinstance(item.get("type"), str) or not item["type"]:
        raise InputError(str(path), f"resource {resource_id} has no 'type'", location=label)
    try:
        ids.parse_resource_id(resource_id)
    except ids.ResourceIdError:
        raise InputError(str(path), "malformed resource id", location=label, value=resource_id) from None
    return item


def write_snapshot(path: str | Path, resources: Iterable[dict[str, Any]]) -> int:
    """Write resources atomically (temp file + rename): JSON list, or NDJSON for .ndjson/.jsonl.

    Returns the number written. An interrupted write leaves any earlier file untouched.
    """
    path = Path(path)
    ndjson = path.suffix.lower() in (".ndjson", ".jsonl")
    count = 0
    with atomic_writer(path, binary=True) as out:
        if not ndjson:
            out.write(b"[")
        for resource in resources:
            if ndjson:
                out.write(orjson.dumps(resource) + b"\n")
            else:
                out.write((b",\n" if count else b"\n") + orjson.dumps(resource))
            count += 1
        if not ndjson:
            out.write(b"\n]\n")
    return count
