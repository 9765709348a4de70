"""``make test`` stops the PostgreSQL server it started, and only that one (issue 22).

``scripts/ensure-postgres.sh`` runs here with stand-ins for Debian's cluster tools on the PATH (``pg_lsclusters``,
``pg_ctlcluster``, ``runuser``, ``id``): stopping the real server would pull it from under the other test workers
that use it, so the stand-ins record what the script asks for instead. The Makefile's test recipe is checked to
stop what the script says it started.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure-postgres.sh"


def stand_ins(directory: Path, status: str) -> Path:
    """Commands that answer as a Debian cluster 16/main on port 5433 in ``status`` would, logging their calls."""
    calls = directory / "calls.log"
    scripts = {
        "pg_lsclusters": f"echo '16 main 5433 {status} postgres /var/lib/postgresql/16/main log'",
        "pg_ctlcluster": f'echo "pg_ctlcluster $*" >> {calls}',
        "runuser": "cat > /dev/null; exit 0",  # pg_isready and psql as postgres: the role and database exist
        "id": "echo 0",
    }
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return calls


def run(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(SCRIPT), *arguments], env=environment, capture_output=True, text=True,
                          timeout=60, check=True)


@pytest.mark.parametrize(("status", "stopped"), [("down", True), ("online", False)])
def test_the_server_the_run_started_is_stopped_and_only_that_one(tmp_path: Path, status: str, stopped: bool):
    calls = stand_ins(tmp_path, status)
    marker = tmp_path / "started"
    marker.touch()
    printed = run(tmp_path, "--started", str(marker))
    assert printed.stdout.strip() == "postgresql+psycopg://arcpolicy:arcpolicy@127.0.0.1:5433/arcpolicy_test"
    run(tmp_path, "--stop", str(marker))
    log = calls.read_text().splitlines() if calls.exists() else []
    if stopped:
        assert log == ["pg_ctlcluster 16 main start", "pg_ctlcluster 16 main stop"]
    else:
        assert log == []  # it was running: left alone


def test_make_test_stops_what_the_script_started() -> None:
    recipe = (REPO / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/ensure-postgres.sh --started $$started" in recipe
    assert "scripts/ensure-postgres.sh --stop $$started" in recipe.split("pytest", 1)[1]  # after the tests
    assert "exit $$status" in recipe  # the tests' status, not the stop's
