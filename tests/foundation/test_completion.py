"""Shell completion (typer's): ``--show-completion`` prints the script, ``--install-completion`` installs it, and the
installed script completes commands, their options and option values in a real bash, the command's module
imported only for the line being completed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ARCPOLICY = Path(sys.executable).parent / "arcpolicy"


def environment(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PATH": f"{ARCPOLICY.parent}:{os.environ['PATH']}", "SHELL": "/bin/bash",
            "LANG": "C.UTF-8"}


def in_bash(command: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``command`` typed in bash: typer (through shellingham) names the shell its parent process is, as a user's
    ``arcpolicy --install-completion`` finds it (``; exit`` keeps bash from replacing itself with the command)."""
    return subprocess.run(["bash", "--norc", "-c", f"{command}; exit $?"], capture_output=True, text=True,
                          env=environment(home))


def test_show_completion_prints_the_bash_script(tmp_path: Path) -> None:
    shown = in_bash(f"{ARCPOLICY} --show-completion", tmp_path).stdout
    assert "_ARCPOLICY_COMPLETE=complete_bash" in shown
    assert "complete -o default -F _arcpolicy_completion arcpolicy" in shown


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where ``arcpolicy --install-completion`` ran in bash."""
    if shutil.which("bash") is None:
        pytest.fail("bash is needed for the completion test")
    home = tmp_path_factory.mktemp("home")
    completed = in_bash(f"{ARCPOLICY} --install-completion", home)
    assert completed.returncode == 0, completed.stderr
    assert "completion installed" in completed.stdout
    return home


def complete(home: Path, line: str) -> list[str]:
    """What bash offers for the last word of ``line`` after sourcing ~/.bashrc (as an interactive shell would)."""
    script = (f"source ~/.bashrc\nCOMP_WORDS=({line})\nCOMP_CWORD={len(line.split()) - (0 if line.endswith(' ') else 1)}\n"
              "_arcpolicy_completion arcpolicy\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    completed = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, env=environment(home),
                               check=True)
    return [word for word in completed.stdout.splitlines() if word]


def test_install_completion_writes_a_script_bashrc_sources(installed: Path) -> None:
    assert "arcpolicy" in (installed / ".bashrc").read_text()
    scripts = list((installed / ".bash_completions").iterdir())
    assert [script.name for script in scripts] == ["arcpolicy.sh"]


@pytest.mark.parametrize(("line", "offered"), [
    ("arcpolicy sc", ["scan", "schedule"]),
    ("arcpolicy sandbox ", ["serve", "generate"]),
    ("arcpolicy trend --format ", ["html", "json"]),
    ("arcpolicy scan --fail", ["--fail-on"]),
    ("arcpolicy schedule --metrics-p", ["--metrics-port"]),
])
def test_the_installed_script_completes_commands_options_and_values(installed: Path, line: str,
                                                                     offered: list[str]) -> None:
    assert sorted(complete(installed, line)) == sorted(offered)
