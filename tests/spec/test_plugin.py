"""The ``arcpolicy`` pytest plugin: active through its entry point, harmless without pytest-bdd."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path


def test_the_plugin_is_registered_as_a_pytest_entry_point() -> None:
    plugins = {entry.name: entry.value for entry in entry_points(group="pytest11")}
    assert plugins.get("arcpolicy") == "engine.spec.plugin"


def test_without_pytest_bdd_the_plugin_registers_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        "def test_no_step_library(request):\n"
        "    manager = request.config.pluginmanager\n"
        "    assert manager.has_plugin('arcpolicy')\n"
        "    assert manager.get_plugin('arcpolicy-spec-steps') is None\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:pytest-bdd", "-p", "no:cacheprovider",
                                str(tmp_path / "test_plain.py"), "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini")],
                               capture_output=True, text=True, check=False, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
