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
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.spec.compliance import AssignmentSpec, definition_id
from engine.spec.expect import SpecFailure
from engine.spec.fleet import ClusterSpec

FLEET_FILE = "fleet.json"
_PLACEHOLDER = re.compile(r"\{([\w.-]+)\}")


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

    def scan_arguments(self, policies: list[str]) -> list[str]:
        """``--inventory``, ``--policy``, ``--assignment`` and ``--exemption`` for the scenario."""
        argv = ["--inventory", self.snapshot()]
        for policy in policies:
            argv += ["--policy", str(self.resolve(policy))]
        if self.assignments:
            self.write_json("assignments.json", [assignment.to_arm() for assignment in self.assignments.values()])
            argv += ["--assignment", "assignments.json"]
        if self.exemptions:
            self.write_json("exemptions.json", self.exemptions)
            argv += ["--exemption", "exemptions.json"]
        return argv

    def scan(self, policies: list[str]) -> CommandResult:
        """``arcpolicy scan --format json -o scan.json`` of the scenario's fleet; records kept as "scan".

        A scan refused for bad input (status 2) is kept as the last result, for the error steps.
        """
        self.outputs.pop("scan", None)
        store = ["--store", self.store] if self.store else []
        result = self.run(["scan", *self.scan_arguments(policies), "--format", "json", "-o", "scan.json", "--workers", "1",
                           *store])
        if result.status in (0, 1):
            self.read_output("scan", "scan.json")
        return result

    def records(self) -> list[dict[str, Any]]:
        """The records of the last scan (a failure naming the scan's error when it had none)."""
        if "scan" not in self.outputs:
            detail = self.result.describe() if self.result is not None else "no scan has run"
            raise SpecFailure(f"no scan records: {detail}")
        return self.outputs["scan"]["value"]

    def write_scan_config(self, name: str, policies: list[str], rest: str) -> Path:
        """An ``arcpolicy.toml`` whose [scan] reads the scenario's fleet and policies (and whose [store]
        is the scenario's history store), followed by ``rest`` (outputs, schedule ...)."""
        lines = ["[scan]", f"inventory = {json.dumps(self.snapshot())}",
                 f"policies = {json.dumps([str(self.resolve(policy)) for policy in policies])}", "workers = 1", ""]
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

    def plan(self, policies: list[str]) -> CommandResult:
        """``arcpolicy plan`` with both dry-run reports; the plan is kept as "plan"."""
        self.outputs.pop("plan", None)
        result = self.run(["plan", *self.scan_arguments(policies), "-o", "plan.json", "--report", "plan.html",
                           "--markdown", "plan.md", "--workers", "1"])
        if result.status in (0, 1):
            self.read_output("plan", "plan.json")
        return result

    # ---- the sandbox: ARM and Resource Graph ------------------------------------------------
    def start_sandbox(self) -> None:
        """Serve the scenario's fleet over HTTPS (extensions settle at once), for apply and Resource Graph."""
        from engine.sandbox import SandboxOptions, SandboxServer

        if self.sandbox is not None:
            raise SpecFailure("the sandbox is already serving this scenario's fleet")
        options = SandboxOptions(state_dir=self.workdir / "sandbox", fleet=self.workdir / self.snapshot(),
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
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None

    # ---- running arcpolicy ----------------------------------------------------------------
    def run(self, argv: list[str]) -> CommandResult:
        """Run ``arcpolicy ARGV`` in-process in the work directory and keep the result."""
        from engine.cli.main import main  # the CLI imports every command; only load it when a step runs

        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.chdir(self.workdir), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(list(argv))
        self.result = CommandResult(tuple(argv), status, stdout.getvalue(), stderr.getvalue())
        return self.result

    def run_line(self, line: str) -> CommandResult:
        """Run a command line as a user types it: ``arcpolicy inventory --inventory {fleet}``.

        ``{fleet}`` is the scenario's snapshot, ``{sandbox}`` the options that reach its sandbox
        (``--arm-endpoint``, ``--ca-bundle``, ``--credential sandbox``); a relative path that is not in the work directory
        is looked up next to the feature file (so ``policies/flux.rego`` works).
        """
        words = shlex.split(line)
        if words and words[0] == "arcpolicy":
            words = words[1:]
        if self.clusters:
            self.snapshot()  # the fleet as the steps so far describe it, for commands that read fleet.json
        argv: list[str] = []
        for word in words:
            argv += self.connection_arguments() if word == "{sandbox}" else [self._expand(word)]
        return self.run(argv)

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
