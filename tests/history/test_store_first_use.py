"""A new store's first uses at once (parallel ``scan --store new.db``) all record their scans, and readers never
create nor upgrade a store (issue 23: 8, 11)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from engine.cli.main import main
from engine.errors import InputError
from engine.history import HistoryStore
from engine.history.schema import MIGRATIONS, applied_version, migrate
from engine.history.urls import database_url
from tests.history.test_trend_lines import record
from tests.output.records import fleet_states

WRITERS = 6


def test_concurrent_first_uses_of_a_new_sqlite_store_all_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def first_use(index: int) -> None:
        start.wait()
        try:
            with HistoryStore(url) as store:
                record(store, f"scan-{index}", index, fleet_states())
        except BaseException as error:
            errors.append(error)

    writers = [threading.Thread(target=first_use, args=(index,)) for index in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not errors, errors
    with HistoryStore(url, create=False) as store:
        assert sorted(scan.scan_id for scan in store.scans()) == [f"scan-{index}" for index in range(WRITERS)]


@pytest.mark.parametrize("command", [["history"], ["trend"], ["diff", "latest~1", "latest"],
                                     ["inventory", "--from-store"]], ids=lambda command: command[0])
def test_read_only_commands_never_create_a_store(tmp_path: Path, command: list[str], capsys) -> None:
    empty = tmp_path / "e.db"
    empty.touch()
    arguments = [*command, str(empty)] if command[-1] == "--from-store" else [*command, "--store", str(empty)]
    assert main(arguments) == 2
    assert "no history store there" in capsys.readouterr().err
    assert empty.stat().st_size == 0


def test_read_only_commands_never_upgrade_a_store(tmp_path: Path, capsys) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(database_url(str(path)))
    with engine.begin() as connection:
        migrate(connection, MIGRATIONS[:2])
    engine.dispose()
    for command in (["history", "--store", str(path)], ["trend", "--store", str(path)]):
        assert main(command) == 2
        assert "reading never upgrades it" in capsys.readouterr().err
    with engine.connect() as connection:
        assert applied_version(connection) == 2
    with pytest.raises(InputError, match="schema is version 2"):
        HistoryStore(str(path), create=False)
    with HistoryStore(str(path)) as store:  # a writer upgrades it
        assert store.schema_version == MIGRATIONS[-1].version
