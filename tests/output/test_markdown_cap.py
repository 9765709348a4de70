"""Markdown for pull-request comments fits GitHub's 65,536-character limit and says what it left out:
the cap itself (fuzzed), and the real what-if and plan renderers on 10,000-cluster results."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from plan.builders import AZURE_POLICY, DEFENDER, NOW, cluster, fleet, wanted

from engine.history.diff import Change
from engine.history.store import AssignedDefinition
from engine.history.whatif import AssignmentImpact, AssignmentSets, WhatIf
from engine.history.whatif_formats import render_markdown as render_whatif_markdown
from engine.models.results import ComplianceState
from engine.output.markdown_cap import GITHUB_COMMENT_LIMIT, cap_markdown
from remediation.plan.builder import build_plan
from remediation.plan.models import Conflict
from remediation.report import render_markdown as render_plan_markdown

CLUSTERS = 10_000
CLOSING = re.compile(r"^_Cut to fit GitHub's 65,536-character comment limit: left out (?P<what>.*)\. "
                     r"The full report: (?P<where>.*)\._$")


def cluster_id(index: int) -> str:
    return (f"/subscriptions/00000000-0000-0000-0000-{index % 40:012d}/resourceGroups/rg-edge-{index % 97:02d}"
            f"/providers/Microsoft.Kubernetes/connectedClusters/arc-site-{index:05d}")


def test_short_markdown_is_left_alone():
    text = "## title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert cap_markdown(text, "x.json") == text


def test_the_closing_line_counts_what_each_section_lost():
    rows = [f"| row {index} | {'x' * 80} |" for index in range(300)]
    items = [f"- item {index}" for index in range(50)]
    text = "\n".join(["# Report", "", "summary", "", "## Rows", "", "| a | b |", "|---|---|", *rows, "",
                      "## Items", "", *items]) + "\n"
    capped = cap_markdown(text, "report.json", limit=10_000)
    assert len(capped) <= 10_000
    kept_rows = sum(1 for line in capped.splitlines() if line.startswith("| row "))
    closing = CLOSING.pattern.replace("65,536", "10,000")
    match = re.match(closing, capped.splitlines()[-1])
    assert match and match["where"] == "report.json"
    assert match["what"] == f'{300 - kept_rows} entries of "Rows", the section "Items" (50 entries)'
    assert capped.startswith("# Report\n\nsummary\n\n## Rows\n\n| a | b |\n|---|---|\n| row 0 |")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(lines=st.lists(st.text(max_size=300), max_size=80), limit=st.integers(min_value=1_200, max_value=6_000))
def test_capped_markdown_always_fits_and_keeps_whole_lines(lines, limit):
    text = "\n".join(lines)
    capped = cap_markdown(text, "plan.json", limit=limit)
    assert len(capped) <= limit
    if len(text) <= limit:
        assert capped == text
    else:
        kept, closing = capped.rstrip("\n").rsplit("\n\n", 1) if "\n\n" in capped else ("", capped)
        assert text.startswith(kept)
        assert closing.startswith("_Cut to fit GitHub's")


def test_whatif_markdown_of_10000_newly_non_compliant_clusters_fits_a_comment():
    reasons = ["policyRule.then.details.existenceCondition.allOf[0]: releaseTrain is Preview, expected Stable"]
    changes = [Change(resource_id=cluster_id(index), policy="monitoring-required", policy_assignment_name="monitoring",
                      before=ComplianceState.COMPLIANT, after=ComplianceState.NON_COMPLIANT, reasons=reasons)
               for index in range(CLUSTERS)]
    fixed = [change.model_copy(update={"before": ComplianceState.NON_COMPLIANT, "after": ComplianceState.COMPLIANT})
             for change in changes[:500]]
    impacts = [AssignmentImpact(assignment_id="/providers/Microsoft.Authorization/policyAssignments/monitoring",
                                assignment_name="monitoring", title="Azure Monitor on the Stable train",
                                non_compliant_before=700, non_compliant_after=10_200, newly_non_compliant=changes,
                                newly_compliant=fixed, new_records=[], removed_records=[]),
               AssignmentImpact(assignment_id="/providers/Microsoft.Authorization/policyAssignments/flux",
                                assignment_name="flux", title="Flux auto-upgrade", non_compliant_before=3,
                                non_compliant_after=3, newly_non_compliant=[], newly_compliant=[], new_records=[],
                                removed_records=[])]
    report = WhatIf(baseline_scan_id="20261130T060000Z-abc123", baseline_started_at=datetime(2026, 11, 30, 6, tzinfo=UTC),
                    baseline_policy_fingerprint="sha256:" + "a" * 64, policy_fingerprint="sha256:" + "b" * 64,
                    baseline_tool_version="0.0.9",
                    clusters=CLUSTERS, definitions_added=[AssignedDefinition(
                        assignment_id="x", assignment_name="x", definition_id="rego:contoso.new")],
                    definitions_removed=[], assignments=impacts,
                    assignment_sets=AssignmentSets(source="given", baseline=2, compared=2))
    text = render_whatif_markdown(report)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    lines = text.splitlines()
    assert lines[0] == "## arcpolicy what-if"
    assert "**10000 records become non-compliant**, 500 become compliant" in text
    assert "| `monitoring` | `Azure Monitor on the Stable train` | 700 | 10200 | 10000 | 500 | 0 | 0 |" in lines
    assert "1 assignments unchanged." in lines and "Definitions added: `rego:contoso.new`." in lines
    assert any(line.startswith("The baseline's verdicts were recorded by arcpolicy `0.0.9`") for line in lines)
    listed = [line for line in lines if line.startswith("- `arc-site-")]
    assert 0 < len(listed) < CLUSTERS
    match = CLOSING.match(lines[-1])
    assert match, lines[-1]
    assert match["what"] == (f'{CLUSTERS - len(listed):,} entries of "Newly non-compliant: `monitoring` (10000)", '
                             'the section "Newly compliant: `monitoring` (500)" (500 entries)')


def test_plan_markdown_at_10000_clusters_fits_a_comment():
    """The conflicts section used to be unbounded (467 KB at 10,000 clusters); the plan itself is real (a few
    clusters planned by the plan builder), its conflicts are made one per cluster, cheaply."""
    clusters = [cluster(f"c{index}") for index in range(3)]
    plan = build_plan([item for each in clusters for name in (DEFENDER, AZURE_POLICY)
                       for item in wanted(each, name, name.split("_")[0])], fleet(*clusters), created_at=NOW)
    conflicts = [Conflict(resource_id=f"{cluster_id(index)}/providers/Microsoft.KubernetesConfiguration/extensions/"
                                      "azuremonitor-containers",
                          message="policies want different bodies: properties.configurationSettings."
                                  "logAnalyticsWorkspaceResourceID differs between monitoring-a and monitoring-b")
                 for index in range(CLUSTERS)]
    big = plan.model_copy(update={"conflicts": conflicts})
    text = render_plan_markdown(big)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert text.startswith("## arcpolicy remediation plan")
    assert f"{len(plan.operations)} operations" in text and f"{CLUSTERS} conflicts" in text
    assert "### Waves" in text and "### Skipped and deferred" in text  # the sections before the conflicts stay
    listed = [line for line in text.splitlines() if line.startswith("- `/subscriptions/")]
    match = CLOSING.match(text.splitlines()[-1])
    assert match and match["where"] == "plan.json (and the HTML report, --report)"
    assert match["what"] == f'{CLUSTERS - len(listed):,} entries of "Conflicts"'
    assert "_Cut to fit" not in render_plan_markdown(plan)  # a plan that fits is not cut
