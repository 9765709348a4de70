"""The ``arcpolicy`` pytest plugin: makes the spec step library available to any pytest-bdd suite.

Registered with the ``pytest11`` entry point, so installing arcpolicy is enough: a policy team's
``test_*.py`` only binds its feature files (``scenarios("features")``). It imports nothing until
pytest configures, and does nothing at all when pytest-bdd is not installed or is disabled.
"""

from __future__ import annotations

import importlib.util

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the step definitions and scenario hooks once pytest-bdd's hooks exist."""
    if importlib.util.find_spec("pytest_bdd") is None or not hasattr(config.hook, "pytest_bdd_before_scenario"):
        return
    from engine.spec import fixtures, steps

    for module in (fixtures, steps):
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, f"arcpolicy-spec-{module.__name__.rsplit('.', 1)[-1]}")
