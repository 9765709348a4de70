"""NDJSON lines a scan routes without parsing them: read once, parsed once, where the cluster is decided.

A streamed scan reads a snapshot twice over (a first pass routing every resource to its cluster's partition, a
second deciding each cluster), and parsing a resource costs as much as deciding it. A plain line (the shape
ARM, Resource Graph and arcpolicy itself write: ``{"id":"...", ..., "type":"...", ...}`` on one line, no
backslash anywhere) is routed from its id and type alone (:func:`line_facts`), found with a few byte searches;
everything else the first pass would have done with the parsed resource (checking it, normalising its
location, remembering its protected settings as secrets, keeping subscriptions and resource groups) is either
shown not to be needed by those searches, or the line is read the exact way. The rest of the checks
(well-formed JSON, bounds, the shape of the members arcpolicy reads, no second ``id`` or ``type`` member) are
made where the line is parsed (:func:`parse_line`), before any output is written; a line failing them makes
the scan read the file again the exact way, which reports the first bad line as reading it always has.

Such a line travels as read, newline included; the exact way stores compact JSON, which never ends with one:
so a resource's bytes say whether its checks are still to be made.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from engine import ids
from engine.limits import MAX_JSON_DEPTH, too_deep

# (id, type, the id of the cluster it hangs off or None), as the line spells them, and the type's key (ids.normalize)
LineFacts = tuple[str, str, str | None, str]

_SEGMENT = rb'(?!providers(?:/|$))[^/"\\]+'  # a segment of an id, never "providers" (where ids nest)
# A resource id that parse_resource_id reads as a resource of a resource group, or as an extension resource of
# one (the cluster it hangs off is the first part): other shapes take the exact way.
_PLAIN_ID = re.compile(rb"(/subscriptions/[^/\"\\]+/resourcegroups/[^/\"\\]+/providers/(%s/%s)/%s)"
                       rb"(?:/providers/%s/%s/%s)?" % ((_SEGMENT,) * 6), re.IGNORECASE)
_ID_START = b'{"id":"'
_TYPE_MEMBER = b',"type":"'
# configurationProtectedSettings that hold no secret (remembering them would do nothing): {}, null, or every
# value the empty string (as ARM returns them)
_PROTECTED = b'"configurationProtectedSettings":'
_NOTHING_PROTECTED = re.compile(rb'\{\}|null|\{"[^"]*":""(?:,"[^"]*":"")*\}')
_LOCATION = b'"location":'
_LOCATION_AS_STORED = re.compile(rb'"[a-z0-9]*"')  # a location ARM's name already (no "East US" to rewrite)
_CLUSTER_CHILDREN = frozenset({ids.EXTENSION_TYPE, ids.FLUX_CONFIGURATION_TYPE})
_ACTED_ON = ((_PROTECTED, _NOTHING_PROTECTED), (_LOCATION, _LOCATION_AS_STORED))  # keys whose values are acted on
# each key where its value is not one of those (what unplain_lines searches a block for): one search of the block, in C
_ACTED_ON_UNLESS_ALLOWED = tuple(re.compile(re.escape(key) + rb"(?!%s)" % allowed.pattern.replace(rb'[^"]', rb'[^"\n]'))
                                 for key, allowed in _ACTED_ON)
_CHILD_PART = re.compile(rb"%s/%s/%s" % ((_SEGMENT,) * 3), re.IGNORECASE)  # what _PLAIN_ID adds past "/providers/"


def line_facts(line: bytes, scanned: bool = False) -> LineFacts | None:
    """The id, type and owning cluster of a plain resource line, or None when it must be parsed to be read.

    The line starts with its ``id``; without a backslash its strings are spelled literally, so the first
    ``"type"`` member after members without objects or arrays is the resource's own, and every place a
    location or protected settings could hold something to act on is found by searching for its key.
    """
    if not line.startswith(_ID_START) or (not scanned and b"\\" in line):
        return None
    id_end = line.find(b'"', 7)
    plain = _PLAIN_ID.fullmatch(line, 7, id_end)
    if plain is None:
        return None
    first, first_type = plain.groups()
    try:
        owner = first.decode() if len(first) < id_end - 7 and ids.normalize(first_type.decode()) in ids.CLUSTER_TYPES \
            else None
    except UnicodeDecodeError:
        return None
    return _typed(line, id_end, owner, scanned)


def _typed(line: bytes, id_end: int, owner: str | None, scanned: bool = False) -> LineFacts | None:
    """:func:`line_facts` past the id: the line's type and checks; ``owner``, the cluster the id hangs off, is kept
    for a child type. ``scanned``: the line's protected settings and locations were checked with its block's
    (:func:`unplain_lines`)."""
    type_start = line.find(_TYPE_MEMBER, id_end)
    if type_start < 0 or line.find(b"{", id_end, type_start) >= 0 or line.find(b"[", id_end, type_start) >= 0 \
            or not line.count(b'"', id_end, type_start) % 2:  # the comma is outside any string
        return None
    type_end = line.find(b'"', type_start + 9)
    if not scanned:
        for key, allowed in _ACTED_ON:
            found = line.find(key)
            while found >= 0:
                if allowed.match(line, found + len(key)) is None:
                    return None
                found = line.find(key, found + len(key))
    try:
        resource_id, resource_type = line[7:id_end].decode(), line[type_start + 9:type_end].decode()
    except UnicodeDecodeError:
        return None
    type_key = ids.normalize(resource_type)
    if not type_key or type_key in ids.CONTAINER_TYPES:  # containers are kept parsed
        return None
    return resource_id, resource_type, owner if type_key in _CLUSTER_CHILDREN else None, type_key


def unplain_lines(block: bytes) -> set[int]:
    """Where the lines of ``block`` (whole lines) start that :func:`line_facts` refuses for what it searches the
    whole line for (a backslash, protected settings holding something, a location to rewrite): each searched for
    once in the block, so a line without them is not searched again."""
    refused = set()
    found = block.find(b"\\")
    while found >= 0:
        start = block.rfind(b"\n", 0, found) + 1
        refused.add(start)
        end = block.find(b"\n", found)
        found = -1 if end < 0 else block.find(b"\\", end)
    for acted_on in _ACTED_ON_UNLESS_ALLOWED:  # a line is refused at its first match: search on past its end
        match = acted_on.search(block)
        while match is not None:
            refused.add(block.rfind(b"\n", 0, match.start()) + 1)
            end = block.find(b"\n", match.end())
            match = None if end < 0 else acted_on.search(block, end)
    return refused


CLUSTER, EXTENSION, FLUX = range(3)  # what each line of a run is
# A child's line past its cluster's id and "/providers/": the rest of its id, members holding strings without a
# bracket (its name), then its type. Where this matches, _typed reads the same type there (no object, array or odd
# quote before it); a child of another shape is read with PlainLines.facts.
_CHILD_SEGMENT = rb'(?!providers[/"])[^/"\\\n]+'
_CHILD_LINE = re.compile(rb'(%s/%s/%s)"(?:,"[^"{\[\n]*":"[^"{\[\n]*")*?,"type":"([^"\n]*)"' % ((_CHILD_SEGMENT,) * 3),
                         re.IGNORECASE)
_CHILD_KINDS = {b"microsoft.kubernetesconfiguration/extensions": EXTENSION,
                b"microsoft.kubernetesconfiguration/fluxconfigurations": FLUX}


class PlainRun:
    """A plain cluster's line and the lines of its children right after it (each id once), routed as one
    (:class:`engine.inventory.stream.FleetStream`): each child is read from its cluster's id, by one match."""

    __slots__ = ("keys", "kinds", "lines", "prefix")

    def __init__(self, line: bytes, prefix: bytes):
        self.prefix = prefix  # '{"id":"' + the cluster's id + '/providers/'
        self.lines, self.kinds, self.keys = [line], bytearray((CLUSTER,)), set()

    def joins(self, line: bytes) -> bool:
        """Whether ``line`` (known free of what :func:`unplain_lines` finds) is a child of this run's cluster whose
        id is not in the run yet; if so it joins the run."""
        if not line.startswith(self.prefix):
            return False
        child = _CHILD_LINE.match(line, len(self.prefix))
        if child is None:
            return False
        part, spelled = child.groups()
        kind = _CHILD_KINDS.get(spelled)
        if kind is None:
            kind = _CHILD_KINDS.get(spelled.lower())
        if kind is None or not part.isascii() or (key := part.lower()) in self.keys:
            return False  # read alone (a type to normalise, an id to compare as ids.normalize does, a repeated id)
        self.keys.add(key)
        self.lines.append(line if line[-1:] == b"\n" else line + b"\n")
        self.kinds.append(kind)
        return True


