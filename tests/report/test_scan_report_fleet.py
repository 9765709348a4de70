"""The scan report at fleet size (2,000 clusters, the shipped policies): the HTML stays under 2 MB with every
cluster's section collapsed, policies named by their display names, and a filter that works in a real headless
chromium (screenshot kept for a look); the Markdown fits GitHub's comment limit with a closing line counting
the clusters left out."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.builtin_policies import resolve_builtin
from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.output import OutputSpec, ScanMetadata, write_outputs
from engine.output.markdown_cap import GITHUB_COMMENT_LIMIT

CLUSTERS = 2000
HTML_LIMIT = 2_000_000


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    folder = tmp_path_factory.mktemp("fleet-report")
    fleet = Fleet()
    fleet.add_all(generate_fleet(CLUSTERS, seed=11))
    when = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    request = prepare_scan([resolve_builtin("builtin:"), resolve_builtin("builtin:azure")], timestamp=when)
    result = run_scan(fleet, request, workers=1)
    metadata = ScanMetadata(scan_id="fleet", started_at=when, duration_seconds=1.0, inventory_source="fleet.json",
                            policy_fingerprint="sha256:" + "0" * 64)
    html, markdown = folder / "report.html", folder / "report.md"
    write_outputs([OutputSpec(format="html", path=html), OutputSpec(format="markdown", path=markdown)],
                  result.records, metadata)
    return html, markdown, result.records


def test_the_html_report_of_2000_clusters_is_small_and_collapsed(report) -> None:
    html, _, records = report
    text = html.read_text()
    assert html.stat().st_size <= HTML_LIMIT, html.stat().st_size
    sections = re.findall(r"<details( class=\"findings\")?>", text)
    assert len(sections) == CLUSTERS and "<details open" not in text
    # the policy column names each policy by its display name, not its definition name
    clusters = text[text.index('<div id="clusters">'):]
    shown = set(re.findall(r"</td>\n<td>([^<]*)</td><td", clusters))
    titles = {record.policy_definition_display_name for record in records if record.policy_definition_display_name}
    assert shown and shown <= titles, shown - titles


def screenshot(chromium: str, page: str, path: Path, profile: Path) -> str:
    """Chromium's DOM of ``page`` after its scripts ran, and a screenshot of it at ``path``."""
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
              "--hide-scrollbars"]
    subprocess.run([*common, "--window-size=1280,1400", f"--screenshot={path}", page], capture_output=True,
                   text=True, timeout=180, check=True)
    completed = subprocess.run([*common, "--enable-logging=stderr", "--v=0", "--dump-dom", page],
                               capture_output=True, text=True, timeout=180, check=True)
    console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    return completed.stdout


def test_the_html_report_filters_clusters_in_chromium(report, chromium: str, tmp_path: Path) -> None:
    html, _, _ = report
    shot = html.with_name("report.png")
    dom = screenshot(chromium, html.resolve().as_uri(), shot, tmp_path / "profile")
    assert f"{CLUSTERS} of {CLUSTERS} clusters shown" in dom
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    name = re.search(r"<summary title=\"[^\"]*\"><strong>([^<]+)</strong>", html.read_text()).group(1)
    filtered = screenshot(chromium, f"{html.resolve().as_uri()}#filter={name}", html.with_name("filtered.png"),
                          tmp_path / "profile")
    visible = re.findall(r"<details(?: class=\"findings\")?>\s*<summary[^>]*><strong>([^<]+)", filtered)
    assert name in visible and all(name in shown for shown in visible)
    assert f"{len(visible)} of {CLUSTERS} clusters shown" in filtered


def test_the_markdown_report_fits_a_github_comment(report) -> None:
    _, markdown, _ = report
    text = markdown.read_text()
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert text.startswith("# Compliance report") and "## Per policy" in text
    closing = text.rstrip().splitlines()[-1]
    assert closing.startswith("_Cut to fit GitHub's 65,536-character comment limit: left out")
    kept = text.count("\n### ")
    left = re.search(r"(\d+) more sections", closing)
    named = len(re.findall(r'the section "', closing))
    assert kept + named + int(left.group(1)) + 1 >= CLUSTERS  # each cluster kept, named or counted (+1: the one cut)
