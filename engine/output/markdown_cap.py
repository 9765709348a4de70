"""Markdown made for a pull-request comment, capped to GitHub's comment limit.

GitHub refuses a comment longer than 65,536 characters ("Body is too long (maximum is 65536
characters)"), so a report posted from CI must fit. Reports put their summary first; the cap keeps
whole lines from the top and replaces the rest with one line saying what was left out (entries per
section) and where the full report is.
"""

from __future__ import annotations

from dataclasses import dataclass

GITHUB_COMMENT_LIMIT = 65_536
NOTE_ROOM = 1_000  # characters kept free for the closing line
NAMED_SECTIONS = 6  # sections the closing line names; the rest are counted
SECTION_NAME = 80  # characters of a section's heading the closing line quotes


@dataclass
class _LeftOut:
    section: str
    entries: int = 0  # list items and table rows
    whole: bool = True  # the section's heading was left out too


def _is_entry(line: str, following: str) -> bool:
    """A list item or a table row (not a table's header row or separator)."""
    if line.startswith(("- ", "* ")):
        return True
    return line.startswith("|") and not line.startswith("|-") and not following.startswith("|-")


def _left_out(lines: list[str], kept: int, section_at_cut: str) -> list[_LeftOut]:
    sections = [_LeftOut(section_at_cut, whole=False)]
    for index in range(kept, len(lines)):
        line = lines[index]
        if line.startswith("#"):
            sections.append(_LeftOut(line.lstrip("#").strip()))
        elif _is_entry(line, lines[index + 1] if index + 1 < len(lines) else ""):
            sections[-1].entries += 1
    return [section for section in sections if section.entries or section.whole]


def _describe(section: _LeftOut) -> str:
    entries = f"{section.entries:,} {'entry' if section.entries == 1 else 'entries'}"
    name = section.section if len(section.section) <= SECTION_NAME else section.section[:SECTION_NAME - 1] + "…"
    return f'the section "{name}" ({entries})' if section.whole else f'{entries} of "{name}"'


def closing_line(left_out: list[_LeftOut], limit: int, full_report: str) -> str:
    named = [_describe(section) for section in left_out[:NAMED_SECTIONS]]
    if len(left_out) > NAMED_SECTIONS:
        named.append(f"{len(left_out) - NAMED_SECTIONS} more sections")
    return (f"_Cut to fit GitHub's {limit:,}-character comment limit: left out {', '.join(named)}. "
            f"The full report: {full_report}._")


def cap_markdown(text: str, full_report: str, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """``text`` if it fits in ``limit`` characters; else its first whole lines and a closing line naming what
    was left out and ``full_report`` (where to read everything)."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    budget = limit - NOTE_ROOM - len(full_report)
    used, kept, section = 0, 0, "the top"
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        used += len(line) + 1
        kept += 1
        if line.startswith("#"):
            section = line.lstrip("#").strip()
    note = closing_line(_left_out(lines, kept, section), limit, full_report)
    capped = "\n".join(lines[:kept]).rstrip("\n") + "\n\n" + note + "\n"
    return capped if len(capped) <= limit else capped[:limit]  # a full_report hint longer than the limit


class CappedMarkdown:
    """:func:`cap_markdown` for Markdown written a chunk at a time (the scan report, section by section): holds at
    most ``limit`` characters, and of what it leaves out keeps only the counts the closing line names, so memory
    does not grow with the report. Text that fits comes out unchanged."""

    def __init__(self, full_report: str, limit: int = GITHUB_COMMENT_LIMIT):
        self.full_report = full_report
        self.limit = limit
        self._chunks: list[str] = []
        self._size = 0
        self._kept: str | None = None  # once cut: the lines kept
        self._left: list[_LeftOut] = []

    def add(self, text: str) -> None:
        if self._kept is None:
            self._chunks.append(text)
            self._size += len(text)
            if self._size > self.limit:
                self._cut("".join(self._chunks))
                self._chunks = []
            return
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if line.startswith("#"):
                self._left.append(_LeftOut(line.lstrip("#").strip()))
            elif _is_entry(line, lines[index + 1] if index + 1 < len(lines) else ""):
                self._left[-1].entries += 1

    def _cut(self, text: str) -> None:
        capped = cap_markdown(text, self.full_report, self.limit)
        self._kept = capped[:capped.rindex("\n\n_Cut to fit")]
        lines = text.split("\n")
        kept = self._kept.count("\n") + 1
        section = next((line.lstrip("#").strip() for line in reversed(lines[:kept]) if line.startswith("#")),
                       "the top")
        self._left = _left_out(lines, kept, section) or [_LeftOut(section, whole=False)]

    def text(self) -> str:
        if self._kept is None:
            return "".join(self._chunks)
        left_out = [section for section in self._left if section.entries or section.whole]
        return self._kept.rstrip("\n") + "\n\n" + closing_line(left_out, self.limit, self.full_report) + "\n"
