"""The trend at 100 scans: date labels that do not overprint (thinned, the latest kept), a y axis fitted to the
values (94.7% against 100% is a visible drop), a per-policy table with a row per scan rather than 100 columns;
loaded in a real headless chromium without console messages, screenshot kept for a look."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from engine.history.store import ScanRecord
from engine.history.trend import (
    Trend,
    TrendPoint,
    TrendSeries,
    fitted_axis,
    line_chart_svg,
    render_trend_html,
)

SCANS = 100
START = datetime(2026, 9, 1, tzinfo=UTC)
LABEL_WIDTH = 60  # px "12-07 06:00" takes at 11 px sans-serif, at most


def scan(index: int) -> ScanRecord:
    return ScanRecord(scan_id=f"scan-{index:03}", started_at=START + timedelta(hours=6 * index), duration_seconds=1,
                      inventory_source="resource-graph", policy_fingerprint="sha256:0", tool_version="0.1.0",
                      compliant=95, non_compliant=5, exempt=0, error=0, resources=100, non_compliant_resources=5)


def series(name: str, scans: list[ScanRecord], compliant: list[int]) -> TrendSeries:
    return TrendSeries(name=name, points=[TrendPoint(scan_id=each.scan_id, started_at=each.started_at,
                                                     compliant=value, total=1000)
                                          for each, value in zip(scans, compliant, strict=True)])


def trend() -> Trend:
    scans = [scan(index) for index in range(SCANS)]
    high = [1000 if index % 10 else 947 for index in range(SCANS)]  # 100% with a dip to 94.7% every tenth scan
    return Trend(scans=scans, resources=series("overall resource compliance", scans, high),
                 overall=series("all policies", scans, [990] * SCANS),
                 by_policy=[series(f"Policy {letter}", scans, high) for letter in "ABCDEF"],
                 by_subscription=[series("sub-1", scans, high)])


def test_a_100_scan_chart_labels_what_fits_on_an_axis_fitted_to_the_values() -> None:
    data = trend()
    svg = line_chart_svg("Compliance", data.scans, [data.resources, *data.by_policy])
    labels = [(float(x), text) for x, text in re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle">([^<]+)<',
                                                           svg)]
    assert 2 <= len(labels) <= 12
    assert all(right - left >= LABEL_WIDTH for (left, _), (right, _) in pairwise(labels))
    assert labels[-1][1] == f"{data.scans[-1].started_at:%m-%d %H:%M}"  # the latest scan is labelled
    ticks = [float(value) for value in re.findall(r'text-anchor="end">([\d.]+)%<', svg)]
    assert ticks == fitted_axis([94.7, 100.0]) and 90 <= ticks[0] < 94.7 and ticks[-1] == 100
    # the dip is drawn a good part of the plot's height below 100%, not a hair's breadth
    dots = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert max(dots) - min(dots) > 100


def test_the_axis_fits_the_values_within_0_and_100() -> None:
    for low, high in ((0.0, 100.0), (94.7, 100.0), (50.0, 60.0), (100.0, 100.0), (0.0, 0.0), (12.5, 13.0)):
        axis = fitted_axis([low, high])
        assert 0 <= axis[0] <= low and high <= axis[-1] <= 100 and 2 <= len(axis) <= 7, (low, high, axis)
        steps = {round(b - a, 6) for a, b in pairwise(axis)}
        assert len(steps) == 1  # evenly spaced lines


def test_the_trend_page_at_100_scans_in_chromium(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "trend.html"
    page.write_text(render_trend_html(trend()))
    table = page.read_text().split('<table id="per-policy"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == SCANS + 1 and table.split("</tr>", 1)[0].count("<th") == 1 + 6  # pivoted
    shot = tmp_path / "trend.png"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*common, "--window-size=1280,1000", f"--screenshot={shot}", page.as_uri()], check=True,
                   capture_output=True, timeout=180)
    loaded = subprocess.run([*common, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()], check=True,
                            capture_output=True, text=True, timeout=180)
    assert not [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
