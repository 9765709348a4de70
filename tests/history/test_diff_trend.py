"""Diff between stored scans, and the trend report and chart built from the store."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from output.records import fleet_states

from engine.history import HistoryStore, ScanMetadata, build_trend, diff_scans, overall_svg, render_trend_html
from engine.models.results import ComplianceState, PolicyState

START = datetime(2025, 5, 1, tzinfo=UTC)


def record(store: HistoryStore, scan_id: str, hours: int, states) -> None:
    store.record_scan(ScanMetadata(scan_id=scan_id, started_at=START + timedelta(hours=hours)), states)


def test_diff_reports_newly_non_compliant_fixed_new_and_gone(store_url):
    before = fleet_states(frozenset({"edge-2", "edge-3"}), clusters=("edge-1", "edge-2", "edge-3", "core-1"))
    # edge-2 fixed, edge-1 broke, core-1 gone, edge-4 new and non-compliant; edge-3 still non-compliant.
    after = fleet_states(frozenset({"edge-1", "edge-3", "edge-4"}), clusters=("edge-1", "edge-2", "edge-3", "edge-4"))
    for state in after:  # resource ids compare case-insensitively, like ARM
        state.resource_id = state.resource_id.replace("edge-3", "EDGE-3")
    with HistoryStore(store_url) as store:
        record(store, "a", 0, before)
        record(store, "b", 6, after)
        diff = diff_scans(store, "latest~1", "latest")
    assert (diff.before_scan_id, diff.after_scan_id) == ("a", "b")
    assert sorted(change.resource_id.split("/")[-1] for change in diff.newly_non_compliant) == ["edge-1", "edge-4"]
    assert {change.before for change in diff.newly_non_compliant} == {ComplianceState.COMPLIANT, None}
    assert [change.resource_id.split("/")[-1] for change in diff.fixed] == ["edge-2"]
    assert diff.fixed[0].after is ComplianceState.COMPLIANT
    assert {resource.split("/")[8] for resource in diff.new_resources} == {"edge-4"}
    assert len(diff.new_resources) == 2  # the cluster and its flux extension
    assert {resource.split("/")[8] for resource in diff.gone_resources} == {"core-1"}
    assert diff.to_json()["newlyNonCompliant"][0]["policy"] == "require-defender"


def assigned_at_the_root(states: list[PolicyState]) -> list[PolicyState]:
    """The states as if each policy had one assignment for every subscription (a management group's)."""
    for state in states:
        state.policy_assignment_id = (f"/providers/Microsoft.Management/managementGroups/root/providers/"
                                      f"Microsoft.Authorization/policyAssignments/{state.policy_assignment_name}")
    return states


def test_trend_per_policy_and_subscription_with_charts(store_url):
    with HistoryStore(store_url) as store:
        record(store, "s1", 0, assigned_at_the_root(fleet_states(frozenset({"edge-1", "edge-2", "edge-3"}))))
        record(store, "s2", 6, assigned_at_the_root(fleet_states(frozenset({"edge-2"}))))
        record(store, "s3", 12, assigned_at_the_root(fleet_states(frozenset())))
        trend = build_trend(store)
        recent = build_trend(store, last=2)
    assert [scan.scan_id for scan in trend.scans] == ["s1", "s2", "s3"]
    assert [series.name for series in trend.by_policy] == ["Allowed extension versions", "Require defender",
                                                           "Require flux"]
    defender = next(series for series in trend.by_policy if series.name == "Require defender")
    assert [point.percentage for point in defender.points] == [25.0, 75.0, 100.0]
    assert [point.percentage for point in trend.overall.points] == [66.7, 83.3, 91.7]
    # Azure's overall resource compliance: 8 resources (4 clusters, 4 flux extensions); a cluster is non-compliant
    # when Defender is missing, edge-1's extension always is (its record is an Error)
    assert [(point.compliant, point.total) for point in trend.resources.points] == [(4, 8), (6, 8), (7, 8)]
    assert [point.percentage for point in trend.resources.points] == [50.0, 75.0, 87.5]
    assert len(trend.by_subscription) == 2
    assert [scan.scan_id for scan in recent.scans] == ["s2", "s3"]
    assert all(len(series.points) == 2 for series in recent.by_policy)

    svg = ET.fromstring(overall_svg(trend))
    namespace = {"svg": "http://www.w3.org/2000/svg"}
    lines = svg.findall(".//svg:polyline", namespace)
    assert len(lines) == 2 + len(trend.by_policy)  # overall resource compliance, every policy state, each policy
    assert all(len(line.get("points").split()) == 3 for line in lines)
    html = render_trend_html(trend)
    assert html.count("<svg") == 2 and "<script" not in html and "https://" not in html
    assert "Require defender" in html and "25.0%" in html and "100.0%" in html
    assert "overall resource compliance" in html and "87.5%" in html


def test_trend_of_an_empty_store_renders(store_url):
    with HistoryStore(store_url) as store:
        trend = build_trend(store)
    assert trend.scans == [] and trend.by_policy == []
    assert "0 scans" in render_trend_html(trend)
