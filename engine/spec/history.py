"""History in a spec's words: fresh stores, the compliance trend charts and the scheduler's health file.

The trend is read the way a person reads it: the SVG chart's points (each carries a tooltip
``label: 50.0% (1/2) scan ID``, the label being the policy's title) and the HTML report's per-policy
table, oldest scan first.
"""

from __future__ import annotations

import html
import json
import re
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine import ids
from engine.spec.expect import SpecFailure

SVG = "{http://www.w3.org/2000/svg}"
_TIP = re.compile(r"^(?P<series>.*): (?P<percentage>[\d.]+)% \(\d+/\d+\) scan (?P<scan>\S+)(?: at .*)?$")
STORE_KINDS = ("sqlite", "postgresql")
OVERALL_LINES = ("all policies", "overall resource compliance")  # every policy state; Azure's resource figure


def fresh_postgres_schema(server_url: str) -> tuple[str, Callable[[], None]]:
    """A schema of its own on the server (scenarios may run in parallel against one server): the
    store URL that uses it, and the clean-up that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"spec_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), drop


def series_name(records: list[dict[str, Any]], lines: Iterable[str]) -> str:
    """The line of the trend chart (among ``lines``) that shows the policy of these records: one
    assignment (and one reference id inside an initiative), labelled with the definition's display
    name, and the assignment's name where two lines would otherwise share it (as
    :func:`engine.history.trend.policy_labels` labels them)."""
    from engine.history.trend import label_candidates

    assignments = {(ids.normalize(str(record["policyAssignmentId"])),
                    str(record.get("policyDefinitionReferenceId") or "").lower()) for record in records}
    if len(assignments) > 1:
        named = sorted({str(record["policyAssignmentName"]) for record in records})
        raise SpecFailure(f"the policy names more than one line of the trend (assignments {', '.join(named)})")
    record = records[0]
    candidates = label_candidates(str(record.get("policyDefinitionDisplayName") or record["policyDefinitionName"]),
                                  record.get("policyAssignmentName"), record.get("policyDefinitionReferenceId"),
                                  ids.normalize(str(record["policyAssignmentId"])))
    shown = set(lines)
    for label in candidates:
        if label in shown:
            return label
    raise SpecFailure(f'no line of the trend is labelled "{candidates[0]}" (or that with the assignment '
                      f'"{record.get("policyAssignmentName")}"); its lines are: {", ".join(sorted(shown)) or "none"}')


def _percentages(values: list[float]) -> str:
    return ", ".join(f"{value:g}%" for value in values)


def parse_percentages(text: str) -> list[float]:
    """``"50%, 0%, 100%"`` -> [50.0, 0.0, 100.0]."""
    try:
        return [float(item.strip().removesuffix("%")) for item in text.split(",")]
    except ValueError:
        raise SpecFailure(f'"{text}" is not a list of percentages such as "50%, 100%"') from None


def _svg(path: Path) -> ElementTree.Element:
    if not path.is_file():
        raise SpecFailure(f"expected {path.name} to be written, but there is no such file")
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise SpecFailure(f"{path.name} is not well-formed SVG ({error})") from None


def svg_series(path: Path) -> dict[str, list[float]]:
    """Each line of a trend chart: its name and its points' compliance %, oldest scan first."""
    root = _svg(path)
    series: dict[str, list[float]] = {}
    for circle in root.iter(f"{SVG}circle"):
        tip = circle.find(f"{SVG}title")
        match = _TIP.match(tip.text or "") if tip is not None else None
        if match is not None:
            series.setdefault(match["series"], []).append(float(match["percentage"]))
    return series


def html_policy_rows(path: Path) -> dict[str, list[float]]:
    """The trend report's per-policy table: policy -> compliance % per scan, oldest first (blank cells left out),
    whichever way it is laid out (a row per policy, or a row per scan, newest first, once scans outnumber
    policies)."""
    if not path.is_file():
        raise SpecFailure(f"expected {path.name} to be written, but there is no such file")
    text = path.read_text(encoding="utf-8")
    table = text.split("<h2>Per policy</h2>", 1)[-1].split("</table>", 1)[0]
    cell = r'<td class="n">([\d.]*)%?</td>'
    if 'class="by-scan"' not in table:
        return {html.unescape(name): [float(value) for value in re.findall(cell, cells) if value]
                for name, cells in re.findall(r"<tr><td[^>]*>(.*?)</td>(.*?)</tr>", table)}
    header = table.split("</tr>", 1)[0]
    policies = [html.unescape(name) for name in re.findall(r"<th[^>]*>(.*?)</th>", header)[1:]]
    by_scan = [re.findall(cell, cells) for cells in re.findall(r"<tr><td[^>]*>.*?</td>(.*?)</tr>", table)]
    return {policy: [float(values[index]) for values in reversed(by_scan) if values[index]]
            for index, policy in enumerate(policies)}


def expect_trend(svg: Path, html: Path, series: str, expected: list[float], label: str | None = None) -> None:
    """The chart's line for ``series`` and (for a policy) the report's row go through ``expected``;
    ``label`` is what the spec called it."""
    lines = svg_series(svg)
    called = f'"{label}" (the line "{series}")' if label and label != series else f'"{series}"'
    if lines.get(series) != expected:
        shown = "\n".join(f"  {name}: {_percentages(values)}" for name, values in lines.items()) or "  (no lines)"
        raise SpecFailure(f"expected {svg.name} to chart {called} at {_percentages(expected)}, but its lines are:\n"
                          f"{shown}")
    if series in OVERALL_LINES:
        return
    rows = html_policy_rows(html)
    if rows.get(series) != expected:
        shown = "\n".join(f"  {name}: {_percentages(values)}" for name, values in rows.items()) or "  (no rows)"
        raise SpecFailure(f"expected {html.name} to list {called} at {_percentages(expected)} per scan, but its "
                          f"per-policy table reads:\n{shown}")


def svg_legend(path: Path) -> list[str]:
    """The trend chart's legend, each entry's wrapped lines joined again."""
    root = _svg(path)
    return [" ".join(part.text or "" for part in text.iter(f"{SVG}tspan"))
            for text in root.iter(f"{SVG}text") if text.get("class") == "legend"]


def expect_label(svg: Path, html_report: Path, label: str) -> None:
    """The chart's legend shows ``label`` in full, and the report's per-policy table has a row of it."""
    legend = svg_legend(svg)
    if label not in legend:
        raise SpecFailure(f'expected the legend of {svg.name} to read "{label}", but it reads:\n'
                          + ("\n".join(f"  {entry}" for entry in legend) or "  (nothing)"))
    rows = html_policy_rows(html_report)
    if label not in rows:
        raise SpecFailure(f'expected {html_report.name} to have a per-policy row "{label}", but its rows are:\n'
                          + ("\n".join(f"  {row}" for row in rows) or "  (none)"))


def health(path: Path) -> dict[str, Any]:
    """The scheduler's health file (``{}`` while it is not written yet or being replaced)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def describe_health(path: Path) -> str:
    document = health(path)
    return json.dumps(document, indent=2) if document else f"{path.name} is not written"
