"""Atomic file writes: a temp file beside the target, renamed into place when complete.

Bad input or an interrupted run therefore never leaves a half-written output behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from engine.errors import InputError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def check_writable(path: str | Path, option: str) -> None:
    """Before any work or output: ``path`` can be written (InputError naming it and ``option`` if not).

    It must not be a folder, and its nearest existing folder must be a folder we may write in (a
    missing folder below it is created when writing); an existing device or pipe must be writable.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(str(path), f"is a folder, not a file to write ({option})")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InputError(str(path), f"cannot be written: permission denied ({option})")
        return
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(str(path), f"cannot be written: {folder} is not a folder ({option})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(str(path), f"cannot be written: permission denied in {folder} ({option})")


PRIVATE_MODE = 0o600  # state files that may hold secrets: readable and writable by their owner only


def private_file(path: str | Path, tighten: bool = False) -> Path:
    """Create ``path`` (empty) with :data:`PRIVATE_MODE` unless it exists; ``tighten`` also sets that mode
    on an existing file. For SQLite databases: SQLite gives their -wal and -shm files the same mode."""
    path = Path(path)
    if not path.parent.is_dir():
        return path  # nothing to create there: the caller's own open reports it
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    except FileExistsError:
        if tighten and path.is_file():
            os.chmod(path, PRIVATE_MODE)
    return path


@contextmanager
def atomic_writer(path: str | Path, binary: bool = False, mode: int | None = None) -> Iterator[IO[Any]]:
    """Open a temp file for writing; on success it replaces ``path``, on error it is removed.
    ``mode`` (e.g. :data:`PRIVATE_MODE`) is the file's mode from the start; by default the umask's.

    Devices and pipes (``/dev/null``, ``/dev/stdout``, a FIFO) are written in place: renaming a
    file over them would replace the device itself.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        with path.open("wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as out:
            yield out
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:  # a file where a folder should be, no permission ...: the user's path
        raise InputError(str(path), f"cannot be written: {error.strerror or error}") from None
    try:
        os.chmod(temporary, 0o666 & ~_umask() if mode is None else mode)
        with os.fdopen(descriptor, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())  # the content is on disk before the rename makes it visible
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
