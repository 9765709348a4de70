"""Each stored scan's inventory, content-addressed per cluster, so any past scan can be reproduced.

A fleet is stored as groups (:meth:`engine.inventory.Fleet.groups`: a cluster with its extensions and
flux configurations, or one other resource). Each group is compact JSON (keys as the inventory gave them;
version-3 stores sorted them) with every non-empty value under a secret-looking key blanked
(:func:`engine.output.redact.blank_secrets`, the keys kept), hashed with SHA-256 and kept once in
``inventory_blobs`` (zlib-compressed); a scan keeps only the list of its groups' digests. A scan where
1% of the clusters changed adds 1% new blobs and one digest list, and recording it parses none of the
groups that hold no secret.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import orjson
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
BLOB_LEVEL = 1  # zlib's fastest: a third of level 6's CPU for 8% more bytes (the JSON of a fleet compresses 4x)
# SECRET_KEY's words (but "key$": a name ending in "key"), lower-cased, by a part several share (searched once);
# in compact JSON without escapes, a word followed by the rest of a name and a colon is inside a key (a string
# value is never followed by a colon).
ANCHORS = (b"key", b"token", b"pass")


def _anchored(words: Iterable[bytes]) -> dict[bytes, list[tuple[bytes, int]]]:
    """anchor -> (word, where the anchor starts in it)"""
    anchored: dict[bytes, list[tuple[bytes, int]]] = {}
    for word in words:
        anchor = next((anchor for anchor in ANCHORS if anchor in word), word)
        anchored.setdefault(anchor, []).append((word, word.index(anchor)))
    return anchored


SECRET_WORDS = _anchored(word.encode() for word in SECRET_KEY_NAMES.split("|") if not word.endswith("$"))
WHITESPACE = rb'[ \t\r\n]*'  # JSON's, around its structural characters (NDJSON lines are kept as read)
REST_OF_KEY = re.compile(rb'[^"\\]*"' + WHITESPACE + rb':' + WHITESPACE)
END_OF_KEY = re.compile(rb'"' + WHITESPACE + rb':' + WHITESPACE)
# In JSON without escapes: a scalar, and an object of scalars (protected settings, flat key-value maps).
SCALAR = rb'"[^"\\]*"|true|false|null|-?[0-9][0-9.eE+-]*'
_MEMBER = rb'"[^"\\]*"' + WHITESPACE + rb':' + WHITESPACE + rb'(?:' + SCALAR + rb')'
FLAT_OBJECT = re.compile(rb'\{' + WHITESPACE + rb'(?:' + _MEMBER + WHITESPACE + rb',' + WHITESPACE + rb')*(?:'
                         + _MEMBER + rb')?' + WHITESPACE + rb'\}')
MEMBER_VALUE = re.compile(rb'"[^"\\]*"' + WHITESPACE + rb':' + WHITESPACE + rb'(' + SCALAR + rb')')
SCALAR_VALUE = re.compile(SCALAR + rb'|\[' + WHITESPACE + rb'\]')
MASKED = b'"***"'
KEPT = (b'""', b"null", b"[]")  # what blank_secrets leaves under a secret key (whitespace aside)
EMPTY = (*KEPT, b"{}")  # values with nothing to mask, compact


def insert_new_blobs(connection: Connection) -> Insert:
    """An INSERT that leaves a blob another scan stored meanwhile alone (same digest, same content)."""
    return insert_ignoring_duplicates(connection, inventory_blobs, "digest")


def stored_group(members: Sequence[bytes]) -> bytes:
    """A group as the store keeps it: its resources' compact JSON (as the fleet holds them: keys in the order the
    inventory gave them, which Resource Graph and snapshot files keep from one scan to the next) with secrets
    masked: every non-empty value under a secret-looking key (keys kept, as
    :func:`engine.output.redact.blank_secrets` does) and values secret by their origin wherever they sit.
    Masked in the JSON text when the values to mask are simple (most groups have none, or a flag or a settings
    map under a secret-looking name); otherwise the group is parsed and walked."""
    encoded = b"[" + b",".join(members) + b"]"
    masked = _masked_text(encoded)
    if masked is None:
        return orjson.dumps(scrub_data(blank_secrets([orjson.loads(member) for member in members])))
    return masked


def _masked_text(encoded: bytes) -> bytes | None:
    """``encoded`` (JSON, compact or not) with every scalar under a secret-looking key (directly, or in an object of
    scalars) made ``"***"``, but empty ones; None when that cannot be done in the text for sure: an escaped character, non-ASCII
    text (case folding may turn it into a secret-looking name), a deeper value under a secret-looking key, or a
    value secret by its origin."""
    if b"\\" in encoded or not encoded.isascii():
        return None
    lowered = encoded.lower()
    spans: set[tuple[int, int]] = set()
    for start in _secret_values(lowered):
        if lowered.startswith(EMPTY, start):
            continue  # most secret-looking keys hold nothing: their value is kept as it is
        value = SCALAR_VALUE.match(lowered, start)
        if value is not None:
            scalars = [value.span()]
        elif (flat := FLAT_OBJECT.match(lowered, start)) is not None:
            scalars = [member.span(1) for member in MEMBER_VALUE.finditer(lowered, start, flat.end())]
        else:
            return None
        spans.update(span for span in scalars if lowered[span[0]:span[1]].translate(None, b" \t\r\n") not in KEPT)
    masked = encoded
    for begin, end in sorted(spans, reverse=True):
        masked = masked[:begin] + MASKED + masked[end:]
    return None if SECRET_VALUES.mentioned_in(masked.decode()) else masked


def _secret_values(lowered: bytes) -> Iterator[int]:
    """Where the value of each secret-looking key starts (a search per anchor, in C)."""
    for anchor, words in SECRET_WORDS.items():
        start = lowered.find(anchor)
        while start != -1:
            for word, offset in words:
                begin = start - offset
                if begin >= 0 and lowered.startswith(word, begin):
                    rest = REST_OF_KEY.match(lowered, begin + len(word))
                    if rest is not None:
                        yield rest.end()
            if anchor == b"key" and (end := END_OF_KEY.match(lowered, start + 3)) is not None:  # a name ending in "key"
                yield end.end()
            start = lowered.find(anchor, start + 1)


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

    def add(self, groups: Iterable[Sequence[bytes]]) -> None:
        """Groups as :meth:`engine.inventory.Fleet.encoded_groups` gives them: each resource's compact JSON.

        A group whose bytes are those of a blob the scan before kept needs no masking (a blob is masked under
        secret-looking keys, and masking a masked group changes nothing), unless it holds a value this process
        knows to be secret by its origin: only its digest is computed."""
        for batch in batched(groups, BATCH):
            unknown: dict[bytes, bytes] = {}
            for members in batch:
                encoded = b"[" + b",".join(members) + b"]"
                value = hashlib.sha256(encoded).digest()
                if value not in self.known or SECRET_VALUES.mentioned_in(encoded.decode()):
                    content = stored_group(members)
                    value = hashlib.sha256(content).digest()
                    if value not in self.known:
                        unknown[value] = content
                self.digests.append(value)
            if not unknown:
                continue
            stored = set(self.connection.scalars(select(inventory_blobs.c.digest).where(
                inventory_blobs.c.digest.in_([value.hex() for value in unknown]))))
            rows = [{"digest": value.hex(), "size": len(content), "content": zlib.compress(content, BLOB_LEVEL)}
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
    rows = connection.execute(select(inventory_blobs.c.digest, inventory_blobs.c.content).where(
        inventory_blobs.c.digest.in_([digest.hex() for digest in digests])))
    contents = {row.digest: bytes(row.content) for row in rows}
    for digest in digests:
        content = contents.get(digest.hex())
        try:
            encoded = zlib.decompress(content) if content is not None else b""
        except zlib.error:
            encoded = b""
        if hashlib.sha256(encoded).digest() != digest:
            problem = "is missing" if content is None else "does not match its digest"
            raise InputError(shown_url, f"the inventory of scan {scan_id} is damaged: blob {digest.hex()} {problem}")
        yield orjson.loads(encoded)


def prune_blobs(connection: Connection) -> int:
    """Delete the blobs no stored scan refers to any more; returns how many."""
    referenced = {digest.hex() for (digests,) in connection.execute(select(scan_inventories.c.digests))
                  for digest in _split(bytes(digests))}
    unreferenced = [digest for digest in connection.scalars(select(inventory_blobs.c.digest))
                    if digest not in referenced]
    for batch in batched(unreferenced, BATCH):
        connection.execute(delete(inventory_blobs).where(inventory_blobs.c.digest.in_(batch)))
    return len(unreferenced)
