"""Cron expressions and durations as ``schedule`` reads them: every documented example fires when it must,
and an expression or duration that cannot work is refused before the scheduler starts (exit 2, one line)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli.main import main
from engine.config import parse_duration
from engine.cron import CronSchedule
from engine.errors import InputError
from engine.inventory.generator import write_generated_fleet
from engine.scheduler import Scheduler
from tests.history.test_schedule_cli import write_config

README = Path(__file__).resolve().parents[2] / "README.md"
START = datetime(2026, 11, 30, 10, 7, 13, tzinfo=UTC)

# Every cron expression the README shows, with the first slots it must produce after START.
DOCUMENTED = {
    "*/30 * * * * *": ["10:07:30", "10:08:00", "10:08:30", "10:09:00"],  # every 30 s: seconds come first
    "0 */6 * * *": ["12:00:00", "18:00:00", "00:00:00", "06:00:00"],
}
MORE = {
    "* * * * * *": ["10:07:14", "10:07:15", "10:07:16"],
    "15 0 * * * *": ["11:00:15", "12:00:15"],  # second 15 of minute 0 of every hour
    "*/15 * * * *": ["10:15:00", "10:30:00", "10:45:00", "11:00:00"],
    "0 3 * * 1": ["03:00:00"],  # Monday 3:00 (START is a Monday after 3:00: next week)
    "0 0 29 2 *": ["00:00:00"],  # 29 February, leap years only
    "@hourly": ["11:00:00", "12:00:00"],
}


class StoppedClock:
    def now(self) -> datetime:
        return START

    def wait(self, seconds: float, stop) -> None:
        raise AssertionError("max_runs=0 never waits")


def slots(expression: str, count: int) -> list[datetime]:
    """The scheduler's first ``count`` slots after START."""
    scheduler, moment, found = Scheduler(lambda scan_id: None, expression, clock=StoppedClock()), START, []
    for _ in range(count):
        moment = scheduler.next_slot(moment)
        found.append(moment)
    return found


def documented_expressions() -> set[str]:
    text = README.read_text()
    return set(re.findall(r'--cron "([^"]+)"', text)) | set(re.findall(r'^cron = "([^"]+)"', text, re.MULTILINE)) \
        | set(re.findall(r'`"([^"`]+)"`: every', text))


def test_every_cron_expression_in_the_readme_is_checked_here():
    assert documented_expressions() == set(DOCUMENTED)


@pytest.mark.parametrize(("expression", "times"), [*DOCUMENTED.items(), *MORE.items()])
def test_cron_expressions_fire_at_the_documented_times(expression: str, times: list[str]):
    assert [moment.strftime("%H:%M:%S") for moment in slots(expression, len(times))] == times


def test_six_fields_put_the_seconds_first_so_every_30_seconds_fires_twice_a_minute():
    minute = [moment for moment in slots("*/30 * * * * *", 10) if moment < START + timedelta(minutes=1)]
    assert len(minute) == 2  # was 58: croniter's default read the sixth field as seconds
    assert slots("0 3 * * 1", 1) == [datetime(2026, 12, 7, 3, 0, tzinfo=UTC)]
    assert slots("0 0 29 2 *", 2) == [datetime(2028, 2, 29, tzinfo=UTC), datetime(2032, 2, 29, tzinfo=UTC)]


@pytest.mark.parametrize(("expression", "message"), [
    ("0 0 30 2 *", "never fires"), ("0 0 31 4 *", "never fires"), ("* * * *", "has 4"),
    ("* * * * * * 2030", "has 7"), ("every hour", "has 2"), ("61 * * * *", "not a cron expression"),
])
def test_bad_cron_expressions_are_refused(expression: str, message: str):
    with pytest.raises(ValueError, match=message):
        CronSchedule.parse(expression, START)


@pytest.mark.parametrize("text", ["999999999999d", "9" * 5000 + "s", "200000000000w", "40000d"])
def test_durations_past_a_century_are_bad_input(text: str):
    with pytest.raises(InputError, match="between 0 and 36500d"):
        parse_duration(text, "--keep")
    assert parse_duration("36500d") == timedelta(days=36500) and parse_duration("1h30m") == timedelta(minutes=90)


@pytest.mark.parametrize("arguments", [
    ["--cron", "0 0 30 2 *"], ["--cron", "* * * * *", "--jitter", "999999999999d"],
    ["--cron", "* * * * *", "--keep", "999999999999d"], ["--once", "--keep", "999999999999d"],
])
def test_schedule_refuses_impossible_schedules_before_starting(tmp_path: Path, capsys, arguments: list[str]):
    write_generated_fleet(tmp_path / "fleet.json", 2, seed=4)
    assert main(["schedule", "--config", str(write_config(tmp_path)), *arguments]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith("arcpolicy: error: command line") and "scheduler started" not in captured.err
    assert not (tmp_path / "health.json").exists() and not (tmp_path / "history.db").exists()


def test_keep_too_long_is_bad_input_for_scan_and_history(tmp_path: Path, capsys):
    write_generated_fleet(tmp_path / "fleet.json", 2, seed=4)
    policies = str(Path(__file__).resolve().parents[2] / "policies" / "azure")
    assert main(["scan", "-i", str(tmp_path / "fleet.json"), "-p", policies, "--store", str(tmp_path / "h.db"),
                 "--keep", "999999999999d", "-o", str(tmp_path / "out.json")]) == 2
    assert main(["history", "--store", str(tmp_path / "h.db"), "--keep", "999999999999d"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all("36500d" in line for line in errors)
    assert not (tmp_path / "h.db").exists() and not (tmp_path / "out.json").exists()


def test_once_writes_the_health_file(tmp_path: Path):
    write_generated_fleet(tmp_path / "fleet.json", 4, seed=4)
    assert main(["schedule", "--config", str(write_config(tmp_path)), "--once"]) == 1
    health = json.loads((tmp_path / "health.json").read_text())
    assert health["state"] == "stopped" and health["runs"] == 1 and health["failures"] == 0
    assert health["last_scan_id"] and health["last_finished"] and health["next_run"] is None


def test_the_start_line_says_when_the_next_run_is(caplog):
    caplog.set_level(logging.INFO, logger="engine.scheduler")
    Scheduler(lambda scan_id: None, "*/30 * * * * *", clock=StoppedClock(), max_runs=0).run()
    assert "scheduler started (cron '*/30 * * * * *'); next run at 2026-11-30T10:07:30+00:00" in caplog.messages[0]


CRON_FIELD = st.one_of(st.sampled_from(["*", "*/30", "0", "59", "60", "31", "30", "2", "1-5", "MON", "L", "?", "H",
                                        "*/0", "0-0", "5-1", "#", "1#2", "-1", "99999999999999999999", ""]),
                       st.text(alphabet="0123456789*/,-#LWH?", max_size=8))


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(st.one_of(st.lists(CRON_FIELD, min_size=1, max_size=8).map(" ".join), st.text(max_size=40)))
def test_any_cron_text_parses_or_is_refused_with_a_message(expression: str):
    try:
        schedule = CronSchedule.parse(expression, START)
    except ValueError as error:
        assert str(error)
        return
    assert schedule.next_after(START) > START


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(st.one_of(st.text(alphabet="0123456789smhdwSMHDW x.-", max_size=30), st.text(max_size=20),
                 st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True)))
def test_any_duration_parses_within_bounds_or_is_bad_input(text: str | int | float):
    try:
        duration = parse_duration(text, "--keep")
    except InputError as error:
        assert error.one_line()
        return
    assert timedelta(0) <= duration <= timedelta(days=36500)
