"""What-if reports: ``table`` for the terminal, ``json`` for tools, ``markdown`` for a pull-request comment.

Each format is one registered renderer. The Markdown puts a summary table first, then the details per
assignment, and is capped to GitHub's comment limit (:func:`engine.output.markdown_cap.cap_markdown`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from engine.errors import InputError
from engine.history.diff import Change
from engine.history.store import AssignedDefinition
from engine.history.whatif import AssignmentImpact, RecordRef, ViolationChange, WhatIf
from engine.output.markdown_cap import cap_markdown
from engine.output.plain_text import id_column, render_text, text_row
from engine.output.summary import short_resource_name
from engine.untrusted_text import markdown_cell, markdown_code, terminal_text

Renderer = Callable[[WhatIf], str]
WHATIF_FORMATS: dict[str, Renderer] = {}


def whatif_format(name: str) -> Callable[[Renderer], Renderer]:
    def register(render: Renderer) -> Renderer:
        WHATIF_FORMATS[name] = render
        return render

    return register


SUFFIXES = {".json": "json", ".md": "markdown", ".txt": "table"}


def output_format_of(text: str, fallback: str) -> tuple[str, Path]:
    """``-o FORMAT:FILE``, or ``-o FILE`` in the format its suffix names (.json, .md, .txt), else ``fallback``."""
    prefix, separator, rest = text.partition(":")
    if separator and prefix.lower() in WHATIF_FORMATS and rest:
        return prefix.lower(), Path(rest)
    return SUFFIXES.get(Path(text).suffix.lower(), fallback), Path(text)


def render_whatif(name: str, report: WhatIf) -> str:
    try:
        render = WHATIF_FORMATS[name]
    except KeyError:
        raise InputError("--format", f"unknown what-if format; choose one of {', '.join(WHATIF_FORMATS)}",
                         value=name) from None
    return render(report)


def headline(report: WhatIf) -> str:
    return (f"{report.newly_non_compliant} records become non-compliant, {report.newly_compliant} become compliant"
            f"{_within_records(report)} on {report.clusters} clusters of scan {report.baseline_scan_id} "
            f"({report.baseline_started_at:%Y-%m-%d %H:%M} UTC)")


def _within_records(report: WhatIf) -> str:
    """Changes within records that stay non-compliant, when there are some."""
    if not (report.newly_failing or report.no_longer_failing):
        return ""
    return (f"; in records already non-compliant, {report.newly_failing} newly failing, "
            f"{report.no_longer_failing} no longer failing")


def assignment_set_notes(report: WhatIf, name: Callable[[str], str] = str) -> list[str]:
    """What the report must say about the assignments compared: that the two sets differ (and how), or which
    set was used when the caller gave none; ``name`` writes an assignment's name for the output."""
    sets = report.assignment_sets
    notes = []
    if sets.differ:
        parts = [f"{len(items)} only in {where} ({', '.join(name(item.assignment_name) for item in items)})"
                 for items, where in ((sets.only_in_baseline, "the baseline"), (sets.only_in_whatif, "this what-if"))
                 if items]
        given = {"baseline": "the baseline's own", "given": "the assignments given",
                 "default": "every definition assigned at tenant scope"}[sets.source]
        notes.append(f"The assignment sets differ: the baseline scan evaluated {sets.baseline} assignments, this "
                     f"what-if {sets.compared} ({given}): {'; '.join(parts)}. Their records show as removed or new.")
    if sets.rewritten:
        notes.append("Assignments changed (definition, parameters or scope): "
                     + ", ".join(name(item.assignment_name) for item in sets.rewritten) + ".")
    return notes


def _definition(definition: AssignedDefinition) -> str:
    return definition.definition_id + (f" ({definition.display_name})" if definition.display_name else "")


@whatif_format("json")
def render_json(report: WhatIf) -> str:
    return json.dumps(report.to_json(), indent=2)


@whatif_format("table")
def render_table(report: WhatIf) -> str:
    """The summary per assignment, the definitions added or removed, then each changed record; assignment
    names and clusters whole (users copy them), other cells folded to 160 characters."""
    summary = Table(title=headline(report))
    id_column(summary, "assignment", (impact.assignment_name for impact in report.assignments))
    for column in ("policy", *COUNT_COLUMNS[:6], *(COUNT_COLUMNS[6:] if _within_records(report) else ())):
        summary.add_column(column)
    for impact in report.assignments:
        text_row(summary, impact.assignment_name, impact.title, *_counts(report, impact))
    rows = [("newly non-compliant", impact.assignment_name, short_resource_name(change.resource_id), change.policy,
             "; ".join(change.reasons)) for impact in report.assignments for change in impact.newly_non_compliant]
    rows += [(label, impact.assignment_name, short_resource_name(change.resource_id), change.policy,
              "; ".join(change.reasons)) for impact in report.assignments
             for label, changes in (("newly failing", impact.newly_failing),
                                    ("no longer failing", impact.no_longer_failing)) for change in changes]
    rows += [("newly compliant", impact.assignment_name, short_resource_name(change.resource_id), change.policy,
              change.after.value) for impact in report.assignments for change in impact.newly_compliant]
    details = Table()
    details.add_column("change", no_wrap=True)
    id_column(details, "assignment", (row[1] for row in rows))
    id_column(details, "resource", (row[2] for row in rows))
    for column in ("policy", "reasons"):
        details.add_column(column)
    for row in rows:
        text_row(details, *row)
    lines = [Text(f"{label}: {terminal_text(_definition(definition))}")
             for label, definitions in (("definitions added", report.definitions_added),
                                        ("definitions removed", report.definitions_removed))
             for definition in definitions]
    lines += [Text(f"{NOTE} {note}") for note in assignment_set_notes(report, terminal_text)]
    return render_text(Group(summary, *lines, *([details] if rows else [])), 160)


