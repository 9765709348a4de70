"""The tables of an HTML report read back through an HTML parser (what a reviewer's browser shows), for tests
that check the reports' figures rather than substrings of their markup."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass(slots=True)
class TableRow:
    table_id: str  # the enclosing table's id and class ("" when it has none)
    table_class: str
    row_class: str
    cells: list[str] = field(default_factory=list)  # each <td>/<th>'s text, stripped
    header: bool = False  # a row of <th> only


class HtmlTables(HTMLParser):
    """Every table (id, class) and row, and the text of every ``<strong>`` with its class (how the plan report
    marks deletes)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: list[tuple[str, str]] = []
        self.rows: list[TableRow] = []
        self.strong: list[tuple[str, str]] = []
        self._open: list[tuple[str, str]] = []
        self._in_cell = self._in_strong = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "table":
            self._open.append((attributes.get("id", ""), attributes.get("class", "")))
            self.tables.append(self._open[-1])
        elif tag == "tr" and self._open:
            self.rows.append(TableRow(*self._open[-1], attributes.get("class", ""), header=True))
        elif tag in ("td", "th") and self.rows:
            self.rows[-1].cells.append("")
            self.rows[-1].header &= tag == "th"
            self._in_cell = True
        elif tag == "strong":
            self.strong.append((attributes.get("class", ""), ""))
            self._in_strong = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open:
            self._open.pop()
        elif tag in ("td", "th"):
            self._in_cell = False
        elif tag == "strong":
            self._in_strong = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1].cells[-1] += data.strip()
        if self._in_strong:
            self.strong[-1] = (self.strong[-1][0], self.strong[-1][1] + data.strip())

    def table(self, table_id: str) -> list[list[str]]:
        """The data rows (header rows left out) of the table with this id."""
        return [row.cells for row in self.rows if row.table_id == table_id and not row.header]
