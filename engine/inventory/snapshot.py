"""Snapshot files: the fleet as JSON files of ARM resources, in every shape users have.

Accepted shapes: a JSON list of resources, an ARM list page ``{"value": [...]}``, a Resource
Graph response ``{"data": [...]}``, or NDJSON (one resource per line). Files are streamed with
ijson, so a 600,000-resource snapshot is never parsed into one giant document.

Snapshots are bounded (:mod:`engine.limits`): nesting at most 64 levels, numbers at most 64
characters. ijson's fast C parser cannot be trusted past those (a 4,301-digit integer crashes the
process; deep nesting costs memory quadratically), so its input passes through
:class:`_BoundsWatch`, a cheap byte-level check that errs on the safe side (it counts brackets and
digits inside strings too); when it trips, the file is read again by the exact, pure-Python parser
(:func:`_exact_items`), which refuses what really is over a bound and skips the resources already read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from itertools import count, repeat
from pathlib import Path
from typing import IO, Any

import ijson
import orjson
from ijson.backends import python as exact_parser

from engine import ids
from engine.atomic import PRIVATE_MODE, atomic_writer
from engine.errors import InputError
from engine.inventory.lines import RESOURCE_SHAPE, LineFacts, PlainLines, line_facts, unplain_lines
from engine.limits import MAX_JSON_DEPTH, MAX_NUMBER_LENGTH, bracket_depths, too_deep
from engine.output.redact import blank_secrets
from engine.secret_values import scrub_data

WRAPPER_KEYS = ("value", "data")


def iter_snapshot(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield every resource of a snapshot file, validated to carry a well-formed id and a type.

    Raises :class:`InputError` naming the file and the position or resource on bad input.
    """
    for _, resource in iter_placed(path):
        yield resource


