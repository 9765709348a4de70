"""The README is tested as written: every command of its ``sh`` blocks runs here and must behave as documented.

Commands run from a working directory laid out like the repository (``examples/`` and ``policies/``), with
the user's own files the README presumes (``fleet.json``) provided. The only
substitutions are the ones the README names: the sandbox's port (8443 -> a free port) and state directory
(``/tmp/sbx``), the ``/var/run/arcpolicy`` paths and the metrics port (9464 -> a free port) of the config example, and for the "against Azure" lines
the connection taken from ``ARCPOLICY_ARM_ENDPOINT``/``ARCPOLICY_CA_BUNDLE``/``ARCPOLICY_CREDENTIAL``
(pointing at the sandbox). ``arcpolicy`` commands run in-process through ``engine.cli.main.main`` (the
console script's body) unless they are long-running (``&``, ``schedule`` without ``--once``), which run as
the installed ``arcpolicy`` script. A new command in the README fails
:func:`test_every_readme_command_is_run_here` until a test here runs it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from foundation.test_packaging import dry_run_of_make
from history.test_readme_whatif import readme_commands as whatif_commands

from engine.cli.main import main
from engine.history import HistoryStore
from engine.inventory import load_snapshot
from remediation.plan.io import plan_fingerprint, read_plan

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
ARCPOLICY = Path(sys.executable).parent / "arcpolicy"
COMMAND_LANGUAGES = {"sh"}
OTHER_LANGUAGES = {"text", "toml", "yaml", "ini", "gherkin"}  # configuration and specs, not commands
DEMO_CLUSTERS = 40


def fenced_blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced block of the README."""
    return re.findall(r"^```([\w-]*)\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def canonical(line: str) -> str:
    """A command as its shell words (comments and line continuations gone), quoted back to one line."""
    return " ".join(word if word == "&" else shlex.quote(word) for word in shlex.split(line, comments=True))


def readme_commands() -> list[str]:
    commands = []
    for language, body in fenced_blocks():
        if language in COMMAND_LANGUAGES:
            joined = re.sub(r"\\\n\s*", " ", body)
            commands += [canonical(line) for line in joined.splitlines() if canonical(line)]
    return commands


def readme_block(language: str) -> str:
    [body] = [body for found, body in fenced_blocks() if found == language]
    return body


# Every README command, grouped by the test that runs it (in the README's order).
QUICKSTART = ["make demo", "make test"]
SANDBOX = [
    "arcpolicy sandbox serve --fleet examples/demo-fleet.json --state-dir /tmp/sbx --port 8443 "
    "--provisioning-seconds 5 &",
    "arcpolicy inventory --resource-graph --arm-endpoint https://127.0.0.1:8443 --ca-bundle /tmp/sbx/ca.pem "
    "--credential sandbox --save pulled.json",
    "arcpolicy plan --resource-graph --arm-endpoint https://127.0.0.1:8443 --ca-bundle /tmp/sbx/ca.pem "
    "--credential sandbox -p builtin: -o plan.json --report plan.html",
    "arcpolicy apply plan.json --arm-endpoint https://127.0.0.1:8443 --ca-bundle /tmp/sbx/ca.pem "
    "--credential sandbox --policy builtin: --wait -o result.json",
    "arcpolicy apply plan.json --secrets examples/assignments.json -o result.json",
    "arcpolicy apply plan.json --resume -o result.json",
]
EXPORT = ["arcpolicy plan -i fleet.json -p builtin: -o plan.json --export arm export-arm",
          "arcpolicy export plan.json --format terraform -o export-tf"]
SCAN = ["arcpolicy scan -i examples/demo-fleet.json -p policies/ -a examples/assignments.json "
        "-e examples/exemptions.json -o states.json"]
SCHEDULE = [
    "arcpolicy schedule --config arcpolicy.toml",
    "arcpolicy schedule --config arcpolicy.toml --cron '0 */6 * * *' --jitter 5m --health-file health.json",
    "arcpolicy schedule --config arcpolicy.toml --once",
    "arcpolicy schedule --config arcpolicy.toml --remediate",
]
SPEC = ["arcpolicy spec examples/policy-repo", "arcpolicy spec --steps"]
SHARDS = [
    *(f"arcpolicy scan -i examples/demo-fleet.json -p builtin: --store shards.db --fail-on never --shard {index}/3 "
      "--scan-group run-1" for index in (0, 1)),
    "arcpolicy history --store shards.db",
    "arcpolicy scan -i examples/demo-fleet.json -p builtin: --store shards.db --fail-on never --shard 2/3 "
    "--scan-group run-1",
    "arcpolicy history --store shards.db --format json",
]
RUN_HERE = [*QUICKSTART, *SANDBOX, *EXPORT, *SCAN, *SCHEDULE, *SPEC, *SHARDS]


def run_elsewhere() -> list[str]:
    """README commands another test runs as written: the "Inventory history and what-if" block."""
    return [canonical(command) for command in whatif_commands()]


def test_every_readme_command_is_run_here():
    commands = readme_commands()
    missing = [command for command in commands if command not in RUN_HERE + run_elsewhere()]
    assert not missing, f"README commands no test in tests/test_readme.py runs (add them there): {missing}"
    stale = [command for command in RUN_HERE if command not in commands]
    assert not stale, f"tests/test_readme.py runs commands the README no longer shows: {stale}"


def test_every_fenced_block_is_commands_or_named_configuration():
    languages = {language for language, _ in fenced_blocks()}
    assert languages <= COMMAND_LANGUAGES | OTHER_LANGUAGES, (
        f"fenced blocks must be sh (commands, run by this test) or one of {sorted(OTHER_LANGUAGES)}: {languages}")



def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Workspace:
    """The README's working directory, and its commands run there as written (with the named substitutions)."""

    def __init__(self, directory: Path, capsys: pytest.CaptureFixture[str]):
        self.directory = directory
        self.capsys = capsys
        self.substitutions: dict[str, str] = {}
        self.processes: list[subprocess.Popen[str]] = []

    def words(self, command: str) -> list[str]:
        assert command in readme_commands(), f"not a README command: {command}"
        words = [word for word in shlex.split(command) if word != "&"]
        for old, new in self.substitutions.items():
            words = [word.replace(old, new) for word in words]
        return words

    def run(self, command: str) -> tuple[int, str, str]:
        """Run an ``arcpolicy`` command in-process: (exit status, stdout, stderr)."""
        words = self.words(command)
        assert words[0] == "arcpolicy"
        status = main(words[1:])
        captured = self.capsys.readouterr()
        return status, captured.out, captured.err

    def start(self, command: str, log: str) -> subprocess.Popen[str]:
        """Start a long-running command as the installed ``arcpolicy`` script, stderr to ``log``."""
        words = self.words(command)
        with open(self.directory / log, "w") as errors:
            process = subprocess.Popen([str(ARCPOLICY), *words[1:]], cwd=self.directory, text=True,
                                       stdout=subprocess.DEVNULL, stderr=errors)
        self.processes.append(process)
        return process

    def read_json(self, name: str) -> dict:
        return json.loads((self.directory / name).read_text())

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workspace(tmp_path: Path, capsys, monkeypatch) -> Iterator[Workspace]:
    """A directory laid out like the repository, holding the files the README presumes the user has."""
    for name in ("examples", "policies"):
        (tmp_path / name).symlink_to(REPO / name)
    shutil.copy(REPO / "examples" / "demo-fleet.json", tmp_path / "fleet.json")
    monkeypatch.chdir(tmp_path)
    for variable in ("ARCPOLICY_STORE", "ARCPOLICY_ARM_ENDPOINT", "ARCPOLICY_CA_BUNDLE", "ARCPOLICY_CREDENTIAL"):
        monkeypatch.delenv(variable, raising=False)
    space = Workspace(tmp_path, capsys)
    yield space
    space.stop_all()


def wait_for(condition: Callable[[], object], what: str, process: subprocess.Popen[str] | None = None) -> object:
    """Poll ``condition`` until it is truthy (the deadline only bounds a broken run)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process is not None:
            assert process.poll() is None, f"the process ended early ({process.returncode}) waiting for {what}"
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}")


def test_quickstart_make_demo_runs_the_pipeline_and_make_test_is_the_whole_suite():
    as_typed = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    demo = subprocess.run(shlex.split(QUICKSTART[0]), cwd=REPO, env=as_typed, capture_output=True, text=True,
                          timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    for step in ("== inventory", "== scan 1", "== plan the remediation", "== apply the plan", "== scan 2",
                 "== what changed", "== the compliance trend"):
        assert step in demo.stdout
    assert f"the compliance trend: {(REPO / 'out' / 'trend.html').as_uri()}" in demo.stdout
    with HistoryStore(str(REPO / "out" / "history.db"), create=False) as history:
        before, after = history.scans()[1], history.scans()[0]
        assert after.non_compliant < before.non_compliant  # the applied plan fixed something
    # `make test` runs this very suite, so here its recipe is checked (CI's .ci/run runs it for real)
    recipe = dry_run_of_make(shlex.split(QUICKSTART[1])[1])
    assert '-m pip install --quiet -e ".[test]"' in recipe and "ruff check ." in recipe
    assert "tests/report/ensure_chromium.sh" in recipe and "scripts/ensure-postgres.sh" in recipe
    assert re.search(r"python -m pytest -n \S+ -q(;|$)", recipe, re.MULTILINE)
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def test_sandbox_inventory_plan_and_apply_as_the_readme_shows(workspace: Workspace, monkeypatch):
    serve, inventory, plan, apply_wait, apply_azure, resume = SANDBOX
    port = str(free_port())
    workspace.substitutions = {"8443": port, "/tmp/sbx": str(workspace.directory / "sbx")}
    server = workspace.start(serve, "serve.log")
    log = workspace.directory / "serve.log"
    hint = wait_for(lambda: next((line for line in log.read_text().splitlines() if "sandbox: try" in line), None),
                    "the sandbox's hint", server)
    assert f"--arm-endpoint https://127.0.0.1:{port} --ca-bundle {workspace.directory / 'sbx' / 'ca.pem'}" in hint

    status, out, _ = workspace.run(inventory)
    assert status == 0 and f"Fleet: {DEMO_CLUSTERS} clusters" in out
    assert load_snapshot(workspace.directory / "pulled.json").summary().clusters == DEMO_CLUSTERS

    status, _, err = workspace.run(plan)
    planned = workspace.read_json("plan.json")
    assert status == 0 and planned["operations"] and not planned["conflicts"], err
    assert (workspace.directory / "plan.html").read_text().startswith("<!DOCTYPE html>")

    status, _, err = workspace.run(apply_wait)
    result = workspace.read_json("result.json")
    assert status == 0, err
    assert result["writes"] > 0 and set(result["counts"]) <= {"succeeded", "waiting"}, result["counts"]
    assert re.search(r"^apply: \d+/\d+ done", err, re.MULTILINE), err  # progress off a terminal

    # the "against Azure" line, its connection from the environment (the sandbox here)
    monkeypatch.setenv("ARCPOLICY_ARM_ENDPOINT", f"https://127.0.0.1:{port}")
    monkeypatch.setenv("ARCPOLICY_CA_BUNDLE", str(workspace.directory / "sbx" / "ca.pem"))
    monkeypatch.setenv("ARCPOLICY_CREDENTIAL", "sandbox")
    status, _, err = workspace.run(apply_azure)
    again = workspace.read_json("result.json")
    assert status == 0, err
    assert set(again["counts"]) <= {"satisfied", "waiting"}, again["counts"]  # everything already in effect
    assert again["writes"] == 0, again["counts"]  # the README: a second apply writes nothing
    first_states = {operation["id"]: operation["state"] for operation in result["operations"]}
    assert all(operation["state"] == "satisfied" for operation in again["operations"]
               if first_states[operation["id"]] == "succeeded")  # what the first apply wrote is in effect

    status, _, err = workspace.run(resume)
    resumed = workspace.read_json("result.json")
    assert status == 0 and resumed["writes"] == 0, err  # the journal says it is all done
    assert resumed["counts"] == again["counts"]


def test_plan_exported_as_code_as_the_readme_shows(workspace: Workspace):
    plan_export, export = EXPORT
    status, out, err = workspace.run(plan_export)
    assert status == 0, err
    assert out == "" and "export: arm" in err and "export-arm" in err  # the summary goes to the terminal
    manifest = workspace.read_json("export-arm/manifest.json")
    assert manifest["planFingerprint"] == plan_fingerprint(read_plan(workspace.directory / "plan.json"))
    for step in manifest["steps"]:
        if step["kind"] == "deployment":
            template = workspace.read_json(f"export-arm/{step['template']}")
            assert template["$schema"].endswith("deploymentTemplate.json#")
    assert "az deployment group create" in (workspace.directory / "export-arm" / "deploy.sh").read_text()
    assert "## Not in any template" in (workspace.directory / "export-arm" / "README.md").read_text()
    status, out, err = workspace.run(export)  # the plan's inventorySource (fleet.json) gives updates' targets
    assert status == 0, err
    terraform = workspace.read_json("export-tf/manifest.json")
    assert terraform["planFingerprint"] == manifest["planFingerprint"]
    assert [step["kind"] for step in terraform["steps"] if step["kind"] == "delete"] == [
        step["kind"] for step in manifest["steps"] if step["kind"] == "delete"]
    assert sorted((workspace.directory / "export-tf" / "terraform").glob("*/main.tf"))


def test_scan_with_assignments_and_exemptions_as_the_readme_shows(workspace: Workspace):
    [scan] = SCAN
    status, out, err = workspace.run(scan)
    assert status == 1 and out == ""  # non-compliant records; the summary goes to the terminal
    records = workspace.read_json("states.json")["value"]
    by_assignment: dict[str, set[str]] = {}
    for record in records:
        by_assignment.setdefault(record["policyAssignmentName"], set()).add(record["complianceState"])
    assert set(by_assignment) == {"monitoring-required", "defender-required", "flux-auto-upgrade", "pinned-versions"}
    assert "Exempt" in by_assignment["monitoring-required"] and "NonCompliant" in by_assignment["pinned-versions"]
    assert re.search(r"^scan \S+: wrote states\.json$", err, re.MULTILINE), err


def write_readme_config(workspace: Workspace) -> None:
    """The README's arcpolicy.toml, its /var/run/arcpolicy paths under the working directory and its metrics port
    a free one."""
    text = readme_block("toml").replace("/var/run/arcpolicy/", f"{workspace.directory / 'run'}/")
    assert "metrics_port = 9464" in text
    text = text.replace("metrics_port = 9464", f"metrics_port = {free_port()}")
    (workspace.directory / "arcpolicy.toml").write_text(text)


def started_and_waiting(workspace: Workspace, command: str, health: Path) -> tuple[dict, str]:
    """Start a resident scheduler, wait until it waits for its first slot, SIGTERM it: (health, stderr)."""
    process = workspace.start(command, "schedule.log")
    waiting = wait_for(lambda: health.exists() and json.loads(health.read_text())["state"] == "waiting"
                       and json.loads(health.read_text()), f"{health} saying waiting", process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert json.loads(health.read_text())["state"] == "stopped"
    return waiting, (workspace.directory / "schedule.log").read_text()


def test_schedule_commands_as_the_readme_shows(workspace: Workspace):
    from_file, with_options, once, remediate = SCHEDULE
    write_readme_config(workspace)
    run_dir = workspace.directory / "run"

    waiting, log = started_and_waiting(workspace, from_file, run_dir / "health.json")
    slot = datetime.fromisoformat(waiting["next_run"])
    assert slot.hour % 6 == 0 and slot.minute < 5  # "0 */6 * * *" plus up to 5 minutes of jitter
    started = [json.loads(line) for line in log.splitlines() if '"scheduler started' in line]
    assert started and "next run at" in started[0]["message"]

    waiting, _ = started_and_waiting(workspace, with_options, workspace.directory / "health.json")
    assert datetime.fromisoformat(waiting["next_run"]).hour % 6 == 0

    status, _, err = workspace.run(once)
    assert status == 1, err  # the demo fleet has non-compliant clusters
    assert (workspace.directory / "out" / "results.xml").read_text().startswith("<?xml")
    health = json.loads((run_dir / "health.json").read_text())
    assert health["runs"] == 1 and health["state"] == "stopped"
    with HistoryStore(str(workspace.directory / "history.db"), create=False) as history:
        assert [scan.scan_id for scan in history.scans()] == [health["last_scan_id"]]

    waiting, _ = started_and_waiting(workspace, remediate, run_dir / "health.json")
    assert waiting["next_run"]


def test_spec_commands_as_the_readme_shows(workspace: Workspace):
    run_specs, list_steps = SPEC
    status, out, _ = workspace.run(run_specs)
    assert status == 0 and re.search(r"^ok +features/", out, re.MULTILINE) and "FAIL" not in out, out
    status, out, _ = workspace.run(list_steps)
    assert status == 0 and 'Given a connected cluster "{name}"' in out.replace("'", '"'), out[:2000]



def test_sharded_scan_as_the_readme_shows(workspace: Workspace, monkeypatch: pytest.MonkeyPatch):
    first, second, history, third, listed = SHARDS
    monkeypatch.setenv("COLUMNS", "300")  # the history table unwrapped
    for shard in (first, second):
        status, _, err = workspace.run(shard)
        assert status == 0, err
    status, out, err = workspace.run(history)
    assert status == 0 and "incomplete: 2 of 3 shards" in out, out + err
    status, _, err = workspace.run(third)
    assert status == 0, err
    status, out, _ = workspace.run(listed)
    [scan] = json.loads(out)["value"]
    assert scan["scanId"] == "run-1" and scan["complete"] and scan["shardsRecorded"] == scan["shardCount"] == 3
    with HistoryStore(str(workspace.directory / "shards.db"), create=False) as store:
        assert scan["total"] == len(store.states("run-1")) > 0
