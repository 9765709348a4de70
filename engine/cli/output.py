"""Writing command output: to stdout or atomically to a file, never half-written."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rich.console import Console, RenderableType

from engine.atomic import write_files
from engine.output.plain_text import plain_width, render_text
from engine.secret_values import scrub
from engine.structured_logging import logging_on
from engine.untrusted_text import terminal_text

log = logging.getLogger("engine.cli")
# Summaries and progress go to stderr; piped or logged, they keep a readable width instead of 80.
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


def warn(line: str) -> None:
    """A note about the run (``warning: ...``, ``skipped: ...``): a log line when the command logs, so JSON
    logs stay JSON lines and keep it; else :func:`say`."""
    if logging_on():
        log.warning(line)
    else:
        say(line)


def say(line: str) -> None:
    """One line on stderr (a note, a warning, a summary) that may quote untrusted text: its control characters
    shown, not sent, so a name cannot break the line or drive the terminal."""
    console.print(terminal_text(line), markup=False, highlight=False, soft_wrap=True)


def write_renderable(renderable: RenderableType, destination: Path | None) -> None:
    """Show a table on the terminal (with colour), or write it as plain text to a file or pipe."""
    if destination is None and sys.stdout.isatty():
        Console(highlight=False).print(renderable)
        return
    write_text(render_text(renderable, plain_width()), destination)


def write_text(text: str, destination: Path | None) -> None:
    """Print ``text`` to stdout, or write it to ``destination`` via a temp file and rename; secret values
    known by origin are masked (:mod:`engine.secret_values`)."""
    if destination is None:
        sys.stdout.write(_as_written(text))
        sys.stdout.flush()
        return
    write_texts([(destination, text)])


def write_texts(files: list[tuple[Path, str]]) -> None:
    """Write several files all or none (:func:`engine.atomic.write_files`), secret values known by origin
    masked."""
    write_files([(path, _as_written(text)) for path, text in files])


def _as_written(text: str) -> str:
    text = scrub(text)
    return text if text.endswith("\n") else text + "\n"
