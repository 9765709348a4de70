"""Every plan summary counts operations by action and resource type, deletes first and marked, and updates show
what they change, before -> after, protected values masked (issue 22): plan.json, the Markdown, the HTML (each
parsed back) and the terminal, against counts made here from the operations."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from plan.builders import DEFENDER, NOW, cluster, extension, fleet, state, wanted

from engine.cli.main import main
from engine.inventory import write_snapshot
from remediation.plan.builder import build_plan
from remediation.plan.io import write_plan
from remediation.plan.models import Plan
from remediation.plan.requests import wanted_from_rego
from remediation.report import render_html, render_markdown
from report.html_tables import HtmlTables

PROTECTED_VALUE = "key-3f9a1c-never-shown"


def flux_update(arc: dict) -> dict:
    return {"name": "flux", "action": "update", "properties": {
        "extensionType": "microsoft.flux", "releaseTrain": "Stable", "autoUpgradeMinorVersion": True,
        "configurationProtectedSettings": {"sshKey": PROTECTED_VALUE}}}


def sample() -> tuple[Plan, list]:
    """c1: Flux on Preview, pinned, updated to Stable with a protected setting, and OSM deleted; c2: Defender
    created with its resource group and workspace; c3: Flux on Preview updated too."""
    c1, c2, c3 = cluster("c1"), cluster("c2"), cluster("c3", group="rg-c")
    flux_1, flux_3 = extension(c1, "flux", "microsoft.flux"), extension(c3, "flux", "microsoft.flux")
    for item in (flux_1, flux_3):
        item["properties"].update(releaseTrain="Preview", autoUpgradeMinorVersion=False)
    osm = extension(c1, "osm", "microsoft.openservicemesh")
    wanted_ops = [*wanted_from_rego(state(c1, "rego-policy", "flux-stable", action="audit",
                                          remediation=[flux_update(c1)])),
                  *wanted_from_rego(state(c3, "rego-policy", "flux-stable", action="audit",
                                          remediation=[flux_update(c3)])),
                  *wanted_from_rego(state(c1, "rego-retired", "retired", action="audit",
                                          remediation=[{"name": "osm", "action": "delete"}])),
                  *wanted(c2, DEFENDER)]
    resources = [c1, c2, c3, flux_1, flux_3, osm]
    return build_plan(wanted_ops, fleet(*resources), created_at=NOW), resources


def expected_kinds(plan: Plan) -> list[tuple[str, str, int]]:
    """(action, resource type, operations), deletes first, counted here from the operations."""
    counted = Counter((operation.action.value, operation.resource_type.lower()) for operation in plan.operations)
    order = {"delete": 0, "create": 1, "update": 2}
    return [(action, kind, count) for (action, kind), count in sorted(counted.items(),
                                                                     key=lambda item: (order[item[0][0]], item[0][1]))]


def test_plan_json_summary_counts_by_action_and_type_deletes_first(tmp_path: Path) -> None:
    plan, _ = sample()
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    document = json.loads(path.read_text())
    by_kind = [(kind["action"], kind["resourceType"].lower(), kind["operations"]) for kind in document["summary"]["byKind"]]
    assert by_kind == expected_kinds(plan)
    assert by_kind[0][0] == "delete" and {action for action, _, _ in by_kind} == {"delete", "create", "update"}
    assert document["summary"]["byStatus"]["planned"] == len(plan.operations)
    updates = [operation for operation in document["operations"] if operation["action"] == "update"]
    assert len(updates) == 2
    for operation in updates:
        changes = {change["path"]: (change.get("before"), change["after"]) for change in operation["changes"]}
        assert changes == {"properties.releaseTrain": ("Preview", "Stable"),
                           "properties.autoUpgradeMinorVersion": (False, True),
                           "properties.configurationProtectedSettings.sshKey": (None, "***")}
    assert all("changes" not in operation for operation in document["operations"] if operation["action"] != "update")
    assert PROTECTED_VALUE not in path.read_text()


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under ``heading``."""
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("### "):
            break
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def test_markdown_counts_by_kind_and_shows_the_changes() -> None:
    plan, _ = sample()
    text = render_markdown(plan)
    rows = markdown_table(text, "### By action and resource type")
    assert [(row[0], row[1].strip("`").lower(), int(row[2])) for row in rows] == [
        ("**DELETE**" if action == "delete" else action, kind, count) for action, kind, count in expected_kinds(plan)]
    changes = markdown_table(text, "### What the updates change")
    assert sorted((row[1].strip("`"), row[2].strip("`"), row[3].strip("`"), int(row[4])) for row in changes) == [
        ("properties.autoUpgradeMinorVersion", "false", "true", 2),
        ("properties.configurationProtectedSettings.sshKey", "(none)", '"***"', 2),
        ("properties.releaseTrain", '"Preview"', '"Stable"', 2)]
    assert PROTECTED_VALUE not in text


