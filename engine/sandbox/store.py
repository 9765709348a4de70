"""The sandbox's durable state: every resource, in-flight operation and cluster fact, in SQLite.

Each write commits before the response goes out (WAL journal), so a sandbox killed at any
moment restarts with everything it acknowledged. Resources are stored as the ARM JSON a GET
returns; Resource Graph rows are projected from that on the way out.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from engine import ids
from engine.sqlite_files import claim_sqlite_file

DATABASE_FILE = "sandbox.db"
KUBERNETES_CONFIGURATION_TABLE = "kubernetesconfigurationresources"
RESOURCE_CONTAINERS_TABLE = "resourcecontainers"
RESOURCES_TABLE = "resources"

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    key TEXT PRIMARY KEY, tbl TEXT NOT NULL, type_key TEXT NOT NULL, sub TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS resources_by_table ON resources (tbl, type_key, key);
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY, resource_key TEXT NOT NULL, phase TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inflight (
    resource_key TEXT PRIMARY KEY, cluster_key TEXT NOT NULL, phase TEXT NOT NULL, started REAL NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS facts (key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (key, name));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
TABLES = frozenset(("resources", "operations", "inflight", "facts", "meta"))


# ARM names a resource group's type Microsoft.Resources/resourceGroups; Resource Graph (and Azure Policy) name it
# microsoft.resources/subscriptions/resourcegroups. The store keys types the way Resource Graph queries them.
GRAPH_TYPES = {"microsoft.resources/resourcegroups": ids.RESOURCE_GROUP_TYPE}


def graph_type(type_name: str) -> str:
    """A resource type as Resource Graph names it (lower case)."""
    key = ids.normalize(type_name)
    return GRAPH_TYPES.get(key, key)


def graph_table(type_key: str) -> str:
    """The Resource Graph table a resource type lives in."""
    if type_key.startswith("microsoft.kubernetesconfiguration/"):
        return KUBERNETES_CONFIGURATION_TABLE
    if type_key in ids.CONTAINER_TYPES:
        return RESOURCE_CONTAINERS_TABLE
    return RESOURCES_TABLE


class Store:
    """SQLite access behind one lock: the server's threads share a single connection."""

    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        # it holds vault secrets and protected-setting digests: the owner's only, also when made by an older version
        database = state_dir / DATABASE_FILE
        claim_sqlite_file(database, "sandbox state", required={"resources", "meta"}, allowed=TABLES,
                          option="--state-dir", tighten=True)
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._version = 0  # bumped by every write; invalidates cached counts
        self._counts: dict[tuple[str, tuple[Any, ...], int], int] = {}

    def close(self) -> None:
        with self.lock:
            self._db.close()

    # ---- meta and facts ---------------------------------------------------------------------
    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def fact(self, key: str, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM facts WHERE key = ? AND name = ?", (key, name)).fetchone()
        return row[0] if row else None

    def set_fact(self, key: str, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO facts VALUES (?, ?, ?)", (key, name, value))

    # ---- resources --------------------------------------------------------------------------
    def load(self, resources: Iterable[dict[str, Any]]) -> int:
        """Bulk-insert a fleet in one transaction; returns the number of resources."""
        count = 0
        with self.lock:
            self._db.execute("BEGIN")
            for resource in resources:
                self._db.execute("INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?)", _row(resource))
                count += 1
            self._db.execute("COMMIT")
        return count

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM resources WHERE key = ?", (ids.normalize(key),)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, resource: dict[str, Any]) -> None:
        self._version += 1
        self._db.execute("INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?)", _row(resource))

    def delete(self, key: str) -> None:
        self._version += 1
        self._db.execute("DELETE FROM resources WHERE key = ?", (ids.normalize(key),))

    def delete_under(self, key: str) -> None:
        """Delete a resource and everything below it (a resource group and its resources)."""
        prefix = ids.normalize(key)
        self._version += 1
        self._db.execute("DELETE FROM resources WHERE key = ? OR (key >= ? AND key < ?)",
                         (prefix, prefix + "/", prefix + "/\uffff"))

    def children(self, collection: str, after: str | None = None,
                 limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(key, resource) directly in a collection URL (``{parent}/providers/NS/type`` or
        ``.../resourceGroups``) in key order, after ``after``; ``limit`` + 1 rows when more remain."""
        prefix = ids.normalize(collection) + "/"
        rows = self._db.execute(
            "SELECT key, body FROM resources WHERE key > ? AND key < ? AND instr(substr(key, ?), '/') = 0 "
            "ORDER BY key LIMIT ?", (max(prefix, after or ""), prefix + "\uffff", len(prefix) + 1,
                                     -1 if limit is None else limit + 1)).fetchall()
        return [(key, orjson.loads(body)) for key, body in rows]

    def of_type(self, subscription: str | None, type_key: str, after: str | None = None,
                limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(key, resource) of one type, in one subscription or all, like :meth:`children`."""
        clause, parameters = "type_key = ? AND key > ?", [type_key, after or ""]
        if subscription is not None:
            clause += " AND sub = ?"
            parameters.append(subscription.lower())
        rows = self._db.execute(f"SELECT key, body FROM resources WHERE {clause} ORDER BY key LIMIT ?",
                                [*parameters, -1 if limit is None else limit + 1]).fetchall()
        return [(key, orjson.loads(body)) for key, body in rows]

    def count_where(self, clause: str, parameters: list[Any]) -> int:
        """Rows matching; cached until the next write, since every page of a query asks again."""
        cache_key = (clause, tuple(parameters), self._version)
        if cache_key not in self._counts:
            self._counts = {cache_key: self._db.execute(f"SELECT COUNT(*) FROM resources WHERE {clause}",
                                                        parameters).fetchone()[0]} | {
                key: value for key, value in self._counts.items() if key[2] == self._version}
        return self._counts[cache_key]

    def select_where(self, clause: str, parameters: list[Any], order: str, limit: int,
                     offset: int) -> list[tuple[str, bytes]]:
        """(key, body) of the matching rows in ``order``, a page of ``limit`` after ``offset``."""
        return self._db.execute(f"SELECT key, body FROM resources WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                                [*parameters, limit, offset]).fetchall()

    def is_empty(self) -> bool:
        return self._db.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is None

    # ---- operations and in-flight lifecycles ------------------------------------------------
    def add_operation(self, operation_id: str, resource_key: str, phase: str) -> None:
        self._db.execute("INSERT INTO operations VALUES (?, ?, ?)", (operation_id, resource_key, phase))

    def operation(self, operation_id: str) -> tuple[str, str] | None:
        row = self._db.execute("SELECT resource_key, phase FROM operations WHERE id = ?",
                               (operation_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def start(self, resource_key: str, cluster_key: str, phase: str, started: float, created: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO inflight VALUES (?, ?, ?, ?, ?)",
                         (resource_key, cluster_key, phase, started, created))

    def inflight(self, cluster_key: str | None = None) -> list[tuple[str, str, str, float, float]]:
        if cluster_key is None:
            return self._db.execute("SELECT * FROM inflight").fetchall()
        return self._db.execute("SELECT * FROM inflight WHERE cluster_key = ?", (cluster_key,)).fetchall()

    def finish(self, resource_key: str) -> None:
        self._db.execute("DELETE FROM inflight WHERE resource_key = ?", (resource_key,))


def _row(resource: dict[str, Any]) -> tuple[str, str, str, str, bytes]:
    parsed = ids.parse_resource_id(resource["id"])
    type_key = graph_type(resource["type"])
    return (parsed.key, graph_table(type_key), type_key, (parsed.subscription_id or "").lower(),
            orjson.dumps(resource))
