"""Shared fixtures: a generated fleet and running sandboxes (real HTTPS, real Azure SDK clients)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.azure import ArmConnection, CredentialKind
from engine.inventory.generator import write_generated_fleet
from engine.sandbox import SandboxControl, SandboxEndpoint, SandboxOptions, SandboxServer
from engine.secret_values import forget_all

SANDBOX_FLEET_CLUSTERS = 30


@pytest.fixture(autouse=True)
def no_remembered_secrets() -> Iterator[None]:
    """Each test starts with no secret values remembered (engine.secret_values is process-wide, as the CLI
    forgets them per command): a value one test remembers never masks another test's output."""
    forget_all()
    yield
    forget_all()


@dataclass
class RunningSandbox:
    """A sandbox serving in this process: its endpoint, control client and a connection to it."""

    server: SandboxServer
    endpoint: SandboxEndpoint
    fleet_file: Path
    state_dir: Path

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def control(self) -> SandboxControl:
        return SandboxControl(self.endpoint.url, self.endpoint.ca_bundle)

    def connection(self, **overrides: Any) -> ArmConnection:
        return ArmConnection(arm_endpoint=self.endpoint.url, ca_bundle=self.endpoint.ca_bundle,
                             credential=CredentialKind.sandbox, **overrides)

    def client_kwargs(self) -> dict[str, Any]:
        connection = self.connection()
        return {"credential": connection.token_credential(), **connection.client_kwargs()}


@pytest.fixture(scope="session")
def sandbox_fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated fleet (with offline, arm64 and managed clusters) shared by the session."""
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    write_generated_fleet(path, SANDBOX_FLEET_CLUSTERS, seed=7)
    return path


@pytest.fixture
def sandbox_factory(tmp_path: Path, sandbox_fleet_file: Path) -> Iterator[Callable[..., RunningSandbox]]:
    """Start sandboxes with option overrides (``max_page_size=5``, ``throttle="2/60s"`` ...)."""
    started: list[SandboxServer] = []

    def start(state_dir: Path | None = None, **overrides: Any) -> RunningSandbox:
        state_dir = state_dir or tmp_path / f"state-{len(started)}"
        options = SandboxOptions(state_dir=state_dir, fleet=overrides.pop("fleet", sandbox_fleet_file),
                                 poll_after_seconds=0, **overrides)
        server = SandboxServer(options)
        endpoint = server.start()
        started.append(server)
        return RunningSandbox(server, endpoint, options.fleet or sandbox_fleet_file, state_dir)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    """A sandbox with the default limits (15 queries / 5 s, 200 writes / 10 per s) on the small fleet."""
    return sandbox_factory()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Figures tests record with ``record_property("figure", text)`` (corpus counts), shown on every run,
    workers included (pytest-xdist carries user properties back with the reports)."""
    reports = [report for outcome in ("passed", "failed") for report in terminalreporter.stats.get(outcome, [])]
    figures = [str(value) for report in reports for name, value in getattr(report, "user_properties", ())
               if name == "figure"]
    if figures:
        terminalreporter.section("figures")
        for figure in figures:
            terminalreporter.write_line(figure)
