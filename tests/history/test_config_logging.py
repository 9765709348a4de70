"""The TOML config (validation, relative paths, overrides) and structured logging."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from engine.config import load_config, parse_duration, with_overrides
from engine.errors import InputError
from engine.structured_logging import configure_logging, scan_context

CONFIG = """
[scan]
inventory = "fleet.json"
policies = ["policies/azure", "/abs/rego"]
assignments = "assignments.json"

[[outputs]]
format = "junit"
path = "out/results.xml"

[store]
url = "history.db"
keep = "90d"

[schedule]
cron = "0 */6 * * *"
jitter = "5m"
health_file = "health.json"

[logging]
format = "json"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arcpolicy.toml"
    path.write_text(text)
    return path


def test_config_resolves_paths_relative_to_the_file(tmp_path: Path):
    config = load_config(write(tmp_path, CONFIG))
    assert config.scan.inventory == tmp_path / "fleet.json"
    assert config.scan.policies == [tmp_path / "policies/azure", Path("/abs/rego")]
    assert config.outputs[0].format == "junit" and config.outputs[0].path == tmp_path / "out/results.xml"
    assert config.store.keep == timedelta(days=90) and config.schedule.jitter == timedelta(minutes=5)
    assert config.schedule.remediate is False and config.logging.format == "json"


def test_command_line_overrides_the_file(tmp_path: Path):
    config = load_config(write(tmp_path, CONFIG))
    changed = with_overrides(config, {"scan.inventory": Path("/other.json"), "store.keep": "7d",
                                      "schedule.cron": None, "scan.policies": []})
    assert changed.scan.inventory == Path("/other.json") and changed.store.keep == timedelta(days=7)
    assert changed.schedule.cron == "0 */6 * * *" and changed.scan.policies == config.scan.policies
    with pytest.raises(InputError, match=r"command line: schedule\.cron"):
        with_overrides(config, {"schedule.cron": "every day"})


@pytest.mark.parametrize(("text", "place"), [
    ("[scan]\ninventroy = 'x'\n", "scan.inventroy"),
    ("[schedule]\ncron = '61 * * * *'\n", "schedule.cron"),
    ("[store]\nkeep = 'ninety days'\n", "store.keep"),
    ("[logging]\nformat = 'xml'\n", "logging.format"),
])
def test_bad_config_names_the_place(tmp_path: Path, text: str, place: str):
    with pytest.raises(InputError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.location == place and str(tmp_path / "arcpolicy.toml") in caught.value.one_line()


def test_bad_toml_and_missing_file_are_bad_input(tmp_path: Path):
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(write(tmp_path, "[scan\n"))
    with pytest.raises(InputError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_a_bad_store_url_in_the_config_never_shows_its_password(tmp_path: Path):
    with pytest.raises(InputError) as caught:
        load_config(write(tmp_path, "[store]\nurl = 'postgresql://u:hunter2@db/x'\nkeep = 3\nextra = 1\n"))
    assert caught.value.location == "store.extra"
    with pytest.raises(InputError) as caught:
        load_config(write(tmp_path, "[store]\nurl = ['postgresql://u:hunter2@db/x']\n"))
    assert "hunter2" not in caught.value.one_line()


@pytest.mark.parametrize(("text", "seconds"), [("90d", 7776000), ("1h30m", 5400), ("45s", 45), ("2w", 1209600)])
def test_durations(text: str, seconds: int):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_json_lines_carry_the_scan_id_and_hide_secrets():
    stream = io.StringIO()
    handler = configure_logging("json", "info", stream)
    try:
        logger = logging.getLogger("engine.test")
        logger.info("before any scan")
        with scan_context("scan-42"):
            logger.info("opening %s", "postgresql+psycopg://app:hunter2@db/history", extra={"clusters": 3})
            try:
                raise ValueError("token=abc123secret")
            except ValueError:
                logger.exception("scan failed")
    finally:
        for name in ("engine", "remediation"):
            logging.getLogger(name).removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["scanId"] for line in lines] == [None, "scan-42", "scan-42"]
    assert lines[1]["message"] == "opening postgresql+psycopg://app:***@db/history" and lines[1]["clusters"] == 3
    assert lines[2]["level"] == "error" and "ValueError" in lines[2]["error"]
    assert "hunter2" not in stream.getvalue() and "abc123secret" not in stream.getvalue()


def test_text_lines_show_the_scan_id():
    stream = io.StringIO()
    handler = configure_logging("text", "info", stream)
    try:
        with scan_context("scan-7"):
            logging.getLogger("engine.test").warning("slow cluster")
    finally:
        for name in ("engine", "remediation"):
            logging.getLogger(name).removeHandler(handler)
    assert "WARNING [scan-7] engine.test: slow cluster" in stream.getvalue()
