"""``arcpolicy sandbox serve`` as its own process, and its bad-input handling."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from engine.cli.main import main
from engine.inventory import load_snapshot


def test_serve_in_a_separate_process_is_read_through_the_cli(sandbox_fleet_file: Path, tmp_path: Path, capsys):
    state_dir = tmp_path / "state"
    server = subprocess.Popen([sys.executable, "-m", "engine", "sandbox", "serve", "--fleet", str(sandbox_fleet_file),
                               "--state-dir", str(state_dir), "--port", "0", "--max-page-size", "50"],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        url = server.stderr.readline().split("serving ", 1)[1].split()[0]
        status = main(["inventory", "--resource-graph", "--arm-endpoint", url, "--ca-bundle",
                       str(state_dir / "ca.pem"), "--credential", "sandbox", "--format", "json"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert status == 0
    assert json.loads(capsys.readouterr().out)["clusters"] == load_snapshot(sandbox_fleet_file).summary().clusters
    assert (state_dir / "sandbox.db").is_file()


def test_bad_serve_options_exit_2_with_one_line(tmp_path: Path, capsys):
    assert main(["sandbox", "serve", "--state-dir", str(tmp_path / "s"), "--throttle", "fast"]) == 2
    assert "--throttle" in capsys.readouterr().err
    assert main(["sandbox", "serve", "--state-dir", str(tmp_path / "empty"), "--port", "0"]) == 2
    assert "--fleet" in capsys.readouterr().err


def test_a_port_in_use_is_one_line_exit_2_and_loads_nothing(sandbox_fleet_file: Path, tmp_path: Path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sandbox", "serve", "--fleet", str(sandbox_fleet_file), "--state-dir", str(tmp_path / "s"),
                     "--port", str(port)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"arcpolicy: error: --port: cannot listen on 127.0.0.1:{port}") and "\n" not in error
    assert not (tmp_path / "s" / "sandbox.db").exists()  # the fleet is not loaded for a server that cannot run


def test_the_printed_hint_is_one_whole_command_in_a_log(sandbox_fleet_file: Path, tmp_path: Path, capsys):
    state_dir = tmp_path / ("a-long-state-directory-name-" * 3) / "state"  # a hint past 140 columns
    server = subprocess.Popen([sys.executable, "-m", "engine", "sandbox", "serve", "--fleet", str(sandbox_fleet_file),
                               "--state-dir", str(state_dir), "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        serving, hint = server.stderr.readline(), server.stderr.readline()
        assert serving.startswith("sandbox: serving ") and serving.rstrip().endswith(str(state_dir))
        assert hint.startswith("sandbox: try  arcpolicy ") and hint.rstrip().endswith("--credential sandbox")
        assert len(hint) > 140
        status = main([*shlex.split(hint.split("try  arcpolicy ", 1)[1]), "--format", "json"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert status == 0 and json.loads(capsys.readouterr().out)["clusters"] > 0


def test_a_state_dir_made_from_one_fleet_refuses_another(sandbox_fleet_file: Path, tmp_path: Path, capsys):
    """Issue 22: ``sandbox serve --fleet B`` on a state directory made from fleet A silently served A."""
    from engine.inventory.generator import write_generated_fleet
    from engine.sandbox import SandboxOptions, SandboxServer

    state_dir = tmp_path / "state"
    other = tmp_path / "other.json"
    write_generated_fleet(other, 3, seed=99)
    first = SandboxServer(SandboxOptions(state_dir=state_dir, fleet=sandbox_fleet_file))
    first.start()
    first.stop()
    assert main(["sandbox", "serve", "--fleet", str(other), "--state-dir", str(state_dir), "--port", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"arcpolicy: error: --fleet: the state directory {state_dir} was made from another "
                            f"fleet ({sandbox_fleet_file}) and keeps serving it") and "\n" not in error
    for fleet in (sandbox_fleet_file, None):  # the same fleet, or none: its state goes on
        again = SandboxServer(SandboxOptions(state_dir=state_dir, fleet=fleet))
        again.start()
        again.stop()
