"""State files are never followed through a symbolic link, and a file there that arcpolicy did not make is refused
(exit 2, one line), never written into or chmodded: apply's journal, the history store, the sandbox's state, the
scheduler's lock and health files."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import InputError
from engine.history.store import HistoryStore
from engine.sandbox.store import Store
from engine.scheduler import Scheduler
from remediation.apply.journal import Journal
from tests.apply.test_apply_sandbox import _connected_amd64_without_policy, _one_cluster_plan, _save

VICTIM = "a file the user keeps, not arcpolicy's\n"


def _victim(folder: Path) -> Path:
    victim = folder / "victim.txt"
    victim.write_text(VICTIM)
    victim.chmod(0o644)
    return victim


def _unchanged(victim: Path) -> bool:
    return victim.read_text() == VICTIM and stat.S_IMODE(victim.stat().st_mode) == 0o644


def _one_error_line(capsys, *naming: str) -> str:
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("arcpolicy: error: "), captured.err
    assert all(text in captured.err for text in naming), captured.err
    return captured.err


def _store_with_a_scan(path: Path, sandbox_fleet_file: Path) -> None:
    assert main(["scan", "-i", str(sandbox_fleet_file), "-p", "policies/azure", "--workers", "1",
                 "--store", str(path)]) in (0, 1)


@pytest.fixture
def apply_setup(sandbox_factory, tmp_path):
    running = sandbox_factory(provisioning_seconds=0)
    _, plan = _one_cluster_plan(running, _connected_amd64_without_policy)
    plan_file = _save(plan, tmp_path)
    connection = ["--arm-endpoint", running.url, "--ca-bundle", str(running.endpoint.ca_bundle),
                  "--credential", "sandbox"]
    return running, plan_file, connection


def test_apply_never_follows_a_link_at_the_journal_path(apply_setup, tmp_path, capsys, sandbox_fleet_file):
    running, plan_file, connection = apply_setup
    victim = _victim(tmp_path)
    journal = tmp_path / "plan.json.journal.sqlite"
    journal.symlink_to("victim.txt")
    requests_before = running.control.stats()["requests"]
    capsys.readouterr()
    assert main(["apply", str(plan_file), *connection]) == 2
    _one_error_line(capsys, str(journal), "symbolic link", "(--journal)")
    assert _unchanged(victim) and journal.is_symlink()
    # a link to the history store: the store keeps its tables and its mode
    history = tmp_path / "history.db"
    _store_with_a_scan(history, sandbox_fleet_file)
    history.chmod(0o640)
    tables = _tables(history)
    capsys.readouterr()
    journal.unlink()
    journal.symlink_to("history.db")
    assert main(["apply", str(plan_file), *connection, "--resume"]) == 2
    _one_error_line(capsys, "symbolic link")
    assert _tables(history) == tables and "operations" not in tables and stat.S_IMODE(history.stat().st_mode) == 0o640
    # the history store named as the journal itself: not a journal, left as it was
    assert main(["apply", str(plan_file), *connection, "--journal", str(history)]) == 2
    _one_error_line(capsys, str(history), "not arcpolicy's apply journal", "its tables: ", "(--journal)")
    assert _tables(history) == tables and stat.S_IMODE(history.stat().st_mode) == 0o640
    assert running.control.stats()["requests"] == requests_before + 1  # only this stats request reached it


def test_a_journal_file_that_is_not_sqlite_is_refused_and_keeps_its_mode(apply_setup, tmp_path, capsys):
    _, plan_file, connection = apply_setup
    victim = _victim(tmp_path)
    capsys.readouterr()
    assert main(["apply", str(plan_file), *connection, "--journal", str(victim)]) == 2
    _one_error_line(capsys, str(victim), "not a SQLite database")
    assert _unchanged(victim)


def test_an_existing_journal_arcpolicy_wrote_is_resumed_and_tightened(tmp_path):
    path = tmp_path / "journal.sqlite"
    Journal(path, "sha256:x").close()
    path.chmod(0o644)  # as an older arcpolicy left it
    journal = Journal(path, "sha256:x")
    journal.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_link_beside_a_journal_is_refused(tmp_path):
    victim = _victim(tmp_path)
    (tmp_path / "journal.sqlite-wal").symlink_to(victim)
    with pytest.raises(InputError, match=r"journal\.sqlite-wal: is not a regular file"):
        Journal(tmp_path / "journal.sqlite", "sha256:x")
    assert _unchanged(victim) and not (tmp_path / "journal.sqlite").exists()


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_history_store_is_never_a_link_nor_another_programs_database(sandbox_fleet_file, tmp_path, capsys):
    victim = _victim(tmp_path)
    linked = tmp_path / "linked.db"
    linked.symlink_to(victim)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE contacts (name TEXT)")
    other.chmod(0o644)
    journal = tmp_path / "plan.json.journal.sqlite"
    Journal(journal, "sha256:x").close()
    capsys.readouterr()
    for store, naming in ((linked, "symbolic link"), (other, "its tables: contacts"),
                          (journal, "its tables: operations"), (victim, "not a SQLite database")):
        assert main(["scan", "-i", str(sandbox_fleet_file), "-p", "policies/azure", "--workers", "1",
                     "-o", str(tmp_path / "out.json"), "--store", str(store)]) == 2
        _one_error_line(capsys, str(store), naming, "(--store)")
        assert not (tmp_path / "out.json").exists()
    assert _unchanged(victim) and _tables(other) == {"contacts"} and stat.S_IMODE(other.stat().st_mode) == 0o644
    assert _tables(journal) == {"operations"}


def test_a_new_store_is_made_by_arcpolicy_and_reopened(tmp_path):
    path = tmp_path / "history.db"
    with HistoryStore(str(path)):
        pass
    with HistoryStore(str(path)) as store:
        assert store.count_scans() == 0
    empty = tmp_path / "empty.db"
    empty.touch()  # an empty file holds nothing to lose: a writer makes it a store
    with HistoryStore(str(empty)):
        pass
    assert {"schema_migrations", "scans"} <= _tables(empty)


def test_the_sandbox_state_is_never_a_link(tmp_path):
    victim = _victim(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / "sandbox.db").symlink_to(victim)
    with pytest.raises(InputError, match=r"sandbox\.db: is a symbolic link.*--state-dir"):
        Store(state)
    (state / "sandbox.db").unlink()
    journal = state / "sandbox.db"
    Journal(journal, "sha256:x").close()  # a journal is no sandbox state, though it has an operations table
    with pytest.raises(InputError, match="not arcpolicy's sandbox state"):
        Store(state)
    assert _unchanged(victim)


def test_the_scheduler_lock_and_health_files_are_never_links_nor_other_files(tmp_path):
    victim = _victim(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(victim)
    for option in ("lock_file", "health_file"):
        with pytest.raises(InputError, match=f"link: is a symbolic link.*--{option.replace('_', '-')}"):
            Scheduler(lambda scan_id: None, None, **{option: link})
        with pytest.raises(InputError, match=f"victim.txt: not arcpolicy's scheduler.*--{option.replace('_', '-')}"):
            Scheduler(lambda scan_id: None, None, **{option: victim})
    assert _unchanged(victim)
    lock, health = tmp_path / "run" / "scan.lock", tmp_path / "health.json"
    scheduler = Scheduler(lambda scan_id: scan_id, None, lock_file=lock, health_file=health)
    scheduler.run_now()
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600 and lock.stat().st_size == 0
    Scheduler(lambda scan_id: scan_id, None, lock_file=lock, health_file=health).run_now()  # its own files: reused
