"""Each stored scan's inventory, content-addressed per cluster, so any past scan can be reproduced.

A fleet is stored as groups (:meth:`engine.inventory.Fleet.groups`: a cluster with its extensions and
flux configurations, or one other resource). Each group is compact JSON (keys as the inventory gave them;
version-3 stores sorted them) with every non-empty value under a secret-looking key blanked
(:func:`engine.output.redact.blank_secrets`, the keys kept), hashed with SHA-256 and kept once in
``inventory_blobs`` (compressed: :data:`BLOB_LEVEL`); a scan keeps only the list of its groups' digests. A scan where
1% of the clusters changed adds 1% new blobs and one digest list, and recording it parses none of the
groups that hold no secret.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any, NamedTuple

import orjson
import zstandard
from sqlalchemy import Connection, Insert, delete, insert, select, update

from engine import ids
from engine.errors import InputError
from engine.history.schema import inventory_blobs, scan_inventories, scans
from engine.history.sql import BATCH, batched, insert_ignoring_duplicates
from engine.inventory import ClusterInventory, Fleet
from engine.inventory.fleet import cluster_of_group
from engine.output.redact import blank_secrets
from engine.secret_keys import SECRET_KEY_NAMES
from engine.secret_values import SECRET_VALUES, scrub_data

DIGEST_BYTES = 32
# Blobs are Zstandard frames (a quarter of zlib level 1's CPU for a fleet's JSON, and smaller); stores written before
# hold zlib streams, told apart by their first bytes (a zlib stream never starts with the frame's magic number).
BLOB_LEVEL = 3
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITESPACE = rb'[ \t\r\n]*+'  # JSON's, around its structural characters (NDJSON lines are kept as read)
# In JSON without escapes: a scalar, and an object of scalars (protected settings, flat key-value maps).
SCALAR = rb'"[^"\\]*"|true|false|null|-?[0-9][0-9.eE+-]*'
_MEMBER = rb'"[^"\\]*"' + WHITESPACE + rb':' + WHITESPACE + rb'(?:' + SCALAR + rb')'
FLAT_OBJECT = re.compile(rb'\{' + WHITESPACE + rb'(?:' + _MEMBER + WHITESPACE + rb',' + WHITESPACE + rb')*(?:'
                         + _MEMBER + rb')?' + WHITESPACE + rb'\}')
MEMBER_VALUE = re.compile(rb'"[^"\\]*"' + WHITESPACE + rb':' + WHITESPACE + rb'(' + SCALAR + rb')')
SCALAR_VALUE = re.compile(SCALAR + rb'|\[' + WHITESPACE + rb'\]')
MASKED = b'"***"'
KEPT = (b'""', b"null", b"[]")  # what blank_secrets leaves under a secret key (whitespace aside)
# SECRET_KEY's words (but "key$": a name ending in "key"), lower-cased, by a part several share (each a literal the
# regular expression engine searches for in C, as fast as bytes.find)
ANCHORS = (b"key", b"token", b"pass")


def _value_starts(words: list[bytes]) -> list[re.Pattern[bytes]]:
    """Per anchor, one expression matching from the anchor in a secret-looking key to where the key's value starts,
    when that value is not empty (``""``, ``null``, ``[]``, ``{}``: what most secret-looking keys hold, kept as they
    are). In compact JSON without escapes, a word followed by the rest of a name, a quote and a colon is inside a
    key (a string value is never followed by a colon)."""
    anchored: dict[bytes, list[bytes]] = {}
    for word in words:
        anchor = next((anchor for anchor in ANCHORS if anchor in word), word)
        at = word.index(anchor) + len(anchor)
        # the word's text up to the anchor's end, looked behind; its rest, matched on
        branch = (rb'(?<=' + re.escape(word[:at]) + rb')' if at > len(anchor) else b"") + re.escape(word[at:])
        anchored.setdefault(anchor, []).append(branch + rb'[^"\\]*+"')
    anchored[b"key"].append(b'"')  # a name ending in "key"
    value = WHITESPACE + b":" + WHITESPACE + rb'(?!""|null|\[\]|\{\})'
    return [re.compile(re.escape(anchor) + rb'(?:' + b"|".join(branches) + rb')' + value)
            for anchor, branches in anchored.items()]


SECRET_VALUE_STARTS = _value_starts([word.encode() for word in SECRET_KEY_NAMES.split("|") if not word.endswith("$")])


def insert_new_blobs(connection: Connection) -> Insert:
    """An INSERT that leaves a blob another scan stored meanwhile alone (same digest, same content)."""
    return insert_ignoring_duplicates(connection, inventory_blobs, "digest")


def stored_group(members: Sequence[bytes]) -> bytes:
    """A group as the store keeps it: its resources' compact JSON (as the fleet holds them: keys in the order the
    inventory gave them, which Resource Graph and snapshot files keep from one scan to the next) with secrets
    masked: every non-empty value under a secret-looking key (keys kept, as
    :func:`engine.output.redact.blank_secrets` does) and values secret by their origin wherever they sit."""
    return stored_groups([members])[0]


def stored_groups(groups: Sequence[Sequence[bytes]]) -> list[bytes]:
    """:func:`stored_group` of each group, the secrets of all of them searched for at once. Masked in the JSON text
    when the values to mask are simple (most groups have none, or a flag or a settings map under a secret-looking
    name); otherwise the group is parsed and walked."""
    masked = _masked_texts([b"[" + b",".join(members) + b"]" for members in groups])
    return [text if text is not None else
            orjson.dumps(scrub_data(blank_secrets([orjson.loads(member) for member in members])))
            for text, members in zip(masked, groups, strict=True)]


def _masked_text(encoded: bytes) -> bytes | None:
    """``encoded`` (JSON, compact or not) masked in its text (:func:`_masked_texts`)."""
    return _masked_texts([encoded])[0]


def _masked_texts(texts: Sequence[bytes]) -> list[bytes | None]:
    """Each of ``texts`` (JSON, compact or not) with every scalar under a secret-looking key (directly, or in an
    object of scalars) made ``"***"``, but empty ones; None when that cannot be done in the text for sure: an
    escaped character, non-ASCII text (case folding may turn it into a secret-looking name), a deeper value under a
    secret-looking key, or a value secret by its origin. The texts are searched together, one pass per anchor
    (a match never runs from one text into the next: it stops at the quote that ends its name or value)."""
    lowered = b"\n".join(texts).lower()
    starts = list(accumulate((len(text) + 1 for text in texts[:-1]), initial=0))
    spans: list[set[tuple[int, int]]] = [set() for _ in texts]
    walked: set[int] = set()
    for pattern in SECRET_VALUE_STARTS:
        for match in pattern.finditer(lowered):
            start = match.end()
            index = bisect_right(starts, start) - 1
            if index in walked:
                continue
            value = SCALAR_VALUE.match(lowered, start)
            if value is not None:
                scalars = [value.span()]
            elif (flat := FLAT_OBJECT.match(lowered, start)) is not None:
                scalars = [member.span(1) for member in MEMBER_VALUE.finditer(lowered, start, flat.end())]
            else:
                walked.add(index)
                continue
            offset = starts[index]
            spans[index].update((begin - offset, end - offset) for begin, end in scalars
                                if lowered[begin:end].translate(None, b" \t\r\n") not in KEPT)
    masked: list[bytes | None] = []
    for index, text in enumerate(texts):
        if index in walked or b"\\" in text or not text.isascii():
            masked.append(None)
            continue
        for begin, end in sorted(spans[index], reverse=True):
            text = text[:begin] + MASKED + text[end:]
        masked.append(None if SECRET_VALUES.mentioned_in(text.decode()) else text)
    return masked


class InventoryWriter:
    """Stores a scan's fleet as it comes, group by group (any number of :meth:`add` calls), in one transaction.

    Only the groups the store does not hold yet are compressed and written; the groups of the scan recorded
    before (``known``) are not even looked up.
    """

    def __init__(self, connection: Connection, scan_id: str, known: set[bytes] | None = None):
        self.connection, self.scan_id = connection, scan_id
        self.known = known or set()
        self.digests: list[bytes] = []
        self.added = 0
        self.statement = insert_new_blobs(connection)
        self.compressor = zstandard.ZstdCompressor(level=BLOB_LEVEL)

    def add(self, groups: Iterable[Sequence[bytes]]) -> None:
        """Groups as :meth:`engine.inventory.Fleet.encoded_groups` gives them: each resource's compact JSON.

        A group whose bytes are those of a blob the scan before kept needs no masking (a blob is masked under
        secret-looking keys, and masking a masked group changes nothing), unless it holds a value this process
        knows to be secret by its origin: only its digest is computed."""
        for batch in batched(groups, BATCH):
            digests: list[bytes | None] = [None] * len(batch)
            if self.known:
                for index, members in enumerate(batch):
                    encoded = b"[" + b",".join(members) + b"]"
                    value = hashlib.sha256(encoded).digest()
                    if value in self.known and not SECRET_VALUES.mentioned_in(encoded.decode()):
                        digests[index] = value
            masked = [members for members, value in zip(batch, digests, strict=True) if value is None]
            contents = iter(stored_groups(masked)) if masked else iter(())
            unknown: dict[bytes, bytes] = {}
            for value in digests:
                if value is None:
                    content = next(contents)
                    value = hashlib.sha256(content).digest()
                    if value not in self.known:
                        unknown[value] = content
                self.digests.append(value)
            if not unknown:
                continue
            stored = set(self.connection.scalars(select(inventory_blobs.c.digest).where(
                inventory_blobs.c.digest.in_([value.hex() for value in unknown]))))
            compress = self.compressor.compress
            rows = [{"digest": value.hex(), "size": len(content), "content": compress(content)}
                    for value, content in unknown.items() if value.hex() not in stored]
            if rows:
                self.connection.execute(self.statement, rows)
                self.added += len(rows)

    def finish(self) -> int:
        """Write the scan's list of groups, or add them to the list the shards of the scan recorded before wrote
        (the caller holds the scan's row); returns the number of blobs new to the store."""
        listed = scan_inventories.c
        before = self.connection.execute(select(listed.groups, listed.digests).where(
            listed.scan_id == self.scan_id)).first()
        if before is None:
            self.connection.execute(insert(scan_inventories).values(scan_id=self.scan_id, groups=len(self.digests),
                                                                    digests=b"".join(self.digests)))
        else:
            self.connection.execute(update(scan_inventories).where(listed.scan_id == self.scan_id).values(
                groups=before.groups + len(self.digests), digests=bytes(before.digests) + b"".join(self.digests)))
        return self.added


def latest_digests(connection: Connection) -> set[bytes]:
    """The groups of the most recently recorded scan that kept its inventory (a new scan mostly repeats them)."""
    newest = (select(scan_inventories.c.digests).join(scans, scans.c.scan_id == scan_inventories.c.scan_id)
              .order_by(scans.c.started_at.desc()).limit(1))
    digests = connection.scalar(newest)
    return set(_split(bytes(digests))) if digests is not None else set()


def _split(digests: bytes) -> list[bytes]:
    return [digests[start:start + DIGEST_BYTES] for start in range(0, len(digests), DIGEST_BYTES)]


def load_inventory(connection: Connection, scan_id: str, shown_url: str) -> Fleet | None:
    """The fleet ``scan_id`` evaluated (secrets masked), or None when it was recorded without one."""
    digests = connection.scalar(select(scan_inventories.c.digests).where(scan_inventories.c.scan_id == scan_id))
    if digests is None:
        return None
    fleet = Fleet()
    for batch in batched(_split(bytes(digests)), BATCH):
        for group in _read_groups(connection, batch, scan_id, shown_url):
            fleet.add_group(group)
    return fleet


class StoredFleet(NamedTuple):
    """A stored scan's fleet to evaluate again without building a :class:`Fleet`: its resource containers
    (subscriptions, resource groups) and its clusters, a batch at a time as they are read."""

    containers: list[dict[str, Any]]
    clusters: Iterator[list[ClusterInventory]]


def stored_fleet(connection: Connection, scan_id: str, shown_url: str) -> StoredFleet | None:
    """The fleet ``scan_id`` evaluated as :class:`StoredFleet` (None when it was recorded without one). A fleet's
    other resources are its last groups (:meth:`Fleet.groups`): they are read first, from the end, so that
    rules reading a cluster's resource group or subscription see them."""
    digests = connection.scalar(select(scan_inventories.c.digests).where(scan_inventories.c.scan_id == scan_id))
    if digests is None:
        return None
    groups = _split(bytes(digests))
    others: list[list[dict[str, Any]]] = []
    end = len(groups)
    while end:
        start = max(0, end - BATCH)
        batch = list(_read_groups(connection, groups[start:end], scan_id, shown_url))
        last = next((index for index in range(len(batch) - 1, -1, -1) if not _other(batch[index])), None)
        others[:0] = batch[last + 1 if last is not None else 0:]
        if last is not None:
            end = start + last + 1
            break
        end = start
    containers = [group[0] for group in others if ids.normalize(group[0]["type"]) in ids.CONTAINER_TYPES]
    return StoredFleet(containers, _clusters(connection, groups[:end], scan_id, shown_url))


def _other(group: list[dict[str, Any]]) -> bool:
    """Whether a group is one of the fleet's other resources (neither a cluster's group nor children whose
    cluster is missing)."""
    first = group[0]
    type_key = ids.normalize(first["type"])
    return type_key not in ids.CLUSTER_TYPES and not (
        type_key in (ids.EXTENSION_TYPE, ids.FLUX_CONFIGURATION_TYPE) and ids.owning_cluster_id(first["id"]))


def _clusters(connection: Connection, digests: Sequence[bytes], scan_id: str,
              shown_url: str) -> Iterator[list[ClusterInventory]]:
    for batch in batched(digests, BATCH):
        clusters = []
        for group in _read_groups(connection, batch, scan_id, shown_url):
            cluster = cluster_of_group(group)
            if cluster is not None:
                clusters.append(cluster)
            elif _other(group):
                raise InputError(shown_url, f"the inventory of scan {scan_id} is damaged: a resource that is "
                                            "not a cluster's is kept before a cluster", value=group[0]["id"])
        yield clusters


def _read_groups(connection: Connection, digests: Sequence[bytes], scan_id: str,
                 shown_url: str) -> Iterator[list[dict[str, Any]]]:
    """The groups of ``digests``, in that order, each checked against its digest."""
    rows = connection.execute(select(inventory_blobs.c.digest, inventory_blobs.c.size, inventory_blobs.c.content)
                              .where(inventory_blobs.c.digest.in_([digest.hex() for digest in digests])))
    contents = {row.digest: (row.size, bytes(row.content)) for row in rows}
    decompressor = zstandard.ZstdDecompressor()  # one context for the batch: making one costs what a blob does
    for digest in digests:
        size, content = contents.get(digest.hex(), (0, None))
        encoded = _decompressed(content, size, decompressor) if content is not None else b""
        if hashlib.sha256(encoded).digest() != digest:
            problem = "is missing" if content is None else "does not match its digest"
            raise InputError(shown_url, f"the inventory of scan {scan_id} is damaged: blob {digest.hex()} {problem}")
        yield orjson.loads(encoded)


def _decompressed(content: bytes, size: int, decompressor: zstandard.ZstdDecompressor) -> bytes:
    """A blob's group (b"" when it cannot be decompressed): a Zstandard frame of ``size`` bytes (its size in the
    frame's header, checked first: a damaged header must not make it allocate more), or a zlib stream."""
    try:
        if content.startswith(ZSTD_MAGIC):
            if zstandard.frame_content_size(content) != size:
                return b""
            return decompressor.decompress(content)
        return zlib.decompress(content)
    except (zlib.error, zstandard.ZstdError):
        return b""


def prune_blobs(connection: Connection) -> int:
    """Delete the blobs no stored scan refers to any more; returns how many."""
    referenced = {digest.hex() for (digests,) in connection.execute(select(scan_inventories.c.digests))
                  for digest in _split(bytes(digests))}
    unreferenced = [digest for digest in connection.scalars(select(inventory_blobs.c.digest))
                    if digest not in referenced]
    for batch in batched(unreferenced, BATCH):
        connection.execute(delete(inventory_blobs).where(inventory_blobs.c.digest.in_(batch)))
    return len(unreferenced)
