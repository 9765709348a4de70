"""One scenario's world: the fleet it describes, the files it writes, the CLI runs and their results.

Every command runs the real CLI in-process (:func:`engine.cli.main.main`) with the scenario's
work directory as the current directory, so file names in errors read exactly as a user sees
them (``broken.json: line 2 column 1: ...``). Assertions raise :class:`SpecFailure` with a
message that says what was expected, what happened and why.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.errors import InputError
from engine.spec.compliance import AssignmentSpec, definition_id
from engine.spec.expect import SpecFailure
from engine.spec.fleet import RESOURCE_GROUP, SUBSCRIPTION_ID, ClusterSpec
from remediation.plan.io import read_plan

FLEET_FILE = "fleet.json"
SANDBOX_DIR = "sandbox"  # the sandbox's state, in the work directory
_PLACEHOLDER = re.compile(r"\{([\w.-]+)\}")


STORE_VARIABLE = "ARCPOLICY_STORE"


@contextlib.contextmanager
def _without_store_variable() -> Iterator[None]:
    """A scenario records scans only in the store it names: never in the ``ARCPOLICY_STORE`` of the shell or
    CI job running the specs (a policy repository's CI sets it for ``arcpolicy whatif``)."""
    saved = os.environ.pop(STORE_VARIABLE, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[STORE_VARIABLE] = saved


@dataclass(frozen=True)
class CommandResult:
    """What one ``arcpolicy`` run gave: its arguments, exit status and output."""

    argv: tuple[str, ...]
    status: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return "arcpolicy " + shlex.join(self.argv)

    def describe(self) -> str:
        """The run in a few lines, for failure messages."""
        lines = [f"`{self.command}` exited with status {self.status}"]
        for label, text in (("stderr", self.stderr), ("stdout", self.stdout)):
            text = text.strip()
            if text:
                shown = text if len(text) <= 1500 else text[:1500] + " ..."
                lines.append(f"{label}:\n  " + shown.replace("\n", "\n  "))
        return "\n".join(lines)


class SpecWorld:
    """The state one scenario builds up, step by step."""

    def __init__(self, feature_dir: Path, workdir: Path):
        self.feature_dir = feature_dir.resolve()
        self.workdir = workdir
        self.clusters: dict[str, ClusterSpec] = {}
        self.current: ClusterSpec | None = None
        self.inventory: Path | None = None  # a snapshot given as such (generated, written verbatim)
        self.assignments: dict[str, AssignmentSpec] = {}
        self.exemptions: list[dict[str, Any]] = []
        self.result: CommandResult | None = None
        self.outputs: dict[str, Any] = {}  # parsed JSON results by kind: "scan", "plan", "apply" ...
        self.store: str | None = None  # the history store scans are recorded in, when one is given
        self.sandbox: Any = None  # a running engine.sandbox.SandboxServer, once a step starts one
        self.sandbox_endpoint: Any = None
        self.runs: list[CommandResult] = []  # every command of the scenario, for "appears in no output"
        self.inputs: set[Path] = set()  # files the steps wrote (not arcpolicy's outputs)
        self.management_groups: dict[str, list[str]] = {}  # subscription id -> its groups, nearest first
        self.background: subprocess.Popen[bytes] | None = None  # a long-running command (arcpolicy schedule)
        self.background_argv: tuple[str, ...] = ()
        self.background_output: tuple[IO[bytes], IO[bytes]] | None = None  # its stdout and stderr, as files
        self.cleanups: list[Callable[[], None]] = []  # run when the scenario ends (a PostgreSQL schema ...)

    # ---- paths ----------------------------------------------------------------------------
    def resolve(self, relative: str) -> Path:
        """A path named in a step: as is if absolute or in the work directory, else found next to
        the feature file or in one of its parent directories (the policy repository's root)."""
        path = Path(relative)
        if path.is_absolute():
            return path
        if (self.workdir / path).exists():
            return self.workdir / path
        for directory in (self.feature_dir, *self.feature_dir.parents):
            if (directory / path).exists():
                return (directory / path).resolve()
        raise SpecFailure(f'no file "{relative}" next to {self.feature_dir} or in any directory above it')

    def write_file(self, name: str, text: str) -> Path:
        """Write a file into the work directory (a policy, an assignment, a broken snapshot ...)."""
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        self.inputs.add(path)
        return path

    def write_json(self, name: str, document: Any) -> Path:
        return self.write_file(name, json.dumps(document, indent=2))

    # ---- the fleet ------------------------------------------------------------------------
    def add_cluster(self, cluster: ClusterSpec) -> ClusterSpec:
        if cluster.name in self.clusters:
            raise SpecFailure(f'the cluster "{cluster.name}" is described twice')
        self.clusters[cluster.name] = self.current = cluster
        return cluster

    def cluster(self, name: str | None = None) -> ClusterSpec:
        """The named cluster, or the one the previous steps talked about ("it")."""
        if name is None:
            if self.current is None:
                raise SpecFailure('"it" refers to no cluster: describe a cluster first')
            return self.current
        try:
            return self.clusters[name]
        except KeyError:
            raise SpecFailure(f'no cluster "{name}" in this scenario (known: {", ".join(self.clusters) or "none"})') \
                from None

    def cluster_id(self, name: str) -> str:
        return self.cluster(name).id

    def snapshot(self) -> str:
        """The inventory file commands read: the described fleet, written to ``fleet.json``."""
        if self.clusters:
            resources = [resource for cluster in self.clusters.values() for resource in cluster.resources()]
            self.write_json(FLEET_FILE, resources)
            return FLEET_FILE
        if self.inventory is not None:
            return str(self.inventory)
        raise SpecFailure("no fleet: describe a cluster or give a snapshot before running a command")

    # ---- assignments and scans ----------------------------------------------------------
    def assign(self, policy: str, name: str) -> AssignmentSpec:
        """Assign the policy file (definition or initiative) at tenant scope as ``name``."""
        if name in self.assignments:
            raise SpecFailure(f'the assignment "{name}" is made twice')
        self.assignments[name] = AssignmentSpec(name, definition_id(self.resolve(policy)))
        return self.assignments[name]

    def assignment(self, name: str) -> AssignmentSpec:
        try:
            return self.assignments[name]
        except KeyError:
            raise SpecFailure(f'no assignment "{name}" (known: {", ".join(self.assignments) or "none"})') from None

    def scan_arguments(self, policies: list[str], source: list[str] | None = None) -> list[str]:
        """``--inventory`` (or ``source``), ``--policy``, ``--assignment``, ``--exemption`` and
        ``--management-groups`` for the scenario."""
        argv = ["--inventory", self.snapshot()] if source is None else list(source)
        for policy in policies:
            argv += ["--policy", str(self.resolve(policy))]
        if self.assignments:
            self.write_json("assignments.json", [assignment.to_arm() for assignment in self.assignments.values()])
            argv += ["--assignment", "assignments.json"]
        if self.exemptions:
            self.write_json("exemptions.json", self.exemptions)
            argv += ["--exemption", "exemptions.json"]
        if self.management_groups:
            self.write_json("management-groups.json", self.management_groups)
            argv += ["--management-groups", "management-groups.json"]
        return argv

    def scan(self, policies: list[str], source: list[str] | None = None) -> CommandResult:
        """``arcpolicy scan --format json -o scan.json`` of the scenario's fleet (or of ``source``, e.g.
        ``--resource-graph`` and the sandbox's options); records kept as "scan".

        A scan refused for bad input (status 2) is kept as the last result, for the error steps.
        """
        self.outputs.pop("scan", None)
        store = ["--store", self.store] if self.store else []
        result = self.run(["scan", *self.scan_arguments(policies, source), "--format", "json", "-o", "scan.json",
                           "--workers", "1", *store])
        if result.status in (0, 1):
            self.read_output("scan", "scan.json")
        return result

    def records(self) -> list[dict[str, Any]]:
        """The records of the last scan (a failure naming the scan's error when it had none)."""
        if "scan" not in self.outputs:
            detail = self.result.describe() if self.result is not None else "no scan has run"
            raise SpecFailure(f"no scan records: {detail}")
        return self.outputs["scan"]["value"]

    def write_scan_config(self, name: str, policies: list[str], rest: str, sandbox: bool = False) -> Path:
        """An ``arcpolicy.toml`` whose [scan] reads the scenario's fleet (the snapshot, or with ``sandbox``
        Resource Graph on the scenario's sandbox, which remediations then write to), policies and
        assignments (and whose [store] is the scenario's history store), followed by ``rest``."""
        if sandbox:
            self.sandbox_control()  # a clear failure when no sandbox runs
            endpoint = self.sandbox_endpoint
            source = [f"arm_endpoint = {json.dumps(endpoint.url)}",
                      f"ca_bundle = {json.dumps(str(endpoint.ca_bundle))}", 'credential = "sandbox"']
        else:
            source = [f"inventory = {json.dumps(self.snapshot())}"]
        lines = ["[scan]", *source, f"policies = {json.dumps([str(self.resolve(policy)) for policy in policies])}",
                 "workers = 1"]
        assignments = self.scan_arguments([], source=[])
        for option, key in (("--assignment", "assignments"), ("--exemption", "exemptions"),
                            ("--management-groups", "management_group_map")):
            if option in assignments:
                lines.append(f"{key} = {json.dumps(assignments[assignments.index(option) + 1])}")
        lines.append("")
        if self.store:
            lines += ["[store]", f"url = {json.dumps(self.store)}", ""]
        return self.write_file(name, "\n".join(lines) + "\n" + rest)

    def history(self, *argv: str) -> Any:
        """Run a history command (``history``, ``diff ...``) on the scenario's store; its JSON output."""
        if self.store is None:
            raise SpecFailure("no history store: say 'Given scans are recorded in the history store \"...\"'")
        result = self.run([*argv, "--store", self.store, "--format", "json"])
        if result.status not in (0, 1):
            raise SpecFailure(result.describe())
        return self.stdout_json()

    def store_url(self) -> str:
        if self.store is None:
            raise SpecFailure("no history store: say 'Given scans are recorded in the history store \"...\"'")
        return self.store

    def whatif(self, policies: list[str]) -> CommandResult:
        """``arcpolicy whatif`` of the policies (and the scenario's assignments) against the latest stored scan:
        whatif.md for a pull-request comment and whatif.json, kept as "whatif"."""
        self.outputs.pop("whatif", None)
        result = self.run(["whatif", "--store", self.store_url(), *self.scan_arguments(policies, source=[]),
                           "-o", "whatif.md", "-o", "whatif.json"])
        if result.status in (0, 1):
            self.read_output("whatif", "whatif.json")
        return result

    def plan(self, policies: list[str]) -> CommandResult:
        """``arcpolicy plan`` with both dry-run reports; the plan is kept as "plan"."""
        self.outputs.pop("plan", None)
        result = self.run(["plan", *self.scan_arguments(policies), "-o", "plan.json", "--report", "plan.html",
                           "--markdown", "plan.md", "--workers", "1"])
        if result.status in (0, 1):
            self.outputs["plan"] = self.read_plan("plan.json")
        return result

    def read_plan(self, path: str) -> dict[str, Any]:
        """plan.json as the plan reader sees it (every reason spelled out, whatever its layout)."""
        try:
            return read_plan(self.workdir / path).to_json()
        except InputError as error:
            raise SpecFailure(f"{path} is not a readable plan ({error.one_line()})\n{self.last().describe()}") from None

    # ---- the sandbox: ARM and Resource Graph ------------------------------------------------
    def start_sandbox(self) -> None:
        """Serve the scenario's fleet over HTTPS (extensions settle at once), for apply and Resource Graph."""
        from engine.sandbox import SandboxOptions, SandboxServer

        if self.sandbox is not None:
            raise SpecFailure("the sandbox is already serving this scenario's fleet")
        options = SandboxOptions(state_dir=self.workdir / SANDBOX_DIR, fleet=self.workdir / self.snapshot(),
                                 provisioning_seconds=0, poll_after_seconds=0)
        self.sandbox = SandboxServer(options)
        self.sandbox_endpoint = self.sandbox.start()

    def sandbox_control(self) -> Any:
        from engine.sandbox import SandboxControl

        if self.sandbox_endpoint is None:
            raise SpecFailure("no sandbox: start it with 'Given the sandbox serves the fleet'")
        return SandboxControl(self.sandbox_endpoint.url, self.sandbox_endpoint.ca_bundle)

    def connection_arguments(self) -> list[str]:
        """``--arm-endpoint``, ``--ca-bundle`` and ``--credential`` for the scenario's sandbox."""
        self.sandbox_control()
        return ["--arm-endpoint", self.sandbox_endpoint.url, "--ca-bundle", str(self.sandbox_endpoint.ca_bundle),
                "--credential", "sandbox"]

    def connection(self) -> Any:
        """An :class:`engine.azure.connection.ArmConnection` to the scenario's sandbox."""
        from engine.azure.connection import ArmConnection, CredentialKind

        self.sandbox_control()
        return ArmConnection(arm_endpoint=self.sandbox_endpoint.url, ca_bundle=self.sandbox_endpoint.ca_bundle,
                             credential=CredentialKind.sandbox)

    def vault_id(self, vault: str) -> str:
        """The id of a Key Vault of the scenario: in the first cluster's subscription, resource group ``rg-specs``."""
        subscription_id = next(iter(self.clusters.values())).subscription_id if self.clusters else SUBSCRIPTION_ID
        return (f"/subscriptions/{subscription_id}/resourceGroups/{RESOURCE_GROUP}/providers/"
                f"Microsoft.KeyVault/vaults/{vault}")

    def store_vault_secret(self, vault: str, secret: str, value: str) -> None:
        """Create the vault through ARM in the sandbox (if need be) and set the secret through the Key
        Vault ``SecretClient``, as an operator would in Azure."""
        from azure.keyvault.secrets import SecretClient
        from azure.mgmt.resource.resources import ResourceManagementClient

        connection = self.connection()
        vault_id = self.vault_id(vault)
        subscription_id = vault_id.split("/")[2]
        credential = connection.token_credential()
        with ResourceManagementClient(credential, subscription_id, **connection.client_kwargs()) as client:
            client.resource_groups.create_or_update(RESOURCE_GROUP, {"location": "eastus"})
            created = client.resources.begin_create_or_update_by_id(
                vault_id, api_version="2023-07-01", parameters={"location": "eastus", "properties": {
                    "tenantId": "33333333-4444-4555-8666-777777777777", "sku": {"family": "A", "name": "standard"}}}
            ).result()
        with SecretClient(created.properties["vaultUri"], credential, verify_challenge_resource=False,
                          connection_verify=str(self.sandbox_endpoint.ca_bundle)) as secrets:
            secrets.set_secret(secret, value)

    def protected_setting_digests(self, resource_id: str) -> dict[str, str]:
        """``{setting: sha256 of the value last written}`` of an extension in the sandbox (ARM never
        returns protected settings; the sandbox keeps their digests)."""
        from engine.sandbox.protected import protected_setting_digests

        self.sandbox_control()
        sandbox = self.sandbox.sandbox
        with sandbox.store.lock:
            return protected_setting_digests(sandbox, resource_id)

    def expect_secret_nowhere(self, secret: str) -> None:
        """The value is in no command's output and no file arcpolicy wrote (plans, reports, results,
        journals); only the scenario's own input files and the sandbox (Azure: the vault, the
        extension it was written to) may hold it."""
        needle = secret.encode("utf-8")
        azure = self.workdir / SANDBOX_DIR
        found = [f"the {stream} of `{result.command}`" for result in self.runs
                 for stream in ("stdout", "stderr") if secret in getattr(result, stream)]
        found += [str(path.relative_to(self.workdir)) for path in sorted(self.workdir.rglob("*"))
                  if path.is_file() and path not in self.inputs and azure not in path.parents
                  and needle in path.read_bytes()]
        if not self.runs:
            raise SpecFailure("no arcpolicy command has run yet in this scenario")
        if found:
            raise SpecFailure(f'expected the secret "{secret}" to appear nowhere, but it is in: ' + ", ".join(found))

    def apply(self, *options: str) -> CommandResult:
        """``arcpolicy apply plan.json`` against the sandbox; the result is kept as "apply"."""
        self.output("plan")
        self.outputs.pop("apply", None)
        result = self.run(["apply", "plan.json", *self.connection_arguments(), "-o", "apply.json", *options])
        if result.status in (0, 1):
            self.read_output("apply", "apply.json")
        return result

    def close(self) -> None:
        """Stop what the scenario started."""
        if self.background is not None:
            self.background.kill()
            self._finish()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
        while self.cleanups:
            self.cleanups.pop()()

    # ---- running arcpolicy ----------------------------------------------------------------
    def run(self, argv: list[str]) -> CommandResult:
        """Run ``arcpolicy ARGV`` in-process in the work directory and keep the result."""
        from engine.cli.main import main  # the CLI imports every command; only load it when a step runs

        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.chdir(self.workdir), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
                _without_store_variable():
            status = main(list(argv))
        self.result = CommandResult(tuple(argv), status, stdout.getvalue(), stderr.getvalue())
        self.runs.append(self.result)
        return self.result

    def start(self, line: str) -> None:
        """Start a command line (``{fleet}``, ``{sandbox}`` ... expanded) as a child process, in the work
        directory: for commands that run until stopped, such as ``arcpolicy schedule``."""
        if self.background is not None:
            raise SpecFailure("a command is already running in the background: stop it first")
        argv = self.expand_line(line)
        stdout, stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish
        self.background_output = (stdout, stderr)
        self.background = subprocess.Popen([sys.executable, "-c", "from engine.cli.main import run; run()", *argv],
                                           cwd=self.workdir, stdout=stdout, stderr=stderr,
                                           env={key: value for key, value in os.environ.items()
                                                if key != STORE_VARIABLE})
        self.background_argv = tuple(argv)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        """Poll ``condition`` while the background command runs; a failure naming ``what`` on timeout
        or when the command ends first."""
        deadline = time.monotonic() + timeout
        while not condition():
            process = self.background
            if process is not None and process.poll() is not None:
                result = self._finish()
                raise SpecFailure(f"expected {what}, but the command ended first: {result.describe()}")
            if time.monotonic() > deadline:
                raise SpecFailure(f"expected {what} within {timeout:.0f} s, but it did not happen")
            time.sleep(0.1)

    def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 60.0) -> CommandResult:
        """Send the background command a signal and wait for it to exit; its result becomes the last one."""
        process = self.background
        if process is None:
            raise SpecFailure("no command is running in the background: start one first")
        process.send_signal(signal_number)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise SpecFailure(f"expected `arcpolicy {shlex.join(self.background_argv)}` to exit within "
                              f"{timeout:.0f} s of {signal.Signals(signal_number).name}, but it is still running") \
                from None
        return self._finish()

    @staticmethod
    def _read_and_close(file: IO[bytes]) -> str:
        with file:
            file.seek(0)
            return file.read().decode("utf-8", "replace")

    def _finish(self) -> CommandResult:
        process, files = self.background, self.background_output
        assert process is not None and files is not None
        process.wait()
        self.background = self.background_output = None
        stdout, stderr = (self._read_and_close(file) for file in files)
        self.result = CommandResult(self.background_argv, process.returncode, stdout, stderr)
        self.runs.append(self.result)
        return self.result

    def run_line(self, line: str) -> CommandResult:
        """Run a command line as a user types it: ``arcpolicy inventory --inventory {fleet}``.

        ``{fleet}`` is the scenario's snapshot, ``{sandbox}`` the options that reach its sandbox
        (``--arm-endpoint``, ``--ca-bundle``, ``--credential sandbox``); a relative path that is not in the work directory
        is looked up next to the feature file (so ``policies/flux.rego`` works).
        """
        return self.run(self.expand_line(line))

    def expand_line(self, line: str) -> list[str]:
        """The arguments of a command line as a user types it (see :meth:`run_line`)."""
        words = shlex.split(line)
        if words and words[0] == "arcpolicy":
            words = words[1:]
        if self.clusters:
            self.snapshot()  # the fleet as the steps so far describe it, for commands that read fleet.json
        argv: list[str] = []
        for word in words:
            argv += self.connection_arguments() if word == "{sandbox}" else [self._expand(word)]
        return argv

    def _expand(self, word: str) -> str:
        word = _PLACEHOLDER.sub(lambda match: self._placeholder(match.group(1)), word)
        if word.startswith("-") or "/" not in word or (self.workdir / word).exists():
            return word
        try:
            return str(self.resolve(word))
        except SpecFailure:
            return word  # not a file after all (or a file the command is meant not to find)

    def _placeholder(self, name: str) -> str:
        if name == "fleet":
            return self.snapshot()
        if name == "workdir":
            return str(self.workdir)
        raise SpecFailure(f"unknown placeholder {{{name}}} (use {{fleet}}, {{workdir}} or {{sandbox}})")

    def summarise(self, *source: str) -> dict[str, Any]:
        """``arcpolicy inventory SOURCE --format json``; the summary is kept as "inventory"."""
        result = self.run(["inventory", *source, "--format", "json"])
        if result.status != 0:
            raise SpecFailure(result.describe())
        self.outputs["inventory"] = self.stdout_json()
        return self.outputs["inventory"]

    def last(self) -> CommandResult:
        if self.result is None:
            raise SpecFailure("no arcpolicy command has run yet in this scenario")
        return self.result

    def read_output(self, kind: str, path: str) -> Any:
        """Parse a JSON file a command wrote and keep it under ``kind``."""
        try:
            self.outputs[kind] = json.loads((self.workdir / path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SpecFailure(f"{path} is not readable JSON ({error})\n{self.last().describe()}") from None
        return self.outputs[kind]

    def output(self, kind: str) -> Any:
        if kind not in self.outputs:
            raise SpecFailure(f"no {kind} result yet: run the {kind} step first")
        return self.outputs[kind]

    # ---- generic expectations -------------------------------------------------------------
    def expect_status(self, status: int) -> None:
        result = self.last()
        if result.status != status:
            raise SpecFailure(f"expected exit status {status}, but {result.describe()}")

    def expect_error(self, expected: str) -> None:
        """The command failed with exactly this one-line error (and wrote nothing to stdout)."""
        result = self.last()
        actual = result.stderr.strip()
        if actual != expected.strip():
            raise SpecFailure(f"expected the error\n  {expected.strip()}\nbut {result.describe()}")

    def expect_output_contains(self, text: str, stream: str = "stdout") -> None:
        result = self.last()
        if text not in getattr(result, stream):
            raise SpecFailure(f'expected {stream} to contain "{text}", but {result.describe()}')

    def stdout_json(self) -> Any:
        result = self.last()
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise SpecFailure(f"expected JSON on stdout, but {result.describe()}") from None
