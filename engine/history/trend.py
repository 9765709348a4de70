"""Compliance over time, overall, per policy and per subscription, as self-contained HTML and SVG.

Charts are SVG generated here (no charting library, no CDN), so the HTML works offline and the
SVG embeds anywhere (wikis, READMEs, dashboards).
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel

from engine.history.store import GroupPoint, HistoryStore, ScanRecord
from engine.untrusted_text import xml_text

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
LEGEND_CHARACTERS = 44  # per legend line: long titles wrap, never cut
LEGEND_LINE = 13  # px
RESOURCE_LINE = "overall resource compliance"  # Azure's name: resources compliant with every assignment
OVERALL_LINE = "all policies"  # every policy state (record) together


def _well_formed(value: object) -> object:
    """Every value the templates write is well-formed XML (a policy's title may hold any character), then
    escaped by autoescape unless it is markup already."""
    if isinstance(value, Markup):
        return Markup(xml_text(value))
    return xml_text(value) if isinstance(value, str) else value


TEMPLATES = Environment(loader=PackageLoader("engine.history", "templates"),
                        autoescape=select_autoescape(["html.j2", "svg.j2"]), trim_blocks=True, lstrip_blocks=True,
                        finalize=_well_formed)


class TrendPoint(BaseModel):
    scan_id: str
    started_at: datetime
    compliant: int
    total: int

    @property
    def percentage(self) -> float:
        return 100.0 if not self.total else round(100.0 * self.compliant / self.total, 1)


class TrendSeries(BaseModel):
    name: str  # the label a person sees: legend, table row, tooltips
    points: list[TrendPoint]
    detail: str = ""  # the full description (title, assignment, reference id) for tooltips


class Trend(BaseModel):
    scans: list[ScanRecord]  # oldest first
    resources: TrendSeries  # Azure's overall resource compliance (scans recorded before it was kept: none)
    overall: TrendSeries  # every policy state (record) together
    by_policy: list[TrendSeries]
    by_subscription: list[TrendSeries]


def _assignment_id(point: GroupPoint) -> str:
    return point.group.split("|", 1)[0]


def label_candidates(title: str, assignment_name: str | None, reference_id: str | None,
                     assignment_id: str) -> list[str]:
    """How a policy's line may be labelled, from plain to unique: its title; then with the assignment's
    name; then the reference id inside an initiative; then the (lower-cased) assignment id."""
    reference = f" [{reference_id}]" if reference_id else ""
    return [title, f"{title} ({assignment_name})", f"{title} ({assignment_name}{reference})",
            f"{title} ({assignment_id}{reference})"]


def policy_labels(policies: Sequence[GroupPoint]) -> dict[str, str]:
    """The label of each policy's line (by group key): its title, made longer only for the lines that
    would otherwise share a label."""
    candidates = {point.group: label_candidates(point.title, point.assignment_name, point.reference_id,
                                                _assignment_id(point)) for point in policies}
    level = dict.fromkeys(candidates, 0)
    while True:
        labels = {group: options[level[group]] for group, options in candidates.items()}
        counts = Counter(labels.values())
        clashing = [group for group, label in labels.items()
                    if counts[label] > 1 and level[group] < len(candidates[group]) - 1]
        if not clashing:
            return labels
        for group in clashing:
            level[group] += 1


def _detail(point: GroupPoint) -> str:
    reference = f", reference {point.reference_id}" if point.reference_id else ""
    return f"{point.title} (assignment {point.assignment_name}: {_assignment_id(point)}{reference})"


def _series(points: Sequence[GroupPoint], policies: bool) -> list[TrendSeries]:
    grouped: dict[str, list[TrendPoint]] = {}
    latest: dict[str, GroupPoint] = {}  # a line is named as its newest scan names it
    for point in points:
        grouped.setdefault(point.group, []).append(TrendPoint(scan_id=point.scan_id, started_at=point.started_at,
                                                              compliant=point.compliant, total=point.total))
        latest[point.group] = point
    labels = policy_labels(list(latest.values())) if policies else {group: point.title
                                                                     for group, point in latest.items()}
    series = [TrendSeries(name=labels[group], points=members,
                          detail=_detail(latest[group]) if policies else labels[group])
              for group, members in grouped.items()]
    return sorted(series, key=lambda line: (line.name.lower(), line.name))


def build_trend(store: HistoryStore, last: int | None = None) -> Trend:
    """The last ``last`` scans (all by default) of the store, as series ready to chart."""
    scans = list(reversed(store.scans(limit=last, complete=True)))
    overall = TrendSeries(name=OVERALL_LINE, detail="every policy state (resource and assignment) together",
                          points=[
        TrendPoint(scan_id=scan.scan_id, started_at=scan.started_at, compliant=scan.compliant + scan.exempt,
                   total=scan.total) for scan in scans])
    resources = TrendSeries(name=RESOURCE_LINE, detail="resources compliant with every assignment (Azure's "
                                                       "overall resource compliance)", points=[
        TrendPoint(scan_id=scan.scan_id, started_at=scan.started_at, compliant=counts.compliant_resources,
                   total=counts.resources) for scan in scans if (counts := scan.resource_counts) is not None])
    return Trend(scans=scans, resources=resources, overall=overall,
                 by_policy=_series(store.compliance_by("policy", last), policies=True),
                 by_subscription=_series(store.compliance_by("subscription", last), policies=False))


def _series_json(series: TrendSeries) -> dict[str, object]:
    return {"name": series.name, "detail": series.detail or series.name, "points": [
        {"scanId": point.scan_id, "startedAt": point.started_at.isoformat(), "compliant": point.compliant,
         "total": point.total, "percentage": point.percentage} for point in series.points]}


def trend_json(trend: Trend) -> dict[str, object]:
    """``trend --format json``: the scans (as ``history --format json`` lists them, oldest first) and every line
    the charts draw, each point with its counts and percentage."""
    return {"scans": [scan.model_dump(by_alias=True, mode="json") for scan in trend.scans],
            "resources": _series_json(trend.resources), "overall": _series_json(trend.overall),
            "byPolicy": [_series_json(line) for line in trend.by_policy],
            "bySubscription": [_series_json(line) for line in trend.by_subscription]}


class ChartLine(BaseModel):
    name: str
    detail: str
    colour: str
    points: str  # SVG polyline points
    dots: list[tuple[float, float, str]]  # x, y, tooltip
    legend_y: float  # top of the legend entry
    legend: list[str]  # the name, wrapped


TICK_STEPS = (1, 2, 5, 10, 20, 25)  # % between the y axis' lines: the smallest giving at most MAX_TICKS
MAX_TICKS = 6
LABEL_WIDTH = 80  # px a scan's date label takes on the x axis ("12-07 06:00" with room around it)


def fitted_axis(percentages: Sequence[float]) -> list[float]:
    """The y axis' lines for these values: on a round step, from just below the lowest to just above the highest
    (within 0-100), so that 94.7% against 100% is a visible drop, not a flat line at the top of a 0-100 axis."""
    if not percentages:
        return [0, 25, 50, 75, 100]
    low, high = min(percentages), max(percentages)
    step = next((step for step in TICK_STEPS if (high - low) / step <= MAX_TICKS - 2), 25)
    bottom = max(0, (math.ceil(low / step) - 1) * step)  # a line below the lowest value
    top = min(100, (math.floor(high / step) + 1) * step)  # and one above the highest, up to 100
    if top - bottom < step:  # 100% throughout
        bottom = top - step
    return [bottom + index * step for index in range(round((top - bottom) / step) + 1)]


def thinned_labels(count: int, plot_width: float) -> list[int]:
    """Which scans' dates the x axis labels: every k-th, as many as fit without overprinting, the latest always."""
    fit = max(1, int(plot_width // LABEL_WIDTH) + 1)
    every = max(1, -(-count // fit))
    chosen = list(range(count - 1, -1, -every))[::-1]  # counted back from the latest, so it is labelled
    return chosen


def line_chart_svg(title: str, scans: Sequence[ScanRecord], series: Sequence[TrendSeries],
                   width: int = 960, height: int = 280) -> str:
    """A line chart of compliance % per scan on an axis fitted to the values (:func:`fitted_axis`); one line per
    series, scans evenly spaced, as many date labels as fit (:func:`thinned_labels`; every point has its date in
    its tooltip). The legend wraps long names (the chart grows taller when it needs to); every line carries its
    full description."""
    left, right, top, bottom = 48, 310, 30, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    position = {scan.scan_id: index for index, scan in enumerate(scans)}
    step = plot_width / max(len(scans) - 1, 1)

    def x(scan_id: str) -> float:
        return round(left + position[scan_id] * step, 1)

    axis = fitted_axis([point.percentage for line in series for point in line.points if point.scan_id in position])
    floor, ceiling = axis[0], axis[-1]

    def y(percentage: float) -> float:
        return round(top + plot_height * (1 - (percentage - floor) / (ceiling - floor)), 1)

    lines = []
    legend_y = float(top)
    for index, line in enumerate(series):
        points = [point for point in line.points if point.scan_id in position]
        coordinates = [(x(point.scan_id), y(point.percentage)) for point in points]
        legend = textwrap.wrap(line.name, LEGEND_CHARACTERS, break_on_hyphens=False) or [line.name]
        lines.append(ChartLine(
            name=line.name, detail=line.detail or line.name, colour=PALETTE[index % len(PALETTE)],
            points=" ".join(f"{cx},{cy}" for cx, cy in coordinates),
            dots=[(cx, cy, f"{line.name}: {point.percentage}% ({point.compliant}/{point.total}) "
                           f"scan {point.scan_id} at {point.started_at:%Y-%m-%d %H:%M}")
                  for (cx, cy), point in zip(coordinates, points, strict=True)],
            legend_y=legend_y, legend=legend))
        legend_y += LEGEND_LINE * len(legend) + 5
    ticks = [(y(value), f"{value:g}") for value in axis]
    labels = [(x(scans[index].scan_id), f"{scans[index].started_at:%m-%d %H:%M}")
              for index in thinned_labels(len(scans), plot_width)]
    return TEMPLATES.get_template("chart.svg.j2").render(
        title=title, width=width, height=max(height, round(legend_y) + 10), left=left, top=top,
        right_edge=width - right, bottom_edge=top + plot_height, ticks=ticks, labels=labels, lines=lines,
        legend_line=LEGEND_LINE)


def overall_svg(trend: Trend) -> str:
    """The chart to embed elsewhere: overall resource compliance, every policy state, and each policy."""
    return line_chart_svg("Compliance over time", trend.scans, [trend.resources, trend.overall, *trend.by_policy])


def render_trend_html(trend: Trend) -> str:
    charts = {
        "overall": Markup(overall_svg(trend)),
        "subscriptions": Markup(line_chart_svg("Per subscription", trend.scans, trend.by_subscription)),
    }
    return TEMPLATES.get_template("trend.html.j2").render(trend=trend, charts=charts)
