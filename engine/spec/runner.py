"""``arcpolicy spec DIR``: run a policy repository's ``.feature`` files with the step library.

A policy team writes only feature files. The runner writes a throw-away test module that binds
every feature under DIR (pytest-bdd's ``scenarios(DIR)``) and a minimal pytest configuration,
then runs pytest in a child process with just pytest-bdd and the arcpolicy plugin loaded, so
the team's repository needs no conftest, no ``pytest.ini`` and no Python at all.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, InputError

BINDING_MODULE = "test_arcpolicy_specs.py"
# pytest exit codes -> arcpolicy exit status: 0 ok, 1 tests failed, 2 interrupted, 3 internal, 4 usage, 5 no tests
_STATUS = {0: EXIT_OK, 1: EXIT_FINDINGS, 2: EXIT_BAD_INPUT, 3: EXIT_INTERNAL, 4: EXIT_BAD_INPUT}


def feature_files(directory: Path) -> list[Path]:
    """The ``.feature`` files under ``directory``; bad input when there is none."""
    if not directory.exists():
        raise InputError(str(directory), "no such directory")
    if directory.is_file():
        if directory.suffix != ".feature":
            raise InputError(str(directory), "expected a directory of .feature files or a .feature file")
        return [directory]
    found = sorted(directory.rglob("*.feature"))
    if not found:
        raise InputError(str(directory), "no .feature files in this directory")
    return found


def pytest_command(target: Path, workdir: Path, pytest_args: list[str]) -> list[str]:
    """The pytest command line that runs the features at ``target``, writing its binding into ``workdir``."""
    (workdir / BINDING_MODULE).write_text(
        "from pytest_bdd import scenarios\n\n"
        f"scenarios({str(target.resolve())!r})\n", encoding="utf-8")
    (workdir / "pytest.ini").write_text("[pytest]\nconsole_output_style = classic\n", encoding="utf-8")
    return [sys.executable, "-m", "pytest", str(workdir / BINDING_MODULE), "-c", str(workdir / "pytest.ini"),
            "--rootdir", str(workdir), "-p", "pytest_bdd.plugin", "-p", "engine.spec.plugin",
            "-p", "engine.spec.report", "-p", "no:cacheprovider", "-q", "--no-header", "-rN", *pytest_args]


def require_spec_dependencies() -> None:
    """``arcpolicy spec`` runs on pytest and pytest-bdd, the ``spec`` extra: bad input (exit 2) without them."""
    missing = [name for name in ("pytest", "pytest_bdd") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError("arcpolicy spec", f"needs {' and '.join(name.replace('_', '-') for name in missing)}, "
                                           "the spec extra: pip install 'arcpolicy[spec]'")


def run_specs(target: Path, pytest_args: list[str] | None = None) -> tuple[int, str]:
    """Run every scenario under ``target``; returns (arcpolicy exit status, pytest's report)."""
    require_spec_dependencies()
    feature_files(target)
    with tempfile.TemporaryDirectory(prefix="arcpolicy-spec-") as scratch:
        command = pytest_command(target, Path(scratch), list(pytest_args or ()))
        # Only pytest-bdd and the arcpolicy plugin: the run does not depend on what else is installed.
        environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        completed = subprocess.run(command, cwd=target if target.is_dir() else target.parent, env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if completed.returncode == 5:
        raise InputError(str(target), "the feature files define no scenarios")
    return _STATUS.get(completed.returncode, EXIT_INTERNAL), completed.stdout
