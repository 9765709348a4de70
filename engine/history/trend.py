"""Compliance over time, overall, per policy and per subscription, as self-contained HTML and SVG.

Charts are SVG generated here (no charting library, no CDN), so the HTML works offline and the
SVG embeds anywhere (wikis, READMEs, dashboards).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel

from engine.history.store import GroupPoint, HistoryStore, ScanRecord

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
TEMPLATES = Environment(loader=PackageLoader("engine.history", "templates"),
                        autoescape=select_autoescape(["html.j2", "svg.j2"]), trim_blocks=True, lstrip_blocks=True)


class TrendPoint(BaseModel):
    scan_id: str
    started_at: datetime
    compliant: int
    total: int

    @property
    def percentage(self) -> float:
        return 100.0 if not self.total else round(100.0 * self.compliant / self.total, 1)


class TrendSeries(BaseModel):
    name: str
    points: list[TrendPoint]


class Trend(BaseModel):
    scans: list[ScanRecord]  # oldest first
    overall: TrendSeries
    by_policy: list[TrendSeries]
    by_subscription: list[TrendSeries]


def _series(points: Sequence[GroupPoint]) -> list[TrendSeries]:
    grouped: dict[str, list[TrendPoint]] = {}
    for point in points:
        grouped.setdefault(point.group, []).append(TrendPoint(scan_id=point.scan_id, started_at=point.started_at,
                                                              compliant=point.compliant, total=point.total))
    return [TrendSeries(name=name, points=members) for name, members in sorted(grouped.items())]


def build_trend(store: HistoryStore, last: int | None = None) -> Trend:
    """The last ``last`` scans (all by default) of the store, as series ready to chart."""
    scans = list(reversed(store.scans(limit=last)))
    overall = TrendSeries(name="all policies", points=[
        TrendPoint(scan_id=scan.scan_id, started_at=scan.started_at, compliant=scan.compliant + scan.exempt,
                   total=scan.total) for scan in scans])
    return Trend(scans=scans, overall=overall, by_policy=_series(store.compliance_by("policy", last)),
                 by_subscription=_series(store.compliance_by("subscription", last)))


class ChartLine(BaseModel):
    name: str
    colour: str
    points: str  # SVG polyline points
    dots: list[tuple[float, float, str]]  # x, y, tooltip


def line_chart_svg(title: str, scans: Sequence[ScanRecord], series: Sequence[TrendSeries],
                   width: int = 760, height: int = 280) -> str:
    """A line chart of compliance % (0-100) per scan; one line per series, scans evenly spaced."""
    left, right, top, bottom = 48, 190, 30, 40
    plot_width, plot_height = width - left - right, height - top - bottom
    position = {scan.scan_id: index for index, scan in enumerate(scans)}
    step = plot_width / max(len(scans) - 1, 1)

    def x(scan_id: str) -> float:
        return round(left + position[scan_id] * step, 1)

    def y(percentage: float) -> float:
        return round(top + plot_height * (1 - percentage / 100), 1)

    lines = []
    for index, line in enumerate(series):
        points = [point for point in line.points if point.scan_id in position]
        coordinates = [(x(point.scan_id), y(point.percentage)) for point in points]
        lines.append(ChartLine(
            name=line.name, colour=PALETTE[index % len(PALETTE)],
            points=" ".join(f"{cx},{cy}" for cx, cy in coordinates),
            dots=[(cx, cy, f"{line.name}: {point.percentage}% ({point.compliant}/{point.total}) "
                           f"scan {point.scan_id}") for (cx, cy), point in zip(coordinates, points, strict=True)]))
    ticks = [(y(value), value) for value in (0, 25, 50, 75, 100)]
    labels = [(x(scan.scan_id), f"{scan.started_at:%m-%d %H:%M}") for scan in scans]
    return TEMPLATES.get_template("chart.svg.j2").render(
        title=title, width=width, height=height, left=left, top=top, right_edge=width - right,
        bottom_edge=top + plot_height, ticks=ticks, labels=labels, lines=lines)


def overall_svg(trend: Trend) -> str:
    """The chart to embed elsewhere: overall compliance and each policy."""
    return line_chart_svg("Compliance over time", trend.scans, [trend.overall, *trend.by_policy])


def render_trend_html(trend: Trend) -> str:
    charts = {
        "overall": Markup(overall_svg(trend)),
        "subscriptions": Markup(line_chart_svg("Per subscription", trend.scans, trend.by_subscription)),
    }
    return TEMPLATES.get_template("trend.html.j2").render(trend=trend, charts=charts)