def iter_placed(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """:func:`iter_snapshot` with each resource's place in the file (``resource 3``, ``line 7``)."""
    kind, items = numbered_snapshot(path)
    for number, resource, _ in items:
        yield f"{kind} {number}", resource


def numbered_snapshot(path: str | Path, defer_lines: bool = False
                      ) -> tuple[str, Iterator[tuple[int, dict[str, Any] | LineFacts, bytes | None]]]:
    """How the snapshot's places are named (``resource`` for a list, ``line`` for NDJSON), and its resources as
    :func:`iter_snapshot` gives them, each with its place's number and, from NDJSON, its line as read (the
    resource's JSON: no need to write it again). The file is opened and its shape told at once (InputError).

    ``defer_lines``: a plain NDJSON line comes unparsed, with its :data:`LineFacts` instead of the resource (its
    checks are made where it is parsed, :func:`engine.inventory.lines.parse_line`; :func:`first_bad_line` then
    finds the first bad one)."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a snapshot file") from None
    except OSError as error:
        raise InputError(str(path), f"cannot read: {error.strerror}") from None
    try:
        first = _first_significant_byte(handle)
        if first is None:
            raise InputError(str(path), "empty file, expected a JSON list, an object with 'value' or 'data', "
                                        "or NDJSON")
        if first == b"[":
            items: Iterator[tuple[int, Any, bytes | None]] = _numbered(_stream_items(path, handle, ()))
            kind = "resource"
        elif first == b"{":
            shape = _object_shape(path, handle)
            if shape == "ndjson":
                items, kind = _ndjson_items(path, handle, defer_lines), "line"
            else:
                items, kind = _numbered(_stream_items(path, handle, (shape,))), "resource"
        else:
            raise InputError(str(path), "line 1: expected a JSON list, an object with 'value' or 'data', or NDJSON",
                             value=first.decode("latin-1"))
    except BaseException:
        handle.close()
        raise
    return kind, _validated(path, kind, items, handle)


def _validated(path: Path, kind: str, items: Iterator[tuple[int, Any, bytes | None]],
               handle: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | LineFacts, bytes | None]]:
    with handle:
        for number, item, raw in items:
            if type(item) is not tuple:  # LineFacts: checked where the line is parsed
                _validate(path, kind, number, item)
            yield number, item, raw


def first_bad_line(path: str | Path) -> None:
    """Read an NDJSON snapshot again the exact way, and raise the InputError of its first bad line: what reading it
    without deferred lines raises, or a line whose ``id`` or ``type`` member is given twice (its first one
    routed it). Returns when every line is good."""
    kind, items = numbered_snapshot(path)
    for number, resource, line in items:
        facts = line_facts(line) if line is not None else None
        if facts is not None and (resource.get("id"), resource.get("type")) != facts[:2]:
            raise InputError(str(path), "resource has more than one 'id' or 'type' member",
                             location=f"{kind} {number}", value=resource.get("id"))


def _numbered(items: Iterator[Any]) -> Iterator[tuple[int, Any, None]]:
    for number, item in enumerate(items, start=1):
        yield number, item, None


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
    # A pretty-printed object: find its top-level list key without reading the whole file (exactly:
    # only the start of the file is read, and the fast parser cannot be trusted on unchecked input).
    depth = 0
    try:
        for event, value in exact_parser.basic_parse(handle, use_float=True):
            if depth == 1 and event == "map_key" and value in WRAPPER_KEYS:
                handle.seek(start)
                return value
            depth += _DEPTH_CHANGE.get(event, 0)
            if depth > MAX_JSON_DEPTH:
                raise InputError(str(path), f"nested more than {MAX_JSON_DEPTH} levels deep")
            if depth == 0:
                break
    except (ijson.JSONError, ValueError):
        _raise_json_error(path, "line 1")
    raise InputError(str(path), "top-level object has no 'value' or 'data' list of resources")


_DEPTH_CHANGE = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}


class _OverBounds(Exception):
    """The byte-level watch saw what may be over a bound: read the file again exactly."""


class _BoundsWatch:
    """A file wrapper for ijson's C parser refusing, cheaply and conservatively, input it cannot take:
    nesting deeper than the bound or a digit run longer than a number may be (strings included)."""

    _DIGITS_AS_ZEROS = bytes.maketrans(bytes(range(256)), bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256)))
    _TOO_MANY_DIGITS = b"0" * (MAX_NUMBER_LENGTH + 1)

    def __init__(self, handle: IO[bytes]):
        self.handle = handle
        self.depth = 0
        self.tail = b""  # the end of the previous chunk, so that a digit run across chunks is seen whole

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        digits = (self.tail + chunk).translate(self._DIGITS_AS_ZEROS)
        if self._TOO_MANY_DIGITS in digits:
            raise _OverBounds
        self.tail = (self.tail + chunk)[-MAX_NUMBER_LENGTH:]
        deepest, self.depth = bracket_depths(chunk, self.depth)
        if deepest > MAX_JSON_DEPTH + 2:  # + 2: the list and the wrapper around the resources
            raise _OverBounds
        return chunk


def _stream_items(path: Path, handle: IO[bytes], keys: tuple[str, ...]) -> Iterator[Any]:
    """The resources of a list (``keys`` ``()``) or of a wrapper's list (``("value",)``)."""
    start = handle.tell()
    count = 0
    try:
        for item in ijson.items(_BoundsWatch(handle), ".".join((*keys, "item")), use_float=True):
            count += 1
            yield item
    except (ijson.JSONError, ValueError):  # ValueError: a string that is not UTF-8 (a lone surrogate)
        _raise_json_error(path, f"resource {count + 1}")
    except _OverBounds:
        handle.seek(start)
        yield from _exact_items(path, handle, keys, skip=count)


def _exact_items(path: Path, handle: IO[bytes], keys: tuple[str, ...], skip: int) -> Iterator[Any]:
    """The resources after the first ``skip``, parsed exactly, refusing what is over a bound (the
    depth is checked on every event, before any prefix or value can grow with it)."""

    def bounded_events() -> Iterator[tuple[str, str, Any]]:
        depth = 0
        for prefix, event, value in exact_parser.parse(handle, buf_size=_EXACT_CHUNK, use_float=True):
            depth += _DEPTH_CHANGE.get(event, 0)
            if depth > MAX_JSON_DEPTH + len(keys) + 1:
                raise InputError(str(path), f"nested more than {MAX_JSON_DEPTH} levels deep",
                                 location=f"resource {position + 1}")
            if event == "number" and not _finite_and_short(value):
                raise InputError(str(path), f"a number longer than {MAX_NUMBER_LENGTH} characters",
                                 location=f"resource {position + 1}")
            yield prefix, event, value

    position = 0
    try:
        for item in exact_parser.items(bounded_events(), ".".join((*keys, "item"))):
            position += 1
            if position > skip:
                yield item
    except (ijson.JSONError, ValueError):  # the pure-Python parser's string errors are json's ValueErrors
        _raise_json_error(path, f"resource {position + 1}")


# The exact parser turns a whole chunk into events before any is checked: small chunks keep what
# a too-deep document can build before it is refused small.
_EXACT_CHUNK = 1024


def _finite_and_short(number: int | float) -> bool:
    if isinstance(number, float):
        return math.isfinite(number)
    return -(10**MAX_NUMBER_LENGTH) < number < 10**MAX_NUMBER_LENGTH


def _raise_json_error(path: Path, location: str | None = None) -> None:
    """Re-read a file ijson rejected with the stdlib parser, which knows line and column (else the
    error is placed at ``location``)."""
    try:
        with path.open("rb") as handle:
            json.load(handle)
    except json.JSONDecodeError as error:
        raise InputError(str(path), f"malformed JSON: {error.msg}",
                         location=f"line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError as error:
        raise InputError(str(path), "not UTF-8 text", location=f"byte {error.start}") from None
    except RecursionError:
        raise InputError(str(path), f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError:  # an integer of thousands of digits
        pass
    raise InputError(str(path), f"malformed JSON or a number over {MAX_NUMBER_LENGTH} characters or out of range",
                     location=location)


def _ndjson_items(path: Path, handle: IO[bytes], defer: bool) -> Iterator[Any]:
    """Each line's resource, or (deferred) its facts; a plain cluster's line with its children's lines right after
    it comes as one item, its facts with the run (:class:`engine.inventory.lines.PlainRun`) at its first line's
    number."""
    plain = PlainLines()
    facts_of, run, opened = plain.facts, None, (0, ())  # the run being read, its first line's number and facts
    for number, line, scanned in _ndjson_lines(handle) if defer else zip(count(1), handle, repeat(False)):
        if run is not None:
            if scanned and run.joins(line):
                continue
            yield *opened, run if len(run.lines) > 1 else run.lines[0]
            run = plain.run = None
        if scanned and (facts := facts_of(line, True)) is not None:
            if plain.run is not None:
                run, opened = plain.run, (number, facts)
            else:
                yield number, facts, line
            continue
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            column = getattr(error, "colno", None)
            raise InputError(str(path), f"malformed JSON: {str(error).split(':')[0]}",
                             location=f"line {number}" + (f" column {column}" if column else "")) from None
        if too_deep(line, item):
            raise InputError(str(path), f"nested more than {MAX_JSON_DEPTH} levels deep", location=f"line {number}")
        yield number, item, line
    if run is not None:
        yield *opened, run if len(run.lines) > 1 else run.lines[0]


NDJSON_BLOCK = 1 << 20  # bytes of NDJSON searched at once for what keeps a line from being routed unparsed


def _ndjson_lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """Each line with its number and whether it may be routed unparsed: its block (whole lines) was searched once
    for what :func:`engine.inventory.lines.line_facts` searches every line for (:func:`unplain_lines`)."""
    number, pieces = 0, []
    while True:
        data = handle.read(NDJSON_BLOCK)
        if data:
            cut = data.rfind(b"\n") + 1
            if not cut:  # no line ends in it: a long line is joined once, not searched again at every read
                pieces.append(data)
                continue
            block, pieces = b"".join([*pieces, data[:cut]]), [data[cut:]]
        else:  # at the end, the last line as it is
            block = b"".join(pieces)
            if not block:
                return
        cut = len(block)
        refused = unplain_lines(block)
        start = 0
        while start < cut:
            end = block.find(b"\n", start) + 1 or cut
            number += 1
            yield number, block[start:end], start not in refused
            start = end
        if not data:
            return


def _validate(path: Path, kind: str, number: int, item: Any) -> None:
    """Refuse a resource without a well-formed id and a type, or whose members arcpolicy reads have the wrong
    shape (InputError naming the file and ``kind number``)."""
    if not isinstance(item, dict):
        raise InputError(str(path), "expected a resource object", location=f"{kind} {number}", value=item)
    resource_id = item.get("id")
    if not isinstance(resource_id, str) or not resource_id:
        name = item.get("name")
        raise InputError(str(path), "resource has no 'id'" + (f" (name {name!r})" if name else ""),
                         location=f"{kind} {number}")
    resource_type = item.get("type")
    if not isinstance(resource_type, str) or not resource_type:
        raise InputError(str(path), f"resource {resource_id} has no 'type'", location=f"{kind} {number}")
    try:
        ids.parse_resource_id(resource_id)
    except ids.ResourceIdError:
        raise InputError(str(path), "malformed resource id", location=f"{kind} {number}", value=resource_id) from None
    for key, (shape, what) in RESOURCE_SHAPE.items():
        value = item.get(key)
        if value is not None and not isinstance(value, shape):
            raise InputError(str(path), f"resource {resource_id}: '{key}' must be {what}", location=f"{kind} {number}")



class SnapshotWriter:
    """A snapshot written a resource at a time (``with``: :meth:`add` each resource, as a dict or as its
    compact JSON), atomically: a JSON list, or NDJSON for .ndjson/.jsonl. An interrupted write leaves any
    earlier file untouched.

    A fleet ``--save`` d from what a command read (``saved=True``) is its owner's only (0600), and holds no
    secret: values under secret-looking keys (``configurationProtectedSettings``) are blanked to ``***`` and
    values secret by origin (a secure parameter's, wherever it sits: a tag) masked, as the history store keeps
    inventories (:func:`engine.history.inventory.canonical_group`)."""

    def __init__(self, path: str | Path, *, saved: bool = False):
        self.path = Path(path)
        self.ndjson = self.path.suffix.lower() in (".ndjson", ".jsonl")
        self.count = 0
        self.saved = saved
        self._writing = atomic_writer(self.path, binary=True, mode=PRIVATE_MODE if saved else None)

    def __enter__(self) -> SnapshotWriter:
        self._out = self._writing.__enter__()
        if not self.ndjson:
            self._out.write(b"[")
        return self

    def add(self, resource: dict[str, Any] | bytes) -> None:
        if self.saved:
            resource = scrub_data(blank_secrets(orjson.loads(resource) if isinstance(resource, bytes) else resource))
        encoded = resource if isinstance(resource, bytes) else orjson.dumps(resource)
        if self.ndjson:
            self._out.write(encoded + b"\n")
        else:
            self._out.write((b",\n" if self.count else b"\n") + encoded)
        self.count += 1

    def __exit__(self, *exc: Any) -> None:
        if not self.ndjson and exc[0] is None:
            self._out.write(b"\n]\n")
        self._writing.__exit__(*exc)


def write_snapshot(path: str | Path, resources: Iterable[dict[str, Any] | bytes], *, saved: bool = False) -> int:
    """Write resources atomically (temp file + rename): JSON list, or NDJSON for .ndjson/.jsonl; ``saved``: as
    :class:`SnapshotWriter` saves a fleet read (secrets blanked, 0600).

    Returns the number written. An interrupted write leaves any earlier file untouched.
    """
    with SnapshotWriter(path, saved=saved) as snapshot:
        for resource in resources:
            snapshot.add(resource)
    return snapshot.count
