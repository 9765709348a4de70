"""SQLite files arcpolicy keeps (apply's journal, the sandbox's state, a history store): claimed before SQLite
opens them, so a link is never followed and a database arcpolicy did not make is never written into.

Each kind of file is told by its tables: a journal holds only ``operations``, a history store
``schema_migrations`` and ``scans`` ... A file that is not SQLite, or another kind's, is refused with one line;
a damaged one too (SQLite's own message), before anything is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection
from pathlib import Path
from urllib.parse import quote

from engine.atomic import own_file, private_file
from engine.errors import InputError

SQLITE_HEADER = b"SQLite format 3\x00"
MAX_TABLES_NAMED = 5  # tables a refusal names
COMPANIONS = ("-wal", "-shm", "-journal")  # SQLite's files beside a database, opened by SQLite itself


def sqlite_tables(path: Path, what: str) -> set[str] | None:
    """The tables of the SQLite database at ``path`` (opened read-only), None when it is no SQLite database;
    InputError when it is one SQLite cannot read (damaged pages, a truncated file)."""
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True)
        try:
            return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                    if not name.startswith("sqlite_")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise InputError(str(path), f"the {what} is damaged: {error}") from None


def claim_sqlite_file(path: str | Path, what: str, required: Collection[str], allowed: Collection[str] | None = None,
                      *, option: str | None = None, tighten: bool = False) -> bool:
    """:func:`engine.atomic.private_file` for a SQLite database (:func:`own_sqlite_file` for an existing one).
    Returns whether the file was created."""
    _check_companions(Path(path), what, option)
    return private_file(path, what, _has_tables(what, required, allowed), option=option, tighten=tighten)


def own_sqlite_file(path: str | Path, what: str, required: Collection[str], allowed: Collection[str] | None = None,
                    *, option: str | None = None) -> bool:
    """:func:`engine.atomic.own_file` for a SQLite database: an existing file must hold the ``required`` tables
    (and none outside ``allowed`` when given), and SQLite's -wal, -shm and -journal files beside it must not be
    links either. Whether there is one; nothing is created or changed (a check before any work)."""
    _check_companions(Path(path), what, option)
    return own_file(path, what, _has_tables(what, required, allowed), option=option)


def _check_companions(path: Path, what: str, option: str | None) -> None:
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.is_symlink() or (companion.exists() and not companion.is_file()):
            raise InputError(str(companion), f"is not a regular file; arcpolicy never follows a link beside its "
                                             f"{what}{f' ({option})' if option else ''}")


def _has_tables(what: str, required: Collection[str], allowed: Collection[str] | None
                ) -> Callable[[Path], str | None]:
    def not_ours(candidate: Path) -> str | None:
        tables = sqlite_tables(candidate, what)
        if tables is None:
            return "not a SQLite database"
        if set(required) <= tables and (allowed is None or tables <= set(allowed)):
            return None
        listed = ", ".join(sorted(tables)[:MAX_TABLES_NAMED]) + (", ..." if len(tables) > MAX_TABLES_NAMED else "")
        return f"a SQLite database of something else (its tables: {listed or 'none'})"

    return not_ours
