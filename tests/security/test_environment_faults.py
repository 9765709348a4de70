"""The environment failing, as a user meets it: a disk full (a small tmpfs, filled) during scan, plan, apply and
sandbox generate, a SQLite store with damaged pages, PostgreSQL killed during a scan. Each is exit 2 (a path the
user chose) or 4 (a server), one line without SQL or parameters, nothing half-written, the store as it was
(issue 23: 6, 7). Mounting a tmpfs needs root (CI runs as root); elsewhere those tests skip and say why."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.history import HistoryStore
from engine.inventory.generator import write_generated_fleet
from tests.history.conftest import _as_server_user, _free_port
from tests.security.test_state_files import apply_setup  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
POLICIES = str(REPO / "policies")
PAGE = 4096


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``mount(size)``: a new tmpfs of ``size`` bytes, unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True) if shutil.which("mount") else None
        if done is None or done.returncode != 0:
            reason = ("cannot mount a tmpfs to fill (root is needed; CI runs as root): "
                      + (done.stderr.strip() if done is not None else "no mount command"))
            print(reason)
            pytest.skip(reason)
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; the filler file, to delete to make room again."""
    filler = disk / "filler"
    try:
        with filler.open("wb", buffering=0) as out:
            while True:
                out.write(b"\0" * PAGE)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    return filler


def one_error_line(capsys: pytest.CaptureFixture[str], *parts: str) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("arcpolicy: ")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("arcpolicy: error: ") and len(lines[0]) < 600, lines[0]
    for part in parts:
        assert part in lines[0], lines[0]
    assert "INSERT" not in lines[0] and "Traceback" not in lines[0]
    return lines[0]


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    path = tmp_path / "fleet.json"
    write_generated_fleet(path, 20)
    return path


def test_scan_outputs_on_a_full_disk_are_one_line_and_no_file(fleet_file: Path, small_disk, capsys) -> None:
    disk = small_disk(16 * PAGE)
    assert main(["scan", "-i", str(fleet_file), "-p", POLICIES, "-o", str(disk / "states.json"),
                 "-o", str(disk / "states.csv")]) == 2
    one_error_line(capsys, "No space left on device")
    assert os.listdir(disk) == []


