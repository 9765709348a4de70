"""Writing command output: to stdout or atomically to a file, never half-written."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console, RenderableType

from engine.atomic import atomic_writer
from engine.output.plain_text import plain_width, render_text
from engine.secret_values import scrub

# Summaries and progress go to stderr; piped or logged, they keep a readable width instead of 80.
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


def terminal_text(text: str) -> str:
    """Untrusted text (names, ids, reasons) fit for a terminal: control characters shown as ``\\xNN``, never
    sent (an escape sequence in a resource name must not move the cursor or recolour the screen)."""
    return "".join(character if character.isprintable() or character == "\n" else f"\\x{ord(character):02x}"
                   for character in text)


def write_renderable(renderable: RenderableType, destination: Path | None) -> None:
    """Show a table on the terminal (with colour), or write it as plain text to a file or pipe."""
    if destination is None and sys.stdout.isatty():
        Console(highlight=False).print(renderable)
        return
    write_text(render_text(renderable, plain_width()), destination)


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
