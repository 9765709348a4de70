"""Trend lines are assignments (and initiative members), labelled with the policy's title; stores of an
older schema upgrade in place and chart the same way."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from output.records import SUBSCRIPTIONS, cluster_id, make_state
from sqlalchemy import column, create_engine, delete, insert, select, table

from engine.history import HistoryStore, ScanMetadata, build_trend, diff_scans, overall_svg, render_trend_html
from engine.history.schema import MIGRATIONS, migrate, migrations_table, scan_states, scans
from engine.history.store import GroupPoint, database_url, record_key
from engine.history.trend import policy_labels
from engine.ids import normalize
from engine.models.results import ComplianceState, PolicyState
from engine.output.summary import policy_key

START = datetime(2025, 5, 1, tzinfo=UTC)
BUILTIN = "6b2122c1-8120-4ff5-801b-17625a355590"
TITLE = "Azure Arc enabled Kubernetes clusters should have the Azure Policy extension installed"
SVG = {"svg": "http://www.w3.org/2000/svg"}
CLUSTERS = ("edge-1", "edge-2", "edge-3", "edge-4")


def builtin_state(cluster: str, assignment: str, compliant: bool, reference_id: str | None = None) -> PolicyState:
    """A record of the built-in definition (a GUID name, a long display name) under ``assignment``."""
    state = make_state(cluster_id(SUBSCRIPTIONS[0], cluster), "x",
                       ComplianceState.COMPLIANT if compliant else ComplianceState.NON_COMPLIANT,
                       reference_id=reference_id)
    state.policy_assignment_name = assignment
    state.policy_assignment_id = (f"/subscriptions/{SUBSCRIPTIONS[0]}/providers/Microsoft.Authorization/"
                                  f"policyAssignments/{assignment}")
    state.policy_definition_name = BUILTIN
    state.policy_definition_id = f"/providers/Microsoft.Authorization/policyDefinitions/{BUILTIN}"
    state.policy_definition_display_name = TITLE
    return state


def two_assignments(compliant: set[str]) -> list[PolicyState]:
    """The built-in assigned twice: "arc-policy-prod" on every cluster, "arc-policy-edge" (other
    parameters) on edge-1 and edge-2 only."""
    return ([builtin_state(cluster, "arc-policy-prod", cluster in compliant) for cluster in CLUSTERS]
            + [builtin_state(cluster, "arc-policy-edge", cluster in compliant) for cluster in CLUSTERS[:2]])


def record(store: HistoryStore, scan_id: str, hours: int, states: list[PolicyState]) -> None:
    store.record_scan(ScanMetadata(scan_id=scan_id, started_at=START + timedelta(hours=hours)), states)


def legend(svg_text: str) -> dict[str, str]:
    """Legend text (wrapped lines joined) -> the line's full description (its group's <title>)."""
    root = ET.fromstring(svg_text)
    entries = {}
    for group in root.iterfind(".//svg:g", SVG):
        text = group.find("svg:text", SVG)
        entries[" ".join(part.text or "" for part in text.iterfind("svg:tspan", SVG))] = group.find("svg:title",
                                                                                                  SVG).text
    return entries


def test_two_assignments_of_one_builtin_are_two_readable_lines(store_url):
    with HistoryStore(store_url) as store:
        record(store, "s1", 0, two_assignments({"edge-1"}))
        record(store, "s2", 6, two_assignments({"edge-1", "edge-2", "edge-3"}))
        trend = build_trend(store)
    lines = {series.name: [point.percentage for point in series.points] for series in trend.by_policy}
    assert lines == {f"{TITLE} (arc-policy-edge)": [50.0, 100.0], f"{TITLE} (arc-policy-prod)": [25.0, 75.0]}

    svg = overall_svg(trend)
    entries = legend(svg)
    # every label in full: wrapped, never cut
    assert set(entries) == {"overall resource compliance", "all policies", *lines}
    assert BUILTIN not in svg and "…" not in svg
    assert entries[f"{TITLE} (arc-policy-edge)"] == (
        f"{TITLE} (assignment arc-policy-edge: /subscriptions/{SUBSCRIPTIONS[0]}/providers/"
        "microsoft.authorization/policyassignments/arc-policy-edge)")
    root = ET.fromstring(svg)
    assert max(len(tspan.text) for tspan in root.iterfind(".//svg:tspan", SVG)) <= 44
    assert int(root.get("height")) >= 280
    html = render_trend_html(trend)
    assert f"<td title=\"{entries[f'{TITLE} (arc-policy-prod)']}\">{TITLE} (arc-policy-prod)</td>" in html


def test_a_unique_title_is_the_whole_label():
    labels = policy_labels([group_point("/p/a1|", "Require Defender", "a1"),
                            group_point("/p/a2|", TITLE, "a2")])
    assert labels == {"/p/a1|": "Require Defender", "/p/a2|": TITLE}


def test_labels_grow_only_as_far_as_needed_to_differ():
    points = [
        # One initiative assignment holding the definition twice (two parameter sets): reference ids.
        group_point("/mg/root/set|ref-a", TITLE, "baseline", "ref-a"),
        group_point("/mg/root/set|ref-b", TITLE, "baseline", "ref-b"),
        # Two assignments of one name at different scopes: the assignment ids.
        group_point("/subscriptions/1/arc|", TITLE, "arc"),
        group_point("/subscriptions/2/arc|", TITLE, "arc"),
        group_point("/subscriptions/2/other|", "Another policy", "other"),
    ]
    assert policy_labels(points) == {
        "/mg/root/set|ref-a": f"{TITLE} (baseline [ref-a])",
        "/mg/root/set|ref-b": f"{TITLE} (baseline [ref-b])",
        "/subscriptions/1/arc|": f"{TITLE} (/subscriptions/1/arc)",
        "/subscriptions/2/arc|": f"{TITLE} (/subscriptions/2/arc)",
        "/subscriptions/2/other|": "Another policy",
    }


def group_point(group: str, title: str, assignment_name: str, reference_id: str | None = None) -> GroupPoint:
    return GroupPoint(scan_id="s1", started_at=START, group=group, title=title, assignment_name=assignment_name,
                      reference_id=reference_id, compliant=1, total=1)


def test_trend_reads_each_scans_figures_not_its_records(store_url):
    with HistoryStore(store_url) as store:
        record(store, "s1", 0, two_assignments({"edge-1"}))
        with store.engine.begin() as connection:
            connection.execute(delete(scan_states))
        trend = build_trend(store)
    assert {series.name: [point.percentage for point in series.points] for series in trend.by_policy} == {
        f"{TITLE} (arc-policy-edge)": [50.0], f"{TITLE} (arc-policy-prod)": [25.0]}


# The policy_states table as schema version 1 wrote it, and its rows as that version's store made them.
POLICY_STATES_V1 = table("policy_states", *(column(name) for name in (
    "scan_id", "record_key", "resource_key", "subscription_id", "policy", "compliance_state", "record")))


def record_version_1(connection, scan_id: str, hours: int, states: list[PolicyState]) -> None:
    connection.execute(insert(scans).values(
        scan_id=scan_id, started_at=(START + timedelta(hours=hours)).replace(tzinfo=None), duration_seconds=1.0,
        inventory_source="fleet.json", policy_fingerprint="sha256:0", tool_version="0.9.0",
        compliant=sum(state.compliance_state is ComplianceState.COMPLIANT for state in states),
        non_compliant=sum(state.compliance_state is ComplianceState.NON_COMPLIANT for state in states),
        exempt=0, error=0))
    connection.execute(insert(POLICY_STATES_V1), [
        {"scan_id": scan_id, "record_key": record_key(state), "resource_key": normalize(state.resource_id),
         "subscription_id": state.subscription_id, "policy": policy_key(state),
         "compliance_state": state.compliance_state.value, "record": json.dumps(state.to_json())}
        for state in states])


def test_a_version_1_store_upgrades_in_place_and_trends_per_assignment(store_url):
    engine = create_engine(database_url(store_url))
    with engine.begin() as connection:
        assert migrate(connection, MIGRATIONS[:1]) == 1
        record_version_1(connection, "old-1", 0, two_assignments({"edge-1"}))
        record_version_1(connection, "old-2", 6, two_assignments({"edge-1", "edge-2"}))
    engine.dispose()

    with HistoryStore(store_url) as store:
        assert store.schema_version == MIGRATIONS[-1].version == 6
        record(store, "new-1", 12, two_assignments(set(CLUSTERS)))
        trend = build_trend(store)
        diff = diff_scans(store, "old-2", "new-1")
        with store.engine.connect() as connection:
            versions = list(connection.scalars(select(migrations_table.c.version)))
    assert versions == [1, 2, 3, 4, 5, 6]
    # the resources of scans stored before they were counted, counted from their records on upgrade: a cluster
    # is compliant when both assignments say so
    assert [(point.compliant, point.total) for point in trend.resources.points] == [(1, 4), (2, 4), (4, 4)]
    assert [scan.scan_id for scan in trend.scans] == ["old-1", "old-2", "new-1"]
    assert {series.name: [point.percentage for point in series.points] for series in trend.by_policy} == {
        f"{TITLE} (arc-policy-edge)": [50.0, 100.0, 100.0],
        f"{TITLE} (arc-policy-prod)": [25.0, 50.0, 100.0]}
    # diff still matches records on (resource, assignment, reference id), old rows and new alike.
    assert sorted((change.resource_id.rsplit("/", 1)[-1], change.policy_assignment_name) for change in diff.fixed) == [
        ("edge-3", "arc-policy-prod"), ("edge-4", "arc-policy-prod")]
    assert diff.newly_non_compliant == []
