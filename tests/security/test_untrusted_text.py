"""Untrusted text (cluster and group names, displayNames, assignment names, reasons) in every output format: the
escaping rule of each format, checked on hostile payloads through the CLI and on generated strings (Hypothesis)
through every renderer: table and txt (terminal), csv, json, markdown (scan, what-if, plan), html, junit,
policyreport and svg (issue 23: 3, 4, 5)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from plan.builders import DEFENDER, NOW, cluster, fleet, wanted

from engine.cli.main import main
from engine.history.diff import Change
from engine.history.store import AssignedDefinition, ScanRecord
from engine.history.trend import TrendPoint, TrendSeries, line_chart_svg
from engine.history.whatif import AssignmentImpact, AssignmentSets, ViolationChange, WhatIf
from engine.history.whatif_formats import render_whatif
from engine.models.results import ComplianceState, Reason
from engine.output import render
from engine.untrusted_text import FORMULA_STARTS, terminal_text, xml_text
from remediation.plan.builder import build_plan
from remediation.report import render_html, render_markdown
from tests.output.records import make_state

REPO = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
# Payloads of the audit: a terminal escape and a raw newline, formulas (OWASP), HTML, Markdown and mentions
TERMINAL = "evil\x1b[2Jline\nbreak\r\x07\x9b31m\u202egnp.exe"
FORMULAS = ("=1+1", "@SUM(A1)", "=cmd|' /C calc'!A0", "+1", "-1+2", "\t=1", "\r=1")
MARKUP = "\"><img src=x onerror=alert(1)> [x](javascript:alert(1)) @octocat @github/security <script>1</script>"
RICH = "[/x][bold red]"  # rich's markup: shown as written, never read (nor a crash)
HOSTILE_NAMES = (TERMINAL, *FORMULAS, MARKUP, RICH, "`code` | pipe \\| ``", "x" * 5000)
MARKDOWN = MarkdownIt("commonmark").enable("table")  # raw HTML on, as GitHub renders comments


def cluster_resource(name: str, group: str = "rg") -> dict:
    return {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Kubernetes/"
                  f"connectedClusters/{name}", "type": "Microsoft.Kubernetes/connectedClusters", "name": name,
            "location": "westeurope", "tags": {"owner": FORMULAS[2]}, "properties": {}}


@pytest.fixture
def hostile_fleet(tmp_path: Path) -> Path:
    """Clusters named by the audit's payloads, in groups named by formulas; the first one twice (a warning)."""
    resources = [cluster_resource(id_segment(name), id_segment(FORMULAS[index % len(FORMULAS)].strip()))
                 for index, name in enumerate((TERMINAL, MARKUP, RICH, *FORMULAS))]
    snapshot = tmp_path / "fleet.ndjson"
    snapshot.write_text("".join(json.dumps(resource) + "\n" for resource in [resources[0], *resources]))
    return snapshot


def scan(snapshot: Path, *options: str) -> int:
    return main(["scan", "-i", str(snapshot), "-p", str(REPO / "policies"), "--workers", "1", *options])


# -- the rule of each format ---------------------------------------------------------------------------------------

def check_terminal(text: str) -> None:
    """Nothing that is not printable reaches a terminal but arcpolicy's own line breaks."""
    sent = {character for character in text if not character.isprintable() and character != "\n"}
    assert not sent, sorted(sent)


def check_csv(text: str, originals: dict[str, str]) -> None:
    """No cell starts a formula; a value that would is prefixed with ' and otherwise kept; every row has the
    header's cells (a quote, comma or line break in a value stays inside its cell)."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        assert None not in row and None not in row.values(), row
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), (column, cell)
            if column in originals:
                original = originals[column]
                assert cell == ("'" + original if original.startswith(FORMULA_STARTS) else original)
    assert text.startswith("complianceState,resourceId,")


def flat(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from flat(token.children or [])


def check_markdown(text: str) -> None:
    """No raw HTML, link, image or @mention outside code; every table row has its header's cells."""
    tokens = list(flat(MARKDOWN.parse(text)))
    kinds = {token.type for token in tokens}
    assert not kinds & {"html_inline", "html_block", "link_open", "image", "autolink_open"}, kinds
    for token in tokens:
        if token.type == "text":
            assert "@" not in token.content and "<" not in token.content, token.content
    header_cells = 0
    for token in tokens:
        if token.type == "thead_open":
            header_cells = 0
        elif token.type == "th_open":
            header_cells += 1
        elif token.type == "tr_open":
            row_cells = 0
        elif token.type == "td_open":
            row_cells += 1
        elif token.type == "tr_close" and row_cells:
            assert row_cells == header_cells


