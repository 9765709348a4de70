"""The crash-safe journal: each operation's state, durable before and after every write.

SQLite in WAL mode with ``synchronous=FULL``: once :meth:`Journal.record` returns the state is on
disk, so an apply killed at any instant resumes knowing which writes may have reached ARM
(``started``), which ARM accepted (``lro-started``, with the URL to poll) and which finished.
Rows are keyed by the plan's fingerprint and the operation id; values of secrets never get here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.secret_values import scrub
from engine.sqlite_files import claim_sqlite_file, own_sqlite_file
from remediation.apply.models import OpState

SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    plan TEXT NOT NULL, operation TEXT NOT NULL, state TEXT NOT NULL, polling_url TEXT,
    message TEXT, writes INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL, body TEXT,
    PRIMARY KEY (plan, operation));
"""


WHAT = "apply journal"
TABLES = frozenset(("operations",))


def check_journal(path: Path) -> None:
    """Before any work: the journal at ``path``, if there is one, is arcpolicy's own (InputError if not)."""
    own_sqlite_file(path, WHAT, required=TABLES, allowed=TABLES, option="--journal")


@dataclass(frozen=True)
class JournalEntry:
    state: OpState
    polling_url: str | None
    message: str | None
    writes: int
    body: dict[str, Any] | None = None  # a re-creation's body without its secrets (``recreating``)


class Journal:
    """One SQLite connection behind a lock; worker threads record through it."""

    def __init__(self, path: Path, plan_fingerprint: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        # the journal's messages name targets and errors: the owner's only, never another file through a link
        claim_sqlite_file(path, WHAT, required=TABLES, allowed=TABLES, option="--journal", tighten=True)
        self.path = path
        self.plan = plan_fingerprint
        self._lock = threading.Lock()
        self._closed = False
        with self._told():
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(operations)")}
            if "body" not in columns:  # a journal an earlier arcpolicy wrote
                self._db.execute("ALTER TABLE operations ADD COLUMN body TEXT")

    @contextmanager
    def _told(self) -> Iterator[None]:
        """SQLite failing on the journal (its disk full, the file damaged) is one line naming it, exit 2."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise InputError(str(self.path), f"cannot write the apply journal: {error} (--journal)") from None

    @classmethod
    def resumable(cls, path: Path, plan_fingerprint: str) -> dict[str, JournalEntry]:
        """What a previous run of this plan recorded, for ``--resume``: InputError when there is no journal,
        or it holds nothing of this plan (the plan changed since, or it never ran)."""
        if not os.path.lexists(path):
            raise InputError("--resume", f"there is no journal at {path}: nothing to resume (apply without "
                                         "--resume to start; --journal names another journal)")
        journal = cls(path, plan_fingerprint)
        try:
            entries = journal.entries()
            plans = journal.plans()
        finally:
            journal.close()
        if not entries:
            others = sorted(plans - {plan_fingerprint})
            if others:
                raise InputError("--resume", f"the plan changed since the apply this journal records (the journal "
                                             f"is of plan {others[0]}, this plan is {plan_fingerprint}): apply "
                                             "this plan without --resume (every target is re-read first, so "
                                             "nothing is written twice)", value=str(path))
            raise InputError("--resume", f"the journal {path} records no apply of this plan: nothing to resume")
        return entries

    def plans(self) -> set[str]:
        """The plan fingerprints this journal holds runs of."""
        with self._lock:
            return {plan for (plan,) in self._db.execute("SELECT DISTINCT plan FROM operations")}

    @classmethod
    def read(cls, path: Path, plan_fingerprint: str) -> dict[str, JournalEntry]:
        """What a previous run of this plan recorded, without creating the journal when there is none."""
        if not os.path.lexists(path):
            return {}
        journal = cls(path, plan_fingerprint)
        try:
            return journal.entries()
        finally:
            journal.close()

    def entries(self) -> dict[str, JournalEntry]:
        """What a previous run of this plan recorded, by operation id."""
        with self._lock:
            rows = self._db.execute("SELECT operation, state, polling_url, message, writes, body FROM operations "
                                    "WHERE plan = ?", (self.plan,)).fetchall()
        return {operation: JournalEntry(OpState(state), url, message, writes, json.loads(body) if body else None)
                for operation, state, url, message, writes, body in rows}

    def reset(self) -> None:
        """Forget earlier runs of this plan (a fresh apply re-reads ARM instead)."""
        with self._lock, self._told():
            self._db.execute("DELETE FROM operations WHERE plan = ?", (self.plan,))

    def record(self, operation: str, state: OpState, *, polling_url: str | None = None,
               message: str | None = None, writes: int = 0, body: dict[str, Any] | None = None) -> None:
        """``body`` must hold no secret (the caller leaves protected settings out); it is scrubbed too. Once
        the journal is closed (an interrupted apply that stopped waiting for an operation on the wire) a
        record is dropped: that operation's last state stays, which is what ``--resume`` must see."""
        text = None if body is None else scrub(json.dumps(body, sort_keys=True))
        with self._lock, self._told():
            if self._closed:
                return
            self._db.execute(
                "INSERT INTO operations (plan, operation, state, polling_url, message, writes, updated, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plan, operation) DO UPDATE SET state = "
                "excluded.state, polling_url = excluded.polling_url, message = excluded.message, "
                "writes = excluded.writes, updated = excluded.updated, body = excluded.body",
                (self.plan, operation, state.value, polling_url, None if message is None else scrub(message), writes,
                 time.time(), text))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()
