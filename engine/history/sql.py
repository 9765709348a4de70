"""What the store's tables share: work in batches, and inserts that tolerate a scan recorded at the same time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

from sqlalchemy import Connection, Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

BATCH = 500  # rows looked up, inserted or read per statement (well under every driver's parameter limit)
Item = TypeVar("Item")


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """``items`` in lists of ``size`` (the last one shorter), as Python 3.12's ``itertools.batched``."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def insert_ignoring_duplicates(connection: Connection, table: Table, key: str) -> Insert:
    """An INSERT that leaves alone a row another scan stored meanwhile (same digest ``key``, same content)."""
    dialects: dict[str, Callable[[], Insert]] = {
        "postgresql": lambda: postgresql.insert(table).on_conflict_do_nothing(index_elements=[key]),
        "sqlite": lambda: sqlite.insert(table).on_conflict_do_nothing(index_elements=[key]),
    }
    return dialects.get(connection.dialect.name, lambda: insert(table))()
