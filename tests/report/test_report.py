"""Dry-run reports: Markdown for pull requests, and self-contained HTML checked in real chromium."""

from __future__ import annotations

import re

from plan.builders import AZURE_POLICY, DEFENDER, FLUX_EXTENSION, NOW, cluster, fleet, wanted

from remediation.plan.builder import build_plan
from remediation.report import render_html, render_markdown, write_report


def sample_plan():
    arm64 = cluster("arm-1", architectures="arm64")
    offline = cluster("off-1", connectivity="Offline")
    online = cluster("on-1")
    wanted_ops = [item for each in (arm64, offline, online) for name in (DEFENDER, AZURE_POLICY, FLUX_EXTENSION)
                  for item in wanted(each, name, name.split("_")[0])]
    return build_plan(wanted_ops, fleet(arm64, offline, online), created_at=NOW)


def test_markdown_summarises_policies_waves_and_what_is_not_applied() -> None:
    plan = sample_plan()
    text = render_markdown(plan)
    assert text.startswith("## arcpolicy remediation plan")
    assert f"{len(plan.operations)} operations" in text
    assert "| `/subscriptions/" in text  # per-assignment rows
    assert "| deferred |" in text and "| skipped |" in text  # rows of the not-applied table
    assert "arm64" in text and "48 hours" in text
    assert "&lt;" not in text  # Markdown is not HTML-escaped


def test_html_is_self_contained_and_shows_every_section() -> None:
    plan = sample_plan()
    html = render_html(plan)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    for section in ("summary", "policies", "clusters", "graph", "waves", "not-applied", "operations"):
        assert f'id="{section}"' in html
    assert html.count('<g class="node">') == len(plan.operations)
    assert "&lt;redacted&gt;" in html and "primarySharedKey" in html
    by_cluster = html.split('id="clusters"', 1)[1].split("</table>", 1)[0]
    for operation in plan.operations:  # each cluster by name and resource group, its full id in a tooltip
        if operation.cluster_id:
            name, group = operation.cluster_id.rsplit("/", 1)[-1], operation.cluster_id.split("/")[4]
            assert f'<td title="{operation.cluster_id}">{name}</td><td>{group}</td>' in by_cluster


def test_large_plans_draw_one_box_per_layer_type_and_status() -> None:
    clusters = [cluster(f"d{index:03d}") for index in range(130)]
    big = build_plan([item for each in clusters for item in wanted(each, DEFENDER)], fleet(*clusters))
    html = render_html(big)
    assert len(big.operations) == 132
    assert html.count('<g class="node">') == 3  # group, workspace, and the 130 extensions as one box
    assert "130 x extensions" in html


def test_html_report_renders_in_chromium_without_console_errors(tmp_path, load_page) -> None:
    page = tmp_path / "report.html"
    write_report(render_html(sample_plan()), page)
    loaded = load_page(page)
    assert loaded.console == []
    assert "<svg" in loaded.dom and 'class="plan-graph"' in loaded.dom
    assert len(re.findall(r"<details", loaded.dom)) == len(sample_plan().operations)


def test_the_browser_check_does_catch_console_errors(tmp_path, load_page) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>missingFunction()</script></body></html>")
    loaded = load_page(page)
    assert any("missingFunction" in line for line in loaded.console)


def test_the_plan_graph_shows_whole_labels_and_a_colour_legend(tmp_path, chromium) -> None:
    import subprocess
    from xml.etree import ElementTree

    from remediation.report.svg import STATUS_COLOURS, plan_svg

    clusters = [cluster(f"d{index:03d}") for index in range(130)]
    big = build_plan([item for each in clusters for item in wanted(each, DEFENDER)], fleet(*clusters))
    svg = plan_svg(big)
    root = ElementTree.fromstring(svg)
    spaces = {"svg": "http://www.w3.org/2000/svg"}
    shown = ["".join(text.itertext()) for text in root.iterfind(".//svg:g[@class='node']/svg:text", spaces)]
    for operation in big.operations:  # each resource type whole (a box's second line), never cut
        assert operation.resource_type in shown, (operation.resource_type, shown)
    legend = root.find(".//svg:g[@class='legend']", spaces)
    statuses = {operation.status.value for operation in big.operations}
    assert legend is not None and set(legend.itertext()) >= statuses | {"box colour: the operation's status"}
    swatches = {rect.get("fill") for rect in legend.iterfind("svg:rect", spaces)}
    assert swatches == {STATUS_COLOURS[status] for status in statuses}
    page = tmp_path / "graph.svg"
    page.write_text(svg)
    shot = tmp_path / "graph.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,500", f"--screenshot={shot}",
                    page.as_uri()], check=True, capture_output=True, timeout=180)
    assert shot.read_bytes().startswith(b"\x89PNG")
