"""Untrusted text (names, tags, displayNames, reasons: whatever a cluster's owner or a policy's author wrote) made
safe for each kind of output, one rule per kind.

- terminal and line-oriented logs: control characters, bidi overrides and other invisible characters shown as
  ``\\xNN``/``\\uNNNN``, never sent (an escape sequence must not move the cursor, a newline must not forge a
  line, an override must not reorder what the reader sees);
- Markdown (pull-request comments): a code span, where GitHub and CommonMark render no HTML, no link and ping
  nobody, on one line and with a table's pipes escaped;
- CSV: a cell starting with ``= + - @``, a tab or a carriage return is prefixed with ``'`` so a spreadsheet
  shows it as text instead of running it as a formula (OWASP, "CSV Injection"); a cell holding a comma, quote,
  carriage return or line feed is quoted (RFC 4180);
- XML (JUnit, SVG): characters XML 1.0 cannot hold shown as in a terminal, the rest escaped by the writer.

HTML is escaped by Jinja's autoescape; JSON and YAML writers escape what their syntax needs.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0's Char production: tab, newline, carriage return and U+0020 upwards except surrogates, FFFE and FFFF
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def shown(character: str) -> str:
    """A character that must not be sent as it is, written as Python would write it in a string."""
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_text(text: str, *, newlines: bool = False) -> str:
    """``text`` fit for a terminal or a line of a log: every character that is not printable (control
    characters, C1, bidi overrides, zero-width and line separators) shown, not sent; newlines kept only for a
    message of several lines that arcpolicy wrote (``newlines=True``)."""
    if text.isprintable():
        return text
    return "".join(character if character.isprintable() or (newlines and character == "\n") else shown(character)
                   for character in text)


def markdown_code(value: object, *, table: bool = False) -> str:
    """``value`` as Markdown inline code on one line: fenced with more backticks than it holds in a row, its
    invisible characters shown, its pipes escaped inside a table (GitHub splits cells before inline code)."""
    text = " ".join(terminal_text(str(value)).split())
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_cell(value: object) -> str:
    """``value`` as inline code in a Markdown table's cell."""
    return markdown_code(value, table=True)


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold shown, so the document stays well-formed."""
    return NOT_XML.sub(lambda match: shown(match.group()), text)
