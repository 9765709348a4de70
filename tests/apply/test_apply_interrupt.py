"""Ctrl-C (SIGINT) and SIGTERM during ``arcpolicy apply --wait`` (issue 22), on a real process against the sandbox.

The signal comes at a point chosen by a seeded random draw (a number of journaled operations): the process stops
starting operations, lets those in flight settle, writes the result file and the journal, names the exact
``--resume`` command and exits 130 (SIGINT) or 143 (SIGTERM); that command completes the plan with no write
sent twice: the sandbox counts every write request (PUT, PATCH, DELETE and POST), and the interrupted run and
its resume together send exactly what one uninterrupted apply of the same plan sends. A second SIGINT stops the
process at once with the journal intact, and the resume completes from it.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plan.builders import BUILTINS, DEFENDER

from engine.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SANDBOX = {"provisioning_seconds": 1}
PACED = ["--write-limit", "3/3", "--parallel", "4"]  # slow enough to be interrupted midway
UNFINISHED = ("failed", "blocked", "not-attempted", "interrupted", "stale")


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory, sandbox_fleet_file: Path) -> Path:
    """The shipped Rego library and Defender's built-in on the sandbox's fleet: creates (with listKeys() POSTs for
    Defender's workspace key), updates and deletes."""
    path = tmp_path_factory.mktemp("interrupt") / "plan.json"
    assert main(["plan", "-i", str(sandbox_fleet_file), "-p", "builtin:rego", "-p", str(BUILTINS / DEFENDER),
                 "--workers", "1", "-o", str(path)]) == 0
    return path


def connection(running) -> list[str]:
    return ["--arm-endpoint", running.url, "--ca-bundle", str(running.endpoint.ca_bundle), "--credential", "sandbox"]


def writes(running) -> int:
    return running.control.stats()["writes"]


@pytest.fixture(scope="module")
def uninterrupted_writes(plan_file: Path, tmp_path_factory: pytest.TempPathFactory, sandbox_fleet_file: Path) -> int:
    """What one apply of the plan, never interrupted, sends to a fresh sandbox."""
    from engine.sandbox import SandboxOptions, SandboxServer

    directory = tmp_path_factory.mktemp("baseline")
    server = SandboxServer(SandboxOptions(state_dir=directory / "state", fleet=sandbox_fleet_file,
                                          poll_after_seconds=0, **SANDBOX))
    endpoint = server.start()
    try:
        arguments = ["--arm-endpoint", endpoint.url, "--ca-bundle", str(endpoint.ca_bundle), "--credential",
                     "sandbox"]
        assert main(["apply", str(plan_file), *arguments, "--wait", "--journal", str(directory / "journal.sqlite"),
                     "-o", str(directory / "result.json")]) in (0, 1)
        result = json.loads((directory / "result.json").read_text())
        assert not set(result["counts"]) & set(UNFINISHED), result["counts"]
        from engine.sandbox import SandboxControl

        return SandboxControl(endpoint.url, endpoint.ca_bundle).stats()["writes"]
    finally:
        server.stop()


def journaled(journal: Path) -> int:
    """Operations the journal has a row for (0 while it does not exist yet)."""
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as database:
            return database.execute("SELECT count(*) FROM operations").fetchone()[0]
    except sqlite3.OperationalError:  # created, its table not yet
        return 0


def start_apply(plan_file: Path, running, directory: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "engine", "apply", str(plan_file), *connection(running), "--wait", *PACED,
               "--journal", str(directory / "journal.sqlite"), "-o", str(directory / "result.json")]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def signal_after(process: subprocess.Popen[str], journal: Path, operations: int, number: int) -> None:
    """Send ``number`` once the journal holds ``operations`` rows (the apply is midway)."""
    deadline = time.monotonic() + 300
    while journaled(journal) < operations:
        assert process.poll() is None, "the apply ended before it was interrupted"
        assert time.monotonic() < deadline, "the apply made no progress"
        time.sleep(0.05)
    process.send_signal(number)


@pytest.mark.parametrize(("number", "seed", "status"), [(signal.SIGINT, 3, 130), (signal.SIGTERM, 11, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_a_random_point_stops_cleanly_and_resume_writes_nothing_twice(
        plan_file: Path, sandbox_factory, tmp_path: Path, uninterrupted_writes: int, number: int, seed: int,
        status: int) -> None:
    running = sandbox_factory(**SANDBOX)
    operations = len(json.loads(plan_file.read_text())["operations"])
    point = random.Random(seed).randint(2, operations // 2)
    process = start_apply(plan_file, running, tmp_path)
    signal_after(process, tmp_path / "journal.sqlite", point, number)
    out, err = process.communicate(timeout=300)
    name = signal.Signals(number).name
    assert process.returncode == status, err
    assert f"apply: {name}: starting no more operations; those in flight have up to 30s to settle" in err
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["interrupted"] == name and out == ""
    states = [operation["state"] for operation in result["operations"]]
    done = sum(state not in ("interrupted", "not-attempted") for state in states)
    assert f"apply interrupted by {name}: {done} operations done (" in err
    assert f"{states.count('interrupted')} in flight" in err and f"{states.count('not-attempted')} not started" in err
    assert "not-attempted" in states  # it did stop midway
    [command] = [line.removeprefix("resume with: ") for line in err.splitlines() if line.startswith("resume with: ")]
    arguments = shlex.split(command)
    assert arguments[:3] == ["arcpolicy", "apply", str(plan_file)] and arguments[-1] == "--resume"
    interrupted_writes = writes(running)

    assert main(arguments[1:]) in (0, 1)  # the exact command, run as printed
    resumed = json.loads((tmp_path / "result.json").read_text())
    assert resumed.get("interrupted") is None
    assert not set(resumed["counts"]) & set(UNFINISHED), resumed["counts"]
    # the interrupted run and its resume send exactly what one uninterrupted apply sends: nothing twice
    assert 0 < interrupted_writes < writes(running) == uninterrupted_writes


def test_a_second_sigint_stops_at_once_with_the_journal_intact(plan_file: Path, sandbox_factory, tmp_path: Path,
                                                               uninterrupted_writes: int) -> None:
    running = sandbox_factory(**SANDBOX)
    journal = tmp_path / "journal.sqlite"
    process = start_apply(plan_file, running, tmp_path)
    signal_after(process, journal, random.Random(5).randint(2, 10), signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    [line] = [line for line in err.splitlines() if line.startswith("apply: SIGINT again: stopping at once")]
    assert "the journal is intact. Resume with: arcpolicy apply " in line and line.endswith("--resume")
    assert not (tmp_path / "result.json").exists()  # stopped at once: no waiting, no result
    with sqlite3.connect(journal) as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = database.execute("SELECT count(*) FROM operations").fetchone()[0]
    assert rows >= 2
    resume = shlex.split(line.split("Resume with: ", 1)[1])[1:]
    assert main(resume) in (0, 1)
    resumed = json.loads((tmp_path / "result.json").read_text())
    assert not set(resumed["counts"]) & set(UNFINISHED), resumed["counts"]
    # the writes in flight when the process stopped were journaled before they were sent: the resume re-reads
    # them instead of sending them again
    assert writes(running) == uninterrupted_writes

    # applied again, everything in effect: not one write request, not even the listKeys() POSTs for Defender's
    # workspace key (ARM meters them as writes)
    before = writes(running)
    assert main(resume[:-1]) in (0, 1)
    again = json.loads((tmp_path / "result.json").read_text())
    assert again["writes"] == 0 and writes(running) == before
    assert set(again["counts"]) <= {"satisfied", "waiting", "skipped", "deferred"}


def test_resume_without_a_journal_or_after_the_plan_changed_is_an_error(plan_file: Path, sandbox_factory,
                                                                      tmp_path: Path, capsys) -> None:
    running = sandbox_factory(**SANDBOX)
    journal = tmp_path / "journal.sqlite"
    arguments = ["apply", str(plan_file), *connection(running), "--journal", str(journal), "-o",
                 str(tmp_path / "result.json")]
    assert main([*arguments, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arcpolicy: error: --resume: there is no journal at ") and err.count("\n") == 1
    assert not journal.exists() and writes(running) == 0

    assert main([*arguments, "--wave", "0"]) == 1  # a partial run of this plan leaves its journal
    capsys.readouterr()
    changed = json.loads(plan_file.read_text())
    changed["createdAt"] = "2030-01-01T00:00:00Z"  # planned again: another plan
    changed_file = tmp_path / "changed.json"
    changed_file.write_text(json.dumps(changed))
    before = writes(running)
    assert main(["apply", str(changed_file), *arguments[2:], "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume: the plan changed since the apply this journal records" in err and err.count("\n") == 1
    assert writes(running) == before


def test_a_credential_without_a_token_stops_before_the_first_write(plan_file: Path, sandbox_factory,
                                                                   tmp_path: Path, monkeypatch, capsys) -> None:
    """``--credential cli`` with no Azure CLI on the PATH: one line, exit 4, no journal, no result, no write."""
    running = sandbox_factory(**SANDBOX)
    monkeypatch.setenv("PATH", str(tmp_path))
    journal = tmp_path / "journal.sqlite"
    status = main(["apply", str(plan_file), "--arm-endpoint", running.url, "--ca-bundle",
                   str(running.endpoint.ca_bundle), "--credential", "cli", "--journal", str(journal), "-o",
                   str(tmp_path / "result.json")])
    err = capsys.readouterr().err
    assert status == 4 and err.startswith("arcpolicy: error: cannot get an Azure access token") and err.count("\n") == 1
    assert not journal.exists() and not (tmp_path / "result.json").exists()
    stats = running.control.stats()
    assert stats["reads"] == 0 and stats["writes"] == 0  # nothing reached ARM