class Tags(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


# the scan report's own script (its filter), written by its template; the plan report has none
SCAN_REPORT_SCRIPTS = (REPO / "engine" / "output" / "templates" / "report.html.j2").read_text().count("<script")


def check_html(text: str, own_scripts: int = 0) -> None:
    """No element or event handler of anyone else's: untrusted text is text (the report's own scripts only)."""
    tags = Tags(text).tags
    assert sum(tag == "script" for tag, _ in tags) == own_scripts
    for tag, attributes in tags:
        assert tag not in {"img", "iframe", "object", "a"}, tag
        assert not [name for name, _ in attributes if name.startswith("on")], (tag, attributes)


def check_xml(text: str) -> ET.Element:
    """Well-formed XML (ElementTree refuses what XML 1.0 cannot hold) without scripts or handlers."""
    root = ET.fromstring(text.encode())
    for element in root.iter():
        assert not element.tag.endswith(("script", "foreignObject")), element.tag
        assert not [name for name in element.attrib if name.startswith("on")]
    return root


# -- the audit's payloads through the CLI --------------------------------------------------------------------------

def test_csv_cells_never_start_a_formula(hostile_fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "states.csv"
    assert scan(hostile_fleet, "-o", str(out)) == 1
    text = out.read_text()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    groups = {row["resourceGroup"] for row in rows}
    assert {"'" + id_segment(formula.strip()) for formula in FORMULAS if formula.strip().startswith(FORMULA_STARTS)} \
        <= groups
    check_csv(text, {})


def test_the_terminal_and_txt_get_no_control_characters_and_one_line_per_warning(hostile_fleet: Path,
                                                                                  tmp_path: Path, capsys) -> None:
    assert scan(hostile_fleet) == 1  # the table on stdout
    captured = capsys.readouterr()
    check_terminal(captured.out)
    check_terminal(captured.err)
    assert terminal_text("evil\x1b[2Jline\nbreak") in captured.out
    assert id_segment(RICH) in captured.out.replace("\n", "")  # rich's markup is text
    warnings = [line for line in captured.err.splitlines() if "appears twice" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert scan(hostile_fleet, "-o", str(tmp_path / "states.txt")) == 1
    check_terminal((tmp_path / "states.txt").read_text())


def test_markdown_renders_no_html_link_nor_mention(hostile_fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    assert scan(hostile_fleet, "-o", str(out)) == 1
    text = out.read_text()
    check_markdown(text)
    assert terminal_text("evil\x1b[2Jline\nbreak") in text


def test_html_junit_policyreport_and_json_hold_the_payloads_as_text(hostile_fleet: Path, tmp_path: Path) -> None:
    outputs = {name: tmp_path / f"states.{name}" for name in ("html", "xml", "yaml", "json")}
    assert scan(hostile_fleet, *(f"-o{path}" for path in outputs.values())) == 1
    check_html(outputs["html"].read_text(), SCAN_REPORT_SCRIPTS)
    names = {case.get("name") for case in check_xml(outputs["xml"].read_text()).iter("testcase")}
    assert any(xml_text(TERMINAL.split("\u202e")[0]) in (name or "") for name in names)
    assert list(yaml.safe_load_all(outputs["yaml"].read_text()))
    states = json.loads(outputs["json"].read_text())["value"]
    assert {state["resourceId"].rsplit("/", 1)[1] for state in states} >= set(map(id_segment, (TERMINAL, MARKUP, RICH)))


# -- generated hostile strings through every renderer ----------------------------------------------------------

PIECES = st.sampled_from(["\x1b[2J", "\n", "\r", "\t", "\x00", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\u200b",
                          "\u2028", "\ufeff", "\ud7ff", "=", "+", "-", "@", "@octocat", "<img src=x onerror=alert(1)>",
                          "<script>", "</td>", "&lt;", "`", "``", "|", "\\", "\\|", "*", "_", "[x](http://e.test)",
                          "http://e.test", "#", "[/x]", "[bold]", "]]>", "<!--", '"', "'", " ", "-->", "\ufffe"])
HOSTILE = st.one_of(
    st.lists(st.one_of(PIECES, st.text(max_size=8)), min_size=1, max_size=12).map("".join),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40),
    st.builds(lambda piece, count: piece * count, PIECES, st.integers(100, 1000)),  # very long lines
)


def id_segment(text: str) -> str:
    """A name usable inside a resource id (no '/'), never empty."""
    return text.replace("/", "_") or "_"


def hostile_states(name: str, group: str, display_name: str, assignment: str, reason: str) -> list:
    resource = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{id_segment(group)}/providers/Microsoft.Kubernetes/" \
               f"connectedClusters/{id_segment(name)}"
    states = []
    for state in (ComplianceState.NON_COMPLIANT, ComplianceState.COMPLIANT, ComplianceState.ERROR):
        record = make_state(resource, "require-defender", state, reasons=[Reason(message=reason)])
        states.append(record.model_copy(update={"policy_definition_display_name": display_name,
                                                "policy_assignment_name": assignment,
                                                "error": reason if state is ComplianceState.ERROR else None}))
    return states


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(name=HOSTILE, group=HOSTILE, display_name=HOSTILE, assignment=HOSTILE, reason=HOSTILE)
def test_every_scan_format_escapes_generated_hostile_text(name, group, display_name, assignment, reason) -> None:
    states = hostile_states(name, group, display_name, assignment, reason)
    check_terminal(render("table", states))
    check_csv(render("csv", states), {"resourceGroup": id_segment(group), "policyAssignmentName": assignment,
                                      "reasons": reason})
    page = json.loads(render("json", states))["value"]
    assert [(state["policyAssignmentName"], state.get("policyDefinitionDisplayName")) for state in page] \
        == [(assignment, display_name)] * len(states)
    check_markdown(render("markdown", states))
    check_html(render("html", states), SCAN_REPORT_SCRIPTS)
    cases = list(check_xml(render("junit", states)).iter("testcase"))
    assert [case.get("name") for case in cases] == [xml_text(states[0].resource_id)] * len(states)
    reports = list(yaml.safe_load_all(render("policyreport", states)))
    assert not reason or reason in [result["message"] for report in reports for result in report["results"]]


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(name=HOSTILE, title=HOSTILE, assignment=HOSTILE, reason=HOSTILE)
def test_whatif_trend_and_plan_reports_escape_generated_hostile_text(name, title, assignment, reason) -> None:
    resource = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Kubernetes/" \
               f"connectedClusters/{id_segment(name)}"
    change = Change(resource_id=resource, policy=title, policy_assignment_name=assignment,
                    before=ComplianceState.COMPLIANT, after=ComplianceState.NON_COMPLIANT, reasons=[reason])
    impact = AssignmentImpact(assignment_id=f"/providers/Microsoft.Authorization/policyAssignments/{assignment}",
                              assignment_name=assignment, title=title, non_compliant_before=0, non_compliant_after=1,
                              newly_non_compliant=[change], newly_compliant=[], new_records=[], removed_records=[],
                              newly_failing=[ViolationChange(resource_id=resource, policy=title,
                                                             policy_assignment_name=assignment, reasons=[reason])])
    assigned = AssignedDefinition(assignment_id="x", assignment_name=assignment, definition_id=title,
                                  display_name=reason)
    report = WhatIf(baseline_scan_id="20261130T060000Z-abc123", baseline_started_at=datetime(2026, 11, 30, tzinfo=UTC),
                    baseline_policy_fingerprint="sha256:a", policy_fingerprint="sha256:b", clusters=1,
                    baseline_tool_version=reason, definitions_added=[assigned], definitions_removed=[],
                    assignments=[impact], skipped=[reason],
                    assignment_sets=AssignmentSets(source="given", baseline=1, compared=1, only_in_baseline=[assigned],
                                                   rewritten=[assigned]))
    check_terminal(render_whatif("table", report))
    check_markdown(render_whatif("markdown", report))
    assert json.loads(render_whatif("json", report))["assignments"][0]["assignmentName"] == assignment

    scans = [ScanRecord.model_construct(scan_id=name, started_at=datetime(2026, 1, 1, tzinfo=UTC))]
    series = TrendSeries(name=title, detail=reason, points=[
        TrendPoint(scan_id=name, started_at=scans[0].started_at, compliant=1, total=2)])
    check_xml(line_chart_svg(assignment, scans, [series]))

    arc = cluster(id_segment(name.strip()), group=id_segment(title.strip()))  # ARM names are never blank
    plan = build_plan(wanted(arc, DEFENDER, id_segment(assignment)), fleet(arc), created_at=NOW)
    check_markdown(render_markdown(plan))
    html = render_html(plan)
    check_html(html)
    svg = html[html.index("<svg"):html.index("</svg>") + len("</svg>")]
    check_xml(svg)