def test_html_counts_by_kind_marks_deletes_and_shows_each_update_s_changes() -> None:
    plan, _ = sample()
    page = render_html(plan)
    parser = HtmlTables(page)
    kinds = [(row.row_class, row.cells) for row in parser.rows if row.row_class.startswith("kind ")]
    assert [(cells[0], cells[1].lower(), int(cells[2])) for _, cells in kinds] == [
        ("DELETE" if action == "delete" else action, kind, count) for action, kind, count in expected_kinds(plan)]
    assert kinds[0][0] == "kind action-delete"
    # deletes are marked: in the kinds table and on the delete operation's own details (the one delete of OSM)
    assert parser.strong.count(("delete", "DELETE")) == 2
    grouped = [row.cells for row in parser.rows if row.row_class == "change"]
    assert sorted((cells[1], cells[2], cells[3], cells[4]) for cells in grouped) == [
        ("properties.autoUpgradeMinorVersion", "false", "true", "2"),
        ("properties.configurationProtectedSettings.sshKey", "(none)", '"***"', "2"),
        ("properties.releaseTrain", '"Preview"', '"Stable"', "2")]
    # each update's own details list its changes
    assert [table_class for _, table_class in parser.tables].count("operation-changes") == 2
    assert PROTECTED_VALUE not in page


def test_the_terminal_counts_by_kind_deletes_first_and_shows_what_updates_change(tmp_path: Path, capsys) -> None:
    """``arcpolicy plan`` on a fleet whose one cluster has OSM (retired: deleted by the shipped Rego policy),
    Flux without auto-upgrade (updated) and lacks Defender (created): the terminal's counts by kind are the ones
    recounted from plan.json's operations, and the update's change reads before -> after."""
    arc = cluster("c1", location="eastus")
    arc["properties"]["distribution"] = "openshift"
    flux = extension(arc, "flux", "microsoft.flux")
    flux["properties"].update(autoUpgradeMinorVersion=False, version="1.14.1", releaseTrain="Stable")
    osm = extension(arc, "osm", "microsoft.openservicemesh")
    fleet_file = tmp_path / "fleet.json"
    write_snapshot(fleet_file, [arc, flux, osm])
    assert main(["plan", "-i", str(fleet_file), "-p", "builtin:rego", "--workers", "1",
                 "-o", str(tmp_path / "plan.json")]) == 0
    lines = capsys.readouterr().err.splitlines()
    operations = json.loads((tmp_path / "plan.json").read_text())["operations"]
    start = next(index for index, line in enumerate(lines) if line.startswith("plan: ") and "operations (" in line)
    kinds = []
    for line in lines[start + 1:]:
        match = re.fullmatch(r"  (DELETE|create|update) +(\S+): (\d+) \((.*)\)", line)
        if match is None:
            break
        kinds.append((match[1], match[2].lower(), int(match[3])))
    order = {"delete": 0, "create": 1, "update": 2}
    counted = Counter((operation["action"], operation["resourceType"].lower()) for operation in operations)
    assert kinds == [("DELETE" if action == "delete" else action, kind, count) for (action, kind), count
                     in sorted(counted.items(), key=lambda item: (order[item[0][0]], item[0][1]))]
    assert {action for action, _, _ in kinds} == {"DELETE", "create", "update"}
    # the update's change, before -> after, as plan.json's operation has it
    [update] = [operation for operation in operations if operation["action"] == "update"]
    heading = lines.index("  updates change (before -> after, operations):")
    shown = lines[heading + 1:heading + 1 + len(update["changes"])]
    assert sorted(shown) == sorted(f"    extensions {change['path']}: "
                                   f"{json.dumps(change['before']) if 'before' in change else '(none)'} -> "
                                   f"{json.dumps(change['after'])} (1)" for change in update["changes"])
    assert "    extensions properties.autoUpgradeMinorVersion: false -> true (1)" in shown
