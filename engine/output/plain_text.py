"""Rich tables as plain text for files and pipes, with columns of ids that are never folded or cut."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from engine.untrusted_text import terminal_text


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


def id_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column of ids users copy (scan ids, assignment names, resource ids): never folded or cut, whatever
    the width."""
    table.add_column(header, no_wrap=True, overflow="ignore", min_width=max((len(value) for value in ids),
                                                                             default=len(header)))


def cell(value: object) -> Text:
    """Untrusted text (a name, a reason) as a table cell: shown as written, never read as rich markup, its
    control characters shown, not sent (:func:`engine.untrusted_text.terminal_text`)."""
    return Text(terminal_text(str(value)))


def text_row(table: Table, *values: object) -> None:
    """A row of :func:`cell` s."""
    table.add_row(*map(cell, values))
