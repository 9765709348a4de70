"""Atomic file writes: a temp file beside the target, renamed into place when complete.

Bad input or an interrupted run therefore never leaves a half-written output behind.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
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


def write_files(contents: Sequence[tuple[str | Path, str]], on_written: Callable[[int], None] | None = None) -> None:
    """A command's files written all or none: each to a temp file beside it, flushed to disk, and renamed into
    place only once every one is written, so a full disk part-way leaves no file behind (nor a valid-looking
    first one). ``on_written(count)`` after each file's content is on disk."""
    with ExitStack() as stack:
        for count, (path, text) in enumerate(contents, 1):
            out = stack.enter_context(atomic_writer(path))
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
            if on_written is not None:
                on_written(count)


NamedPath = tuple[str | Path | None, str]  # a file and the option that names it (None: not given)


def check_distinct(outputs: Iterable[NamedPath], inputs: Iterable[NamedPath] = ()) -> None:
    """Before any work: no output is one of the command's input files, and no two outputs are one file, however
    each is written (``a.json``, ``./a.json``, ``csv:a.json``, a link or a hard link to it), so nothing is
    overwritten while it is still to be read, nor written twice (InputError naming both options)."""
    named: dict[object, tuple[str, str]] = {}
    for path, option in inputs:
        if path is not None and Path(path).is_file():
            named.update(dict.fromkeys(_file_keys(Path(path)), ("input", option)))
    for path, option in outputs:
        if path is None:
            continue
        keys = _file_keys(Path(path))
        clash = next((named[key] for key in keys if key in named), None)
        if clash is not None:
            role, other = clash
            raise InputError(str(path), f"is also {'an input' if role == 'input' else 'an output'} of this command "
                                        f"({other}); write {option} to another file")
        named.update(dict.fromkeys(keys, ("output", option)))


def input_files(policies: Iterable[str | Path] | None, assignments: Iterable[str | Path] | None = (),
                exemptions: Iterable[str | Path] | None = (), attestations: Iterable[str | Path] | None = ()
                ) -> list[NamedPath]:
    """The policy, assignment, exemption and attestation files a command reads, named by their options."""
    return [(path, option) for paths, option in ((policies, "--policy"), (assignments, "--assignment"),
                                                 (exemptions, "--exemption"), (attestations, "--attestation"))
            for path in paths or ()]


def _file_keys(path: Path) -> list[object]:
    """What tells a file from another: its resolved path and, when it exists, its device and inode."""
    keys: list[object] = [os.path.realpath(path)]
    try:
        status = path.stat()
        keys.append((status.st_dev, status.st_ino))
    except OSError:
        pass
    return keys


DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
PRIVATE_MODE = 0o600  # state files that may hold secrets: readable and writable by their owner only


def private_file(path: str | Path, what: str, not_ours: Callable[[Path], str | None], *, option: str | None = None,
                 tighten: bool = False) -> bool:
    """Create ``path`` (empty) with :data:`PRIVATE_MODE`, or accept the file there only when it is arcpolicy's own
    ``what`` (:func:`own_file`). Returns whether it was created; an InputError naming it (and ``option``)
    otherwise, and nothing is changed. For SQLite databases: SQLite gives their -wal and -shm files the
    database's mode."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_MODE))
        return True
    except FileExistsError:  # a link there too, even one pointing nowhere
        own_file(path, what, not_ours, option=option, tighten=tighten)
        return False
    except OSError as error:
        raise InputError(str(path), f"cannot create the {what}: {error.strerror or error}{_named(option)}") from None


def own_file(path: str | Path, what: str, not_ours: Callable[[Path], str | None], *, option: str | None = None,
             tighten: bool = False) -> bool:
    """Whether arcpolicy's ``what`` is at ``path`` (False: nothing is). A file there must be a regular file of
    this user, never a symbolic link (it is not followed), and empty or one ``not_ours`` finds nothing against (it
    says why a non-empty file is not arcpolicy's, else None): anything else is an InputError naming it, so that a
    link or another program's file is never written, replaced or chmodded.
    ``tighten`` sets :data:`PRIVATE_MODE` on it when a former version left it readable to others."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputError(str(path), f"is a symbolic link; arcpolicy never follows a link to its {what}: give "
                                        f"the file itself{_named(option)}") from None
        raise InputError(str(path), f"cannot open the {what}: {error.strerror or error}{_named(option)}") from None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode):
            raise InputError(str(path), f"is not a regular file, so not arcpolicy's {what}{_named(option)}")
        if found.st_uid != os.geteuid():
            raise InputError(str(path), f"belongs to another user, so it is not this user's {what}{_named(option)}")
        reason = not_ours(path) if found.st_size else None
        if reason:
            raise InputError(str(path), f"not arcpolicy's {what}: {reason}; it is left unchanged (move it away or "
                                        f"give another file){_named(option)}")
        if tighten and stat.S_IMODE(found.st_mode) & ~PRIVATE_MODE:
            os.fchmod(descriptor, PRIVATE_MODE)
    finally:
        os.close(descriptor)
    return True


def _named(option: str | None) -> str:
    return f" ({option})" if option else ""


WRITE_BUFFER = 1 << 20  # bytes a file is written in: a scan's 142 MB of records in 8 KiB writes cost ~0.07 s of CPU more


@contextmanager
def atomic_writer(path: str | Path, binary: bool = False, mode: int | None = None) -> Iterator[IO[Any]]:
    """Open a temp file for writing; on success it replaces ``path``, on error it is removed.
    ``mode`` (e.g. :data:`PRIVATE_MODE`) is the file's mode from the start; by default the umask's.

    Devices and pipes (``/dev/null``, ``/dev/stdout``, a FIFO) are written in place: renaming a
    file over them would replace the device itself.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(str(path), "is a folder, not a file to write")
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
        with os.fdopen(descriptor, "wb" if binary else "w", WRITE_BUFFER,
                       **({} if binary else {"encoding": "utf-8"})) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())  # the content is on disk before the rename makes it visible
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        if error.errno in DISK_FULL:  # the place the user chose to write is full: one line, exit 2
            raise InputError(str(path), f"cannot be written: {error.strerror}; nothing was written") from None
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
