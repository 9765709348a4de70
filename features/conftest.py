"""The acceptance suite's PostgreSQL server is the history tests' one: ``ARCPOLICY_TEST_POSTGRES_URL``
(which ``make test`` sets), or else a throwaway server started for the session, so PostgreSQL
scenarios never skip."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_HISTORY_CONFTEST = Path(__file__).resolve().parents[1] / "tests" / "history" / "conftest.py"


def _history_fixtures():  # tests/ is not a package: load the history tests' conftest by its path
    spec = importlib.util.spec_from_file_location("features_history_fixtures", _HISTORY_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


postgres_server_url = _history_fixtures().postgres_server_url


@pytest.fixture(scope="session")
def arcpolicy_postgres_server(postgres_server_url: str) -> str:
    """Overrides the plugin's fixture (the variable only) with the history tests' server."""
    return postgres_server_url
