"""State files that may hold secrets are their owner's only (0600), whatever the umask: the sandbox's
database (vault secrets) and keys, apply's journal, a new history store."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.history.store import HistoryStore
from remediation.apply.journal import Journal
from remediation.apply.models import OpState


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The common umask 022 (files 0644 unless made private)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _database_files(path: Path) -> list[Path]:
    return [candidate for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
            if candidate.exists()]


def test_sandbox_state_and_keys_are_private_and_an_older_open_database_is_tightened(sandbox_factory, tmp_path):
    state = tmp_path / "state"
    running = sandbox_factory(state_dir=state)
    running.control.advance_clock(1)  # a write: the WAL exists
    private = [*_database_files(state / "sandbox.db"), state / "ca-key.pem", state / "server-key.pem"]
    assert len(private) >= 4 and {path.name: _mode(path) for path in private} == {path.name: 0o600 for path in private}
    assert _mode(state / "ca.pem") == 0o644  # the CA certificate is public: clients are given it
    running.server.stop()
    (state / "sandbox.db").chmod(0o644)  # as an older arcpolicy left it
    sandbox_factory(state_dir=state)
    assert _mode(state / "sandbox.db") == 0o600


def test_apply_journal_is_private(tmp_path):
    journal = Journal(tmp_path / "plan.json.journal.sqlite", "sha256:x")
    try:
        journal.record("op-1", OpState.SUCCEEDED, message="done")
        files = _database_files(tmp_path / "plan.json.journal.sqlite")
        assert len(files) >= 2 and all(_mode(path) == 0o600 for path in files)
    finally:
        journal.close()


def test_a_new_history_store_is_private_an_existing_one_keeps_its_mode(tmp_path):
    with HistoryStore(str(tmp_path / "history.db")):
        pass
    assert _mode(tmp_path / "history.db") == 0o600
    shared = tmp_path / "shared.db"
    with HistoryStore(str(shared)):
        pass
    shared.chmod(0o640)  # its owner chose to share it with a group
    with HistoryStore(str(shared), create=False):
        pass
    assert _mode(shared) == 0o640