class PlainLines:
    """:func:`line_facts` of a file's lines in order, reading a line that starts with the id of the cluster read just
    before (a snapshot lists a cluster's extensions after it) from that id: only the part past it is matched. A
    plain cluster's line opens a :attr:`run` its children's lines right after it join."""

    def __init__(self) -> None:
        self._prefix = b""  # '{"id":"' + the last plain cluster id + '/providers/'
        self._cluster_id = ""
        self.run: PlainRun | None = None  # opened by facts() on a plain cluster's line; the reader closes it

    def facts(self, line: bytes, scanned: bool = False) -> LineFacts | None:
        """``scanned``: the line is known free of what :func:`unplain_lines` finds."""
        prefix = self._prefix
        if prefix and line.startswith(prefix):
            if not scanned and b"\\" in line:
                return None
            start = len(prefix)
            id_end = line.find(b'"', start)
            if _CHILD_PART.fullmatch(line, start, id_end) is None:
                return None
            return _typed(line, id_end, self._cluster_id, scanned)
        facts = line_facts(line, scanned)
        if facts is not None and facts[2] is None:
            spelled = facts[0].encode()
            plain = _PLAIN_ID.fullmatch(spelled)
            assert plain is not None
            first, first_type = plain.groups()
            if len(first) == len(spelled) and ids.normalize(first_type.decode()) in ids.CLUSTER_TYPES:
                self._prefix, self._cluster_id = _ID_START + spelled + b"/providers/", facts[0]
                if scanned and facts[3] in ids.CLUSTER_TYPES:
                    self.run = PlainRun(line if line[-1:] == b"\n" else line + b"\n", self._prefix)
        return facts


