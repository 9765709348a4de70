"""A real headless chromium, installed on first use, that loads a page and reports console messages."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ENSURE_CHROMIUM = Path(__file__).with_name("ensure_chromium.sh")


@dataclass(frozen=True)
class PageLoad:
    dom: str
    console: list[str]  # every console message chromium logged while loading


@pytest.fixture(scope="session")
def chromium() -> str:
    if shutil.which("chromium") is None:
        subprocess.run(["sh", str(ENSURE_CHROMIUM)], check=True)
    path = shutil.which("chromium")
    assert path is not None, "chromium is not installed"
    return path


@pytest.fixture
def load_page(chromium: str, tmp_path: Path) -> Callable[[Path], PageLoad]:
    def load(page: Path) -> PageLoad:
        profile = tmp_path / f"profile-{page.stem}"
        completed = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True)
        console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
        return PageLoad(completed.stdout, console)

    return load
