"""What the store's tables share: work in batches, and inserts that tolerate a scan recorded at the same time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, islice
from typing import Any, TypeVar

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


def insert_returning_ids(connection: Connection, table: Table, key: str,
                         rows: Sequence[dict[str, Any]]) -> Iterator[Any]:
    """Insert ``rows`` (all with the same columns) leaving alone those whose ``key`` the table holds already, and
    give the key and id of each row inserted. On SQLite and PostgreSQL one statement with the rows as its VALUES
    and the driver's own parameters (processing each parameter through SQLAlchemy cost as much as the insert)."""
    if not rows:
        return iter(())
    dialect = connection.dialect
    if dialect.name not in ("sqlite", "postgresql"):
        statement = insert_ignoring_duplicates(connection, table, key).returning(table.c[key], table.c.id)
        return iter(connection.execute(statement, list(rows)))
    columns = list(rows[0])
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    values = ", ".join(["(" + ", ".join([marker] * len(columns)) + ")"] * len(rows))
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) VALUES {values} "
           f"ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}, {quote('id')}")
    parameters = tuple(chain.from_iterable(map(row.get, columns) for row in rows))
    return iter(connection.exec_driver_sql(sql, parameters))
