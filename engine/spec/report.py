"""The ``arcpolicy spec`` report: one line per scenario (feature file, scenario, outline example).

Loaded by the runner with ``-p engine.spec.report``; failures are then shown by pytest as the
failing step and the reason (see :mod:`engine.spec.fixtures`).
"""

from __future__ import annotations

import pytest

_WORDS = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    scenario = getattr(report, "spec_scenario", None)
    if scenario is None or not (report.when == "call" or report.failed):
        return
    example = getattr(report, "spec_example", None)
    line = f"{_WORDS.get(report.outcome, report.outcome)}  {scenario}"
    if example:
        line += f" [{example}]"
    reporter = _CONFIG[0].pluginmanager.get_plugin("terminalreporter") if _CONFIG else None
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(line)


_CONFIG: list[pytest.Config] = []


def pytest_configure(config: pytest.Config) -> None:
    _CONFIG[:] = [config]


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """No progress dots: the scenario lines say it all."""
    if report.when == "call" and getattr(report, "spec_scenario", None) is not None:
        return report.outcome, "", report.outcome.upper()
    return None
