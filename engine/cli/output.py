"""Writing command output: to stdout or atomically to a file, never half-written."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console, RenderableType
from rich.table import Table

from engine.atomic import atomic_writer
from engine.secret_values import scrub

# Summaries and progress go to stderr; piped or logged, they keep a readable width instead of 80.
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


def render_text(renderable: RenderableType, width: int | None = 120) -> str:
    """A rich renderable (table, panel ...) as plain text, for files and pipes; ``width=None``: as wide as
    the content needs (nothing folded or cut)."""
    if width is None:
        width = max(Console(width=100_000).measure(renderable).maximum, 1)
    capture = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    capture.print(renderable)
    return capture.export_text()


def plain_width() -> int | None:
    """The width of tables written to a file or pipe: ``COLUMNS`` when set, else whatever the content needs."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def write_renderable(renderable: RenderableType, destination: Path | None) -> None:
    """Show a table on the terminal (with colour), or write it as plain text to a file or pipe."""
    if destination is None and sys.stdout.isatty():
        Console(highlight=False).print(renderable)
        return
    write_text(render_text(renderable, plain_width()), destination)


def id_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column of ids users copy (scan ids, resource ids): never folded or cut, whatever the width."""
    table.add_column(header, no_wrap=True, overflow="ignore", min_width=max((len(value) for value in ids),
                                                                             default=len(header)))


def write_text(text: str, destination: Path | None) -> None:
    """Print ``text`` to stdout, or write it to ``destination`` via a temp file and rename; secret values
    known by origin are masked (:mod:`engine.secret_values`)."""
    text = scrub(text)
    if destination is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    with atomic_writer(destination) as out:
        out.write(text if text.endswith("\n") else text + "\n")
