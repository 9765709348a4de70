"""The ``arcpolicy_world`` fixture every step uses, and the hooks that make failures readable.

Registered by :mod:`engine.spec.plugin` only when pytest-bdd is active.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.spec.expect import SpecFailure
from engine.spec.world import SpecWorld

FEATURE_FILE = pytest.StashKey[Path]()
SCENARIO = pytest.StashKey[str]()
POSTGRES_URL_VARIABLE = "ARCPOLICY_TEST_POSTGRES_URL"
FAILED_STEP = pytest.StashKey[str]()


@pytest.fixture
def arcpolicy_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SpecWorld]:
    """A fresh world per scenario: an empty fleet and a work directory of its own."""
    feature = request.node.stash.get(FEATURE_FILE, None)
    feature_dir = feature.parent if feature is not None else Path(str(request.node.path)).parent
    workdir = tmp_path / "work"
    workdir.mkdir()
    world = SpecWorld(feature_dir, workdir)
    yield world
    world.close()


@pytest.fixture(scope="session")
def arcpolicy_postgres_server() -> str:
    """The PostgreSQL server ``a fresh "postgresql" history store`` makes its schemas on: the
    ``ARCPOLICY_TEST_POSTGRES_URL`` variable (a SQLAlchemy URL); a project may override this fixture."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        raise SpecFailure(f"a PostgreSQL history store needs a server: set {POSTGRES_URL_VARIABLE} to its URL "
                          "(postgresql+psycopg://user:password@host:port/database)")
    return url


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: object, scenario: object) -> None:
    """Remember the feature file (relative paths in steps resolve next to it) and the scenario."""
    filename = Path(getattr(feature, "filename"))  # noqa: B009
    request.node.stash[FEATURE_FILE] = filename
    request.node.stash[SCENARIO] = f"{os.path.relpath(filename)}: {getattr(scenario, 'name', '')}"


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: object, scenario: object, step: object,
                          exception: Exception) -> None:
    """Remember which step failed and where, for the report."""
    filename = Path(getattr(feature, "filename"))  # noqa: B009
    where = f"{os.path.relpath(filename)}:{getattr(step, 'line_number', '?')}"
    request.node.stash[FAILED_STEP] = f'{where}: {getattr(step, "keyword", "")} {getattr(step, "name", "")}'.strip()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Name the example of an outline row; report a failed expectation as the failing step and why."""
    report = yield
    if SCENARIO in item.stash:
        report.spec_scenario = item.stash[SCENARIO]
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
    if example:
        report.spec_example = next(iter(example.values()))
    if call.excinfo is not None and isinstance(call.excinfo.value, SpecFailure) and FAILED_STEP in item.stash:
        report.longrepr = f"{item.stash[FAILED_STEP]}\n{call.excinfo.value}"
    return report
