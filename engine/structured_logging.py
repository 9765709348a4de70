"""Logging for long-running scans: text or JSON lines, a scan id on every line, secrets masked.

The scan id lives in a context variable, so every line logged while a scan runs carries it,
whichever module logs it. Secret values known by origin (:mod:`engine.secret_values`), passwords in
URLs and bearer tokens are masked before formatting.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from engine.output.redact import redact_value
from engine.secret_keys import SECRET_ASSIGNMENT
from engine.secret_values import scrub, scrub_data
from engine.untrusted_text import terminal_text

current_scan_id: ContextVar[str | None] = ContextVar("arcpolicy_scan_id", default=None)

SECRETS = (
    (re.compile(r"(://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),  # user:password@ in URLs
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (SECRET_ASSIGNMENT, r"\1***"),
)
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "scan_id", "scan_label"}


def redact(text: str) -> str:
    """``text`` without secrets: known secret values (any encoding), then secret-looking patterns."""
    text = scrub(text)
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def scan_context(scan_id: str) -> Iterator[None]:
    """Every log line inside the block carries ``scan_id``."""
    token = current_scan_id.set(scan_id)
    try:
        yield
    finally:
        current_scan_id.reset(token)


class ScanContextFilter(logging.Filter):
    """Stamps the scan id on the record and masks secrets in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.scan_id = current_scan_id.get()
        record.msg, record.args = redact(record.getMessage()), None
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, scanId and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "scanId": getattr(record, "scan_id", None),
        }
        extra = {key: value for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES}
        line.update(scrub_data(redact_value(extra)))
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(scan_label)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.scan_label = getattr(record, "scan_id", None) or "-"
        record.msg, record.args = terminal_text(record.getMessage()), None  # one line, whatever a name holds
        return redact(super().format(record))


# Without a configured handler, warnings reach stderr through logging's last resort: masked there too.
if logging.lastResort is not None:
    logging.lastResort.addFilter(ScanContextFilter())

FORMATTERS: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonLinesFormatter}


def configure_logging(log_format: str = "text", level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Send arcpolicy's logs (the ``engine`` and ``remediation`` loggers) to ``stream``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(FORMATTERS[log_format]())
    handler.addFilter(ScanContextFilter())
    for name in ("engine", "remediation"):
        logger = logging.getLogger(name)
        for old in [old for old in logger.handlers if getattr(old, "arcpolicy", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
    handler.arcpolicy = True  # type: ignore[attr-defined]
    return handler


def logging_on() -> bool:
    """Whether this command logs (``--log-format``, a config's ``[logging]``, ``schedule``): its warnings are then
    log lines in the chosen format, not plain text beside them."""
    return any(getattr(handler, "arcpolicy", False) for handler in logging.getLogger("engine").handlers)


@contextmanager
def logging_configured(log_format: str = "text", level: str = "info", stream: TextIO | None = None) -> Iterator[None]:
    """:func:`configure_logging` for the duration of a block (one command), then the handler is removed."""
    handler = configure_logging(log_format, level, stream)
    try:
        yield
    finally:
        for name in ("engine", "remediation"):
            logging.getLogger(name).removeHandler(handler)
