"""Azure's overall resource compliance next to the per-record figure, in every summary (issue 22, item 7).

The docs ("Azure Policy compliance states", "Get compliance data of Azure resources"): a resource rolls up to
non-compliant when one applicable assignment finds it non-compliant; the overall resource compliance is the
distinct compliant, exempt and unknown resources over all distinct resources ("20 distinct resources that are
applicable and only one is Non-compliant. The overall resource compliance is 95% (19 out of 20)").
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from engine.models.results import ComplianceState
from engine.output import ScanMetadata, render
from engine.output.summary import ResourceCounts

from .records import SUBSCRIPTIONS, cluster_id, fleet_states, make_state

METADATA = ScanMetadata(scan_id="20250501T120000Z-abc123", inventory_source="fleet.json",
                        policy_fingerprint="f" * 64, duration_seconds=2.5)


def docs_example() -> list:
    """The docs' 20 distinct resources, one non-compliant; each under two assignments, so 40 records."""
    states = []
    for index in range(20):
        resource = cluster_id(SUBSCRIPTIONS[0], f"c{index}")
        states.append(make_state(resource, "require-defender",
                                 ComplianceState.NON_COMPLIANT if index == 0 else ComplianceState.COMPLIANT))
        states.append(make_state(resource, "require-flux", ComplianceState.COMPLIANT))
    return states


def test_the_docs_example_is_95_percent_of_resources():
    counts = ResourceCounts.of(docs_example())
    assert (counts.resources, counts.compliant_resources, counts.percentage) == (20, 19, 95.0)


def test_rollup_ranks_as_azure_does():
    """Compliant beats exempt and unknown (still compliant); non-compliant beats all; resource ids ignore case."""
    exempt_and_compliant = cluster_id(SUBSCRIPTIONS[0], "a")
    only_unknown = cluster_id(SUBSCRIPTIONS[0], "b")
    mixed_case = cluster_id(SUBSCRIPTIONS[0], "c")
    states = [make_state(exempt_and_compliant, "p1", ComplianceState.EXEMPT),
              make_state(exempt_and_compliant, "p2", ComplianceState.COMPLIANT),
              make_state(only_unknown, "p1", ComplianceState.UNKNOWN),
              make_state(mixed_case, "p1", ComplianceState.COMPLIANT),
              make_state(mixed_case.upper(), "p2", ComplianceState.NON_COMPLIANT)]
    counts = ResourceCounts.of(states)
    assert (counts.resources, counts.non_compliant_resources) == (3, 1)


def test_every_summary_names_both_figures():
    """fleet_states: 8 resources (4 clusters, their flux extensions), 12 records; edge-2 and edge-3 lack Defender
    and edge-1's extension is an Error record: 3 non-compliant resources, 5 of 8 compliant (62.5%)."""
    states = fleet_states()
    table = render("table", states, METADATA)
    assert re.search(r"overall resource compliance 62\.5% \(5 of 8 resources compliant with every assignment; "
                     r"3 non-compliant resources\); policy states 75\.0% compliant \(2 non-compliant of 12\)", table)
    markdown = render("markdown", states, METADATA)
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in markdown.splitlines() if line.startswith("| overall") or line.startswith("| policy states")}
    assert rows["overall resource compliance (resources)"][:3] == ["62.5%", "5", "3"]
    assert rows["overall resource compliance (resources)"][-1] == "8"
    assert rows["policy states (records)"] == ["75.0%", "8", "2", "1", "1", "12"]
    cells = _row_cells(render("html", states, METADATA))
    assert cells["resource-compliance"] == ["62.5%", "5", "3", "", "", "8"]
    assert cells["policy-state-compliance"] == ["75.0%", "8", "2", "1", "1", "12"]


def _row_cells(html: str) -> dict[str, list[str]]:
    """The <td> texts of every <tr id=...>."""

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: dict[str, list[str]] = {}
            self.current: str | None = None
            self.in_cell = False

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.current = dict(attrs).get("id")
                if self.current:
                    self.rows[self.current] = []
            elif tag == "td" and self.current:
                self.in_cell = True
                self.rows[self.current].append("")

        def handle_endtag(self, tag):
            if tag == "td":
                self.in_cell = False
            elif tag == "tr":
                self.current = None

        def handle_data(self, data):
            if self.in_cell and self.current:
                self.rows[self.current][-1] += data.strip()

    parser = Rows()
    parser.feed(html)
    return parser.rows
