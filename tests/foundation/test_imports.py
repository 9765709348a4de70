"""A command imports what it uses: ``--help`` none of the heavy libraries, a scan of a snapshot file neither the
Azure SDK, SQLAlchemy nor networkx (which modules are imported, checked in a fresh interpreter; never a time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("azure", "sqlalchemy", "networkx", "remediation")


def imported_after(arguments: list[str]) -> set[str]:
    """The modules imported by ``arcpolicy ARGUMENTS`` in a new process."""
    program = ("import contextlib, io, json, sys\n"
               "from engine.cli.main import main\n"
               "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
               f"    main({arguments!r})\n"
               "print(json.dumps(sorted(sys.modules)))\n")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO, check=True)
    return set(json.loads(completed.stdout.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted({name for name in modules if name.split(".")[0] in HEAVY})


@pytest.mark.parametrize("arguments", [["--help"], ["--version"], ["scan", "--help"]], ids=" ".join)
def test_help_imports_no_azure_sdk_sqlalchemy_or_networkx(arguments: list[str]) -> None:
    imported = imported_after(arguments)
    assert not heavy(imported), heavy(imported)
    if arguments != ["scan", "--help"]:  # no command module at all
        assert not {"engine.evaluate", "engine.cli.scan_commands", "pydantic"} & imported


def test_a_scan_of_a_snapshot_file_imports_no_azure_sdk_sqlalchemy_or_networkx(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.ndjson"
    fleet.write_text(json.dumps({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/"
                                       "connectedClusters/c1", "type": "Microsoft.Kubernetes/connectedClusters",
                                 "name": "c1", "location": "westeurope", "properties": {}}) + "\n")
    imported = imported_after(["scan", "-i", str(fleet), "-p", str(REPO / "policies"), "-o",
                               str(tmp_path / "out.json")])
    assert (tmp_path / "out.json").exists()
    assert not heavy(imported), heavy(imported)


def test_a_scan_of_azure_policy_definitions_alone_imports_no_rego_engine(tmp_path: Path) -> None:
    """The Rego kind is imported when a scan has Rego files (engine.evaluate.kinds.DeferredKind): a scan of Azure
    Policy definitions alone loads neither the Rego engines nor what their built-ins need (cryptography)."""
    fleet = tmp_path / "fleet.ndjson"
    fleet.write_text(json.dumps({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/"
                                       "connectedClusters/c1", "type": "Microsoft.Kubernetes/connectedClusters",
                                 "name": "c1", "location": "westeurope", "properties": {}}) + "\n")
    azure_only = imported_after(["scan", "-i", str(fleet), "-p", str(REPO / "policies" / "azure"), "-o",
                                 str(tmp_path / "azure.json"), "--fail-on", "never"])
    both = imported_after(["scan", "-i", str(fleet), "-p", str(REPO / "policies"), "-o", str(tmp_path / "both.json"),
                           "--fail-on", "never"])
    assert b'"policyDefinitionId"' in (tmp_path / "azure.json").read_bytes()
    assert not {name for name in azure_only if name.startswith(("engine.rego", "regorus", "regopy", "cryptography"))}
    assert {"engine.rego.kind", "regorus"} <= both
    assert b"rego:" in (tmp_path / "both.json").read_bytes()


def test_a_deferred_kind_names_the_suffixes_its_module_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.evaluate.scan names the Rego kind's suffixes before importing it: they must be the kind's own (a
    file it would not find otherwise), and a module that registers no such kind is an ImportError, not a loop."""
    from engine.evaluate.kinds import KINDS, DeferredKind
    from engine.rego.kind import RegoKind

    assert KINDS["rego"].suffixes == RegoKind.suffixes
    unregistered = DeferredKind("nothing", (".none",), "engine.ids")
    monkeypatch.setitem(KINDS, "nothing", unregistered)
    with pytest.raises(ImportError, match="registers no policy kind"):
        unregistered.load  # noqa: B018
