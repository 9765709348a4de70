"""Each stored scan's inventory, content-addressed per cluster, so any past scan can be reproduced.

A fleet is stored as groups (:meth:`engine.inventory.Fleet.groups`: a cluster with its extensions and
flux configurations, or one other resource). Each group is canonical JSON (keys sorted, compact) with
every non-empty value under a secret-looking key blanked (:func:`engine.output.redact.blank_secrets`,
the keys kept), hashed with SHA-256 and kept once in
``inventory_blobs`` (zlib-compressed); a scan keeps only the list of its groups' digests. A scan where
1% of the clusters changed adds 1% new blobs and one digest list.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Insert, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from engine.errors import InputError
from engine.history.schema import inventory_blobs, scan_inventories
from engine.inventory import Fleet
from engine.output.redact import blank_secrets
from engine.secret_values import scrub_data

DIGEST_BYTES = 32
BATCH = 500  # groups looked up, inserted or read per statement (well under every driver's parameter limit)
Item = TypeVar("Item")


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """``items`` in lists of ``size`` (the last one shorter), as Python 3.12's ``itertools.batched``."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def canonical_group(group: list[dict[str, Any]]) -> bytes:
    """A group as the store keeps it: secrets masked (under secret keys, and values secret by their origin
    wherever they sit), keys sorted, compact JSON."""
    return orjson.dumps(scrub_data(blank_secrets(group)), option=orjson.OPT_SORT_KEYS)


def insert_new_blobs(connection: Connection) -> Insert:
    """An INSERT that leaves a blob another scan stored meanwhile alone (same digest, same content)."""
    dialects: dict[str, Callable[[], Insert]] = {
        "postgresql": lambda: postgresql.insert(inventory_blobs).on_conflict_do_nothing(index_elements=["digest"]),
        "sqlite": lambda: sqlite.insert(inventory_blobs).on_conflict_do_nothing(index_elements=["digest"]),
    }
    return dialects.get(connection.dialect.name, lambda: insert(inventory_blobs))()


def store_inventory(connection: Connection, scan_id: str, groups: Iterable[list[dict[str, Any]]]) -> int:
    """Store a fleet (its :meth:`Fleet.groups`) as the inventory of ``scan_id``; returns the number of blobs new
    to the store."""
    digests: list[bytes] = []
    added = 0
    statement = insert_new_blobs(connection)
    for batch in batched(groups, BATCH):
        canonical = {hashlib.sha256(encoded).digest(): encoded for encoded in map(canonical_group, batch)}
        digests.extend(canonical)
        known = set(connection.scalars(select(inventory_blobs.c.digest).where(
            inventory_blobs.c.digest.in_([digest.hex() for digest in canonical]))))
        rows = [{"digest": digest.hex(), "size": len(encoded), "content": zlib.compress(encoded)}
                for digest, encoded in canonical.items() if digest.hex() not in known]
        if rows:
            connection.execute(statement, rows)
            added += len(rows)
    connection.execute(insert(scan_inventories).values(scan_id=scan_id, groups=len(digests),
                                                        digests=b"".join(digests)))
    return added


def _split(digests: bytes) -> list[bytes]:
    return [digests[start:start + DIGEST_BYTES] for start in range(0, len(digests), DIGEST_BYTES)]


def load_inventory(connection: Connection, scan_id: str, shown_url: str) -> Fleet | None:
    """The fleet ``scan_id`` evaluated (secrets masked), or None when it was recorded without one."""
    digests = connection.scalar(select(scan_inventories.c.digests).where(scan_inventories.c.scan_id == scan_id))
    if digests is None:
        return None
    fleet = Fleet()
    for batch in batched(_split(bytes(digests)), BATCH):
        fleet.add_all(resource for group in _read_groups(connection, batch, scan_id, shown_url) for resource in group)
    return fleet


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