COUNT_COLUMNS = ("non-compliant before", "after", "newly non-compliant", "newly compliant", "new records",
                 "removed records", "newly failing", "no longer failing")
NOTE = "note:"  # the lines about the assignments compared


def _counts(report: WhatIf, impact: AssignmentImpact) -> tuple[int, ...]:
    """The summary's figures; records staying non-compliant with violations gained or lost, when the report
    has any."""
    counts = (impact.non_compliant_before, impact.non_compliant_after, len(impact.newly_non_compliant),
              len(impact.newly_compliant), len(impact.new_records), len(impact.removed_records))
    return counts + ((len(impact.newly_failing), len(impact.no_longer_failing)) if _within_records(report) else ())


def _markdown_summary(report: WhatIf) -> Iterator[str]:
    yield "## arcpolicy what-if"
    yield ""
    for note in assignment_set_notes(report, markdown_code):
        yield f"**{NOTE} {note}**"
        yield ""
    verdict = "**" if report.newly_non_compliant else ""
    within = "**" if report.newly_failing else ""
    yield (f"{verdict}{report.newly_non_compliant} records become non-compliant{verdict}, "
           f"{report.newly_compliant} become compliant{within}{_within_records(report)}{within}, on the "
           f"{report.clusters} clusters of scan {markdown_code(report.baseline_scan_id)} "
           f"({report.baseline_started_at:%Y-%m-%d %H:%M} UTC). "
           f"Policy set {markdown_code(report.baseline_policy_fingerprint[:19])} -> "
           f"{markdown_code(report.policy_fingerprint[:19])}.")
    yield ""
    changed = [impact for impact in report.assignments if impact.changed]
    if changed:
        columns = COUNT_COLUMNS if _within_records(report) else COUNT_COLUMNS[:6]
        yield f"| assignment | policy | {' | '.join(columns)} |"
        yield "|---|---|" + "---:|" * len(columns)
        for impact in changed:
            yield (f"| {markdown_cell(impact.assignment_name)} | {markdown_cell(impact.title)} | "
                   + " | ".join(map(str, _counts(report, impact))) + " |")
        yield ""
    unchanged = len(report.assignments) - len(changed)
    yield f"{unchanged} assignments unchanged." if unchanged else "Every assignment changes."
    for label, definitions in (("Definitions added", report.definitions_added),
                               ("Definitions removed", report.definitions_removed)):
        if definitions:
            yield ""
            yield f"{label}: " + ", ".join(markdown_code(_definition(definition)) for definition in definitions) + "."
    if report.baseline_tool_version != report.tool_version:
        yield ""
        yield (f"The baseline's verdicts were recorded by arcpolicy {markdown_code(report.baseline_tool_version)}, this preview "
               f"ran arcpolicy {markdown_code(report.tool_version)}: some changes may come from the engine, not the policies.")
    if report.skipped:
        yield ""
        yield "Not evaluated: " + "; ".join(markdown_code(message) for message in report.skipped)


def _change_lines(changes: list[Change], reasons: bool) -> Iterator[str]:
    for change in changes:
        detail = "; ".join(change.reasons) if reasons else f"{change.before.value if change.before else 'new'} -> " \
                                                           f"{change.after.value}"
        yield f"- {markdown_code(short_resource_name(change.resource_id))} {markdown_code(change.policy)}: {markdown_code(detail)}"


def _violation_lines(changes: list[ViolationChange]) -> Iterator[str]:
    for change in changes:
        yield (f"- {markdown_code(short_resource_name(change.resource_id))} {markdown_code(change.policy)}: "
               f"{markdown_code('; '.join(change.reasons))}")


def _record_lines(records: list[RecordRef]) -> Iterator[str]:
    for record in records:
        yield f"- {markdown_code(short_resource_name(record.resource_id))} {markdown_code(record.policy)}: {record.state.value}"


def _markdown_details(report: WhatIf) -> Iterator[str]:
    for impact in report.assignments:
        sections: list[tuple[str, int, Iterator[str]]] = [
            ("Newly non-compliant", len(impact.newly_non_compliant), _change_lines(impact.newly_non_compliant, True)),
            ("Newly failing", len(impact.newly_failing), _violation_lines(impact.newly_failing)),
            ("No longer failing", len(impact.no_longer_failing), _violation_lines(impact.no_longer_failing)),
            ("Newly compliant", len(impact.newly_compliant), _change_lines(impact.newly_compliant, False)),
            ("New records", len(impact.new_records), _record_lines(impact.new_records)),
            ("Removed records", len(impact.removed_records), _record_lines(impact.removed_records))]
        for label, count, lines in sections:
            if count:
                yield ""
                yield f"### {label}: {markdown_code(impact.assignment_name)} ({count})"
                yield ""
                yield from lines


@whatif_format("markdown")
def render_markdown(report: WhatIf) -> str:
    text = "\n".join((*_markdown_summary(report), *_markdown_details(report))) + "\n"
    return cap_markdown(text, "`arcpolicy whatif --format json`")