def test_plan_writes_its_files_all_or_none(fleet_file: Path, tmp_path: Path, small_disk, capsys) -> None:
    roomy = tmp_path / "roomy"
    assert main(["plan", "-i", str(fleet_file), "-p", POLICIES, "-o", str(roomy / "plan.json"),
                 "--report", str(roomy / "r.html")]) == 0
    plan_size, report_size = (roomy / "plan.json").stat().st_size, (roomy / "r.html").stat().st_size
    assert report_size > 4 * PAGE
    disk = small_disk(-(-plan_size // PAGE) * PAGE + 2 * PAGE)  # room for plan.json, not for the report too
    capsys.readouterr()
    assert main(["plan", "-i", str(fleet_file), "-p", POLICIES, "-o", str(disk / "plan.json"),
                 "--report", str(disk / "r.html")]) == 2
    one_error_line(capsys, "No space left on device")
    assert os.listdir(disk) == []  # no valid-looking plan.json of a command that failed


def test_a_store_on_a_full_disk_keeps_its_scans_and_the_scan_writes_nothing(fleet_file: Path, tmp_path: Path,
                                                                           small_disk, capsys) -> None:
    disk = small_disk(256 * PAGE)
    store = disk / "history.db"
    assert main(["scan", "-i", str(fleet_file), "-p", POLICIES, "--store", str(store),
                 "-o", str(tmp_path / "first.json")]) == 1
    filler = fill(disk)
    capsys.readouterr()
    out = tmp_path / "second.json"
    assert main(["scan", "-i", str(fleet_file), "-p", POLICIES, "--store", str(store), "-o", str(out)]) == 2
    one_error_line(capsys, "--store")
    assert not out.exists()
    filler.unlink()
    with HistoryStore(str(store), create=False) as history:
        assert len(history.scans()) == 1


def test_apply_with_its_journal_on_a_full_disk_writes_nothing(apply_setup, small_disk, capsys) -> None:  # noqa: F811
    running, plan_file, connection = apply_setup
    disk = small_disk(4 * PAGE)
    fill(disk)
    writes_before = running.control.stats()["writes"]
    capsys.readouterr()
    assert main(["apply", str(plan_file), *connection, "--journal", str(disk / "journal.sqlite")]) == 2
    one_error_line(capsys, "journal")
    assert running.control.stats()["writes"] == writes_before


def test_sandbox_generate_on_a_full_disk_leaves_nothing(small_disk, capsys) -> None:
    disk = small_disk(8 * PAGE)
    assert main(["sandbox", "generate", "-n", "50", "-o", str(disk / "fleet.json")]) == 2
    one_error_line(capsys, "No space left on device")
    assert os.listdir(disk) == []


def test_save_to_a_folder_is_one_line(fleet_file: Path, tmp_path: Path, capsys) -> None:
    assert main(["inventory", "-i", str(fleet_file), "--save", f"{tmp_path}/"]) == 2
    one_error_line(capsys, "is a folder")


def test_a_store_with_damaged_pages_is_one_line_for_every_reader(fleet_file: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "history.db"
    for _ in range(2):
        main(["scan", "-i", str(fleet_file), "-p", POLICIES, "--store", str(store), "-o", str(tmp_path / "s.json")])
    with store.open("r+b") as damaged:  # every page but the first (the schema) overwritten in its middle
        for page in range(2, store.stat().st_size // PAGE):
            damaged.seek(page * PAGE + 100)
            damaged.write(b"\xff" * 2000)
    capsys.readouterr()
    for command in (["trend", "--store", str(store)], ["diff", "latest~1", "latest", "--store", str(store)],
                    ["inventory", "--from-store", str(store)],
                    ["whatif", "--store", str(store), "-p", POLICIES]):
        assert main(command) == 2, command
        one_error_line(capsys, "malformed")


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Callable[[], None]]]:
    """A throwaway PostgreSQL server of this test's own (the suite's shared one must live on): its URL, and
    how to kill it (an immediate shutdown: no checkpoint, clients cut off, as a crash)."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        pytest.fail("PostgreSQL is needed to kill one during a scan (scripts/ensure-postgres.sh installs it)")
    bin_dir, directory, port = binaries[-1].parent, Path(tempfile.mkdtemp(prefix="arcpolicy-pg-kill-")), _free_port()
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    data = directory / "data"
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                    "--no-sync"]), check=True, capture_output=True)
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "log"),
                                    "-o", f"-p {port} -k {directory} -h 127.0.0.1 -F", "start"]),
                   check=True, capture_output=True)

    def kill() -> None:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)

    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", kill
    finally:
        kill()
        shutil.rmtree(directory, ignore_errors=True)


def test_postgresql_killed_during_a_scan_is_exit_4_in_one_line(own_postgres, tmp_path: Path) -> None:
    import psycopg

    url, kill = own_postgres
    fleet = tmp_path / "fleet.json"
    write_generated_fleet(fleet, 1500)
    out = tmp_path / "states.json"
    scan = subprocess.Popen([sys.executable, "-m", "engine", "scan", "-i", str(fleet), "-p", POLICIES, "--store", url,
                             "-o", str(out), "--workers", "1"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as watcher:
            while scan.poll() is None:  # killed once the scan's records are being stored
                if watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'INSERT INTO "
                                   "state\\_%'").fetchone()[0]:
                    break
                time.sleep(0.02)
        kill()
        _, err = scan.communicate(timeout=300)
    finally:
        scan.kill()
    lines = err.strip().splitlines()
    assert scan.returncode == 4, err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("arcpolicy: error: the history store ") and len(lines[0]) < 600
    assert "INSERT" not in err and "parameters" not in err
    assert not out.exists()
    assert json.dumps(lines)  # one line, printable