class LineCheckFailed(Exception):
    """A line routed unparsed is not what its first reading took it for: read the file again the exact way."""


def parse_line(raw: bytes) -> dict[str, Any]:
    """A resource's JSON parsed; a line routed unparsed (:func:`line_facts`) is checked as reading it checks a
    line (:class:`LineCheckFailed` otherwise), and that its first ``id`` and ``type`` are its only ones."""
    try:
        resource = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise LineCheckFailed("malformed JSON") from None
    if raw[-1:] != b"\n":
        return resource  # compact JSON of a resource checked when it was read
    resource_id, resource_type = resource.get("id"), resource.get("type")
    if type(resource_id) is not str or type(resource_type) is not str:
        raise LineCheckFailed("no 'id' or 'type'")
    spelled = resource_id.encode()
    type_at = 7 + len(spelled) + 1
    routed_by = raw.find(_TYPE_MEMBER, type_at - 1)  # the type member the line was routed by
    if not raw.startswith(spelled, 7) or raw[type_at - 1] != 34 \
            or (routed_by >= 0 and not raw.startswith(resource_type.encode() + b'"', routed_by + 9)):
        raise LineCheckFailed(f"resource {resource_id}: 'id' or 'type' given twice")
    shape = tuple(map(type, map(resource.get, _SHAPE_KEYS)))
    if shape not in _GOOD_SHAPES:
        if not all(kind is type(None) or kind is _SHAPES[key] for key, kind in zip(_SHAPE_KEYS, shape, strict=True)):
            raise LineCheckFailed(f"resource {resource_id}: a member of the wrong shape")
        _GOOD_SHAPES.add(shape)
    if len(raw.translate(None, _NOT_OPENERS)) > MAX_JSON_DEPTH and too_deep(raw, resource):
        raise LineCheckFailed(f"resource {resource_id}: nested too deep")
    return resource


# The ARM resource members arcpolicy reads, and what each must be when present (null is absent).
RESOURCE_SHAPE: dict[str, tuple[type, str]] = {
    "name": (str, "a string"), "location": (str, "a string"), "kind": (str, "a string"),
    "properties": (dict, "an object"), "tags": (dict, "an object"), "identity": (dict, "an object"),
    "sku": (dict, "an object"), "systemData": (dict, "an object"), "extendedLocation": (dict, "an object"),
}
_SHAPES = {key: shape for key, (shape, _) in RESOURCE_SHAPE.items()}
_SHAPE_KEYS = tuple(_SHAPES)
_GOOD_SHAPES: set[tuple[type, ...]] = set()  # member types seen to pass (a fleet has a handful)
_NOT_OPENERS = bytes(set(range(256)) - set(b"{["))  # deleted, what is left counts the brackets that open
