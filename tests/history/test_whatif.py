"""``arcpolicy whatif``: a changed policy set over a stored scan's inventory, compared with its verdicts.

The expected answers come from the fleet itself (which clusters pin the version the change drops) and from
full scans of the old and the new policy set; the JSON and Markdown outputs are parsed back.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.cli.main import main
from engine.history import HistoryStore
from engine.ids import normalize
from engine.inventory import write_snapshot
from engine.inventory.generator import generate_fleet

REGO = Path(__file__).resolve().parents[2] / "policies" / "rego"
PINNED = "rego:arcpolicy.pinned_versions_allowed"
MONITORING = "rego:arcpolicy.monitoring_required"
FLUX_VERSIONS = ["1.13.1", "1.14.0", "1.14.1"]  # every pinned microsoft.flux version the generator uses


def policy_paths(*names: str) -> list[str]:
    arguments = []
    for name in (*names, "lib"):
        arguments += ["-p", str(REGO / name)]
    return arguments


def assignment(definition: str, name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": f"/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/policyAssignments",
            "properties": {"policyDefinitionId": definition, "displayName": name,
                           "parameters": {key: {"value": value} for key, value in (parameters or {}).items()}}}


def write_assignments(path: Path, flux_versions: list[str]) -> Path:
    path.write_text(json.dumps([assignment(PINNED, "pinned-versions",
                                           {"allowedVersions": {"microsoft.flux": flux_versions}}),
                                assignment(MONITORING, "monitoring")]))
    return path


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    resources = list(generate_fleet(60, seed=11))
    path = tmp_path / "fleet.json"
    write_snapshot(path, resources)
    return path, resources


def non_compliant(states_file: Path) -> set[tuple[str, str]]:
    return {(normalize(state["resourceId"]), normalize(state["policyAssignmentId"]))
            for state in json.loads(states_file.read_text())["value"] if state["complianceState"] == "NonCompliant"}


def parse_markdown(text: str) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """The summary table (assignment -> counts) and the detail sections (heading -> items)."""
    summary = {match[0]: [int(number) for number in match[1].split(" | ")]
               for match in re.findall(r"^\| `([^`]+)` \| [^|]* \| ([\d | ]+) \|$", text, re.MULTILINE)}
    sections: dict[str, list[str]] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("### "):
            heading = line[4:]
            sections[heading] = []
        elif heading and line.startswith("- "):
            sections[heading].append(line[2:])
    return summary, sections


def test_tightened_allowed_versions_equal_a_full_scan_of_the_new_set_minus_the_old(store_url, fleet, tmp_path,
                                                                                   capsys):
    snapshot, resources = fleet
    old, new = write_assignments(tmp_path / "old.json", FLUX_VERSIONS), write_assignments(
        tmp_path / "new.json", FLUX_VERSIONS[1:])
    policies = policy_paths("pinned_versions_allowed.rego", "monitoring_required.rego")
    old_states, new_states = tmp_path / "old-states.json", tmp_path / "new-states.json"
    main(["scan", "-i", str(snapshot), *policies, "-a", str(old), "--store", store_url, "-o", str(old_states)])
    main(["scan", "-i", str(snapshot), *policies, "-a", str(new), "-o", str(new_states)])
    report_file, markdown_file = tmp_path / "whatif.json", tmp_path / "whatif.md"
    assert main(["whatif", "--store", store_url, *policies, "-a", str(new), "--baseline", "latest",
                 "-o", str(report_file), "-o", str(markdown_file)]) == 1  # one evaluation, both files
    report = json.loads(report_file.read_text())

    # The right clusters: exactly those pinning microsoft.flux at the version the change drops.
    dropped = {normalize(resource["id"].split("/providers/Microsoft.KubernetesConfiguration/")[0])
               for resource in resources if resource["type"].lower().endswith("/extensions")
               and resource["properties"].get("extensionType", "").lower() == "microsoft.flux"
               and resource["properties"].get("autoUpgradeMinorVersion") is False
               and resource["properties"].get("version") == FLUX_VERSIONS[0]}
    assert dropped, "the generated fleet pins the dropped version somewhere"
    by_name = {impact["assignmentName"]: impact for impact in report["assignments"]}
    pinned = by_name["pinned-versions"]
    assert {normalize(change["resourceId"]) for change in pinned["newlyNonCompliant"]} == dropped
    assert all(any(FLUX_VERSIONS[0] in reason for reason in change["reasons"]) for change in pinned["newlyNonCompliant"])
    # ... and a full scan of the new set minus the old one.
    newly = {(normalize(change["resourceId"]), normalize(impact["assignmentId"]))
             for impact in report["assignments"] for change in impact["newlyNonCompliant"]}
    assert newly == non_compliant(new_states) - non_compliant(old_states)
    assert pinned["nonCompliantAfter"] == len({key for key in non_compliant(new_states)
                                               if key[1].endswith("/pinned-versions")})
    monitoring = by_name["monitoring"]
    assert not (monitoring["newlyNonCompliant"] or monitoring["newlyCompliant"] or monitoring["newRecords"]
                or monitoring["removedRecords"])
    # Only the assignment whose parameters changed was evaluated again; monitoring's verdicts are the baseline's.
    assert (pinned["evaluated"], monitoring["evaluated"], report["assignmentSets"]["reevaluated"]) == (True, False, 1)
    assert monitoring["nonCompliantBefore"] == monitoring["nonCompliantAfter"] == len(
        {key for key in non_compliant(old_states) if key[1].endswith("/monitoring")})
    assert report["definitionsAdded"] == report["definitionsRemoved"] == []
    assert report["clusters"] == 60 and report["baselinePolicyFingerprint"] != report["policyFingerprint"]

    # The Markdown says the same: summary table first, then each newly non-compliant cluster with its reason.
    text = markdown_file.read_text()
    summary, sections = parse_markdown(text)
    assert text.index("| assignment |") < text.index("### ")
    assert summary == {"pinned-versions": [pinned["nonCompliantBefore"], pinned["nonCompliantAfter"],
                                           len(dropped), 0, 0, 0]}
    listed = sections[f"Newly non-compliant: `pinned-versions` ({len(dropped)})"]
    names = {cluster.rsplit("/", 1)[-1] for cluster in dropped}
    assert {item.split("`")[1] for item in listed} == names
    assert all(FLUX_VERSIONS[0] in item for item in listed)
    assert "1 assignments unchanged." in text
    assert "recorded by arcpolicy" not in text  # the same engine recorded the baseline
    capsys.readouterr()


def test_a_definition_added_and_one_removed_are_named(tmp_path, fleet, capsys):
    snapshot, _ = fleet
    store = str(tmp_path / "history.db")
    before = policy_paths("monitoring_required.rego", "no_preview_in_production.rego")
    after = policy_paths("monitoring_required.rego", "retired_extensions_absent.rego")
    old_states, new_states = tmp_path / "old.json", tmp_path / "new.json"
    main(["scan", "-i", str(snapshot), *before, "--store", store, "-o", str(old_states)])
    main(["scan", "-i", str(snapshot), *after, "-o", str(new_states)])
    assert main(["whatif", "--store", store, *after, "-o", str(tmp_path / "w.json"), "-o",
                 f"markdown:{tmp_path / 'w.txt'}"]) == 1
    report = json.loads((tmp_path / "w.json").read_text())
    assert [item["definitionId"] for item in report["definitionsAdded"]] == ["rego:arcpolicy.retired_extensions_absent"]
    assert [item["definitionId"] for item in report["definitionsRemoved"]] == ["rego:arcpolicy.no_preview_in_production"]
    by_name = {impact["assignmentName"]: impact for impact in report["assignments"]}
    records = {name: [state for state in json.loads(path.read_text())["value"]
                      if state["policyAssignmentName"] == name]
               for name, path in (("arcpolicy.no_preview_in_production", old_states),
                                  ("arcpolicy.retired_extensions_absent", new_states))}
    removed = by_name["arcpolicy.no_preview_in_production"]
    assert len(removed["removedRecords"]) == len(records["arcpolicy.no_preview_in_production"]) > 0
    assert removed["newRecords"] == [] and removed["nonCompliantAfter"] == 0
    added = by_name["arcpolicy.retired_extensions_absent"]
    assert len(added["newRecords"]) == len(records["arcpolicy.retired_extensions_absent"]) > 0
    assert len(added["newlyNonCompliant"]) == sum(state["complianceState"] == "NonCompliant"
                                                  for state in records["arcpolicy.retired_extensions_absent"])
    text = (tmp_path / "w.txt").read_text()
    assert "Definitions added: `rego:arcpolicy.retired_extensions_absent (Retired extensions are absent)`." in text
    assert "Definitions removed: `rego:arcpolicy.no_preview_in_production (" in text
    summary, sections = parse_markdown(text)
    assert summary["arcpolicy.no_preview_in_production"][-1] == len(removed["removedRecords"])
    assert len(sections[f"Removed records: `arcpolicy.no_preview_in_production` ({len(removed['removedRecords'])})"]) \
        == len(removed["removedRecords"])
    capsys.readouterr()


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one scan of the generated fleet with the monitoring policy (made once: the tests copy it)."""
    directory = tmp_path_factory.mktemp("monitored")
    write_snapshot(directory / "fleet.json", generate_fleet(60, seed=11))
    assert main(["scan", "-i", str(directory / "fleet.json"), *policy_paths("monitoring_required.rego"), "--store",
                 str(directory / "history.db"), "-o", str(directory / "s.json")]) == 1
    return directory / "history.db"


def test_the_same_policy_set_changes_nothing_and_exits_0(tmp_path, monitored, capsys):
    store = tmp_path / "history.db"
    shutil.copy(monitored, store)
    capsys.readouterr()
    assert main(["whatif", "--store", str(store), *policy_paths("monitoring_required.rego")]) == 0
    table = capsys.readouterr().out
    assert "0 records become non-compliant, 0 become compliant on 60 clusters" in table
    assert "newly non-compliant" in table and "definitions added" not in table


@pytest.mark.parametrize(("arguments", "message"), [
    (["--baseline", "nope"], "no scan with this id"),
    (["--baseline", "latest~3"], "the store holds only 1 scan "),
    (["--baseline", "latest~0", "--store", "empty.db"], "the store holds no scans yet (record one with 'arcpolicy "
                                                         "scan --store')"),
    (["--store", "missing.db"], "no history store there"),
    (["-p", "missing-policies"], "missing-policies: no such file or folder"),
    (["--format", "yaml"], "yaml"),
])
def test_bad_whatif_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monitored, monkeypatch, capsys, arguments,
                                                                message):
    shutil.copy(monitored, tmp_path / "history.db")
    with HistoryStore(str(tmp_path / "empty.db")):
        pass  # a store with no scan yet
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    store = [] if "--store" in arguments else ["--store", "history.db"]
    policies = [] if "-p" in arguments else policy_paths("monitoring_required.rego")
    assert main(["whatif", *store, *policies, *arguments, "-o", "w.md"]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "w.md").exists()


def test_the_table_never_cuts_assignment_names_or_clusters(tmp_path, monitored, capsys):
    """The assignment names and clusters users copy stand whole (the table's 160 columns fold the rest)."""
    store = tmp_path / "history.db"
    shutil.copy(monitored, store)
    changed = tmp_path / "monitoring_required.rego"  # now the Preview train is required: more clusters fail
    changed.write_text((REGO / "monitoring_required.rego").read_text().replace('== "stable"', '== "preview"'))
    capsys.readouterr()
    assert main(["whatif", "--store", str(store), "-p", str(changed), "-p", str(REGO / "lib")]) == 1
    table = capsys.readouterr().out
    assert "…" not in table, table
    assert table.count("arcpolicy.monitoring_required") >= 2, table  # the summary row and each detail row
    assert re.search(r"│ (arc|aks)-site-\d{5}-\d{6} ", table), table


def pinned_at(resources: list[dict[str, Any]], extension_type: str, version: str) -> set[str]:
    """The clusters (normalized ids) pinning an extension of this type at this version."""
    return {normalize(resource["id"].split("/providers/Microsoft.KubernetesConfiguration/")[0])
            for resource in resources if resource["type"].lower().endswith("/extensions")
            and resource["properties"].get("extensionType", "").lower() == extension_type
            and resource["properties"].get("autoUpgradeMinorVersion") is False
            and resource["properties"].get("version") == version}


def test_shortening_the_flux_list_reports_every_cluster_it_fails_those_already_non_compliant_too(store_url, tmp_path,
                                                                                                 capsys):
    """Issue 22, item 3: a record already non-compliant (monitoring pinned at a version the list leaves out) that
    gains a violation (Flux pinned at the version the change drops) is reported "newly failing", and counts in
    the exit status: what-if names every cluster the change fails."""
    resources = list(generate_fleet(150, seed=3))
    snapshot = tmp_path / "fleet.json"
    write_snapshot(snapshot, resources)

    def assignments(path: Path, flux: list[str]) -> Path:
        allowed = {"microsoft.flux": flux, "microsoft.azuremonitor.containers": ["3.1.24"]}
        path.write_text(json.dumps([assignment(PINNED, "pinned-versions", {"allowedVersions": allowed})]))
        return path

    policies = policy_paths("pinned_versions_allowed.rego")
    assert main(["scan", "-i", str(snapshot), *policies, "-a", str(assignments(tmp_path / "old.json", FLUX_VERSIONS)),
                 "--store", store_url, "-o", str(tmp_path / "old.json.out.json")]) == 1
    new = assignments(tmp_path / "new.json", FLUX_VERSIONS[1:])
    assert main(["whatif", "--store", store_url, *policies, "-a", str(new), "-o", str(tmp_path / "w.json"),
                 "-o", str(tmp_path / "w.md")]) == 1
    report = json.loads((tmp_path / "w.json").read_text())
    [impact] = report["assignments"]
    failing = pinned_at(resources, "microsoft.flux", FLUX_VERSIONS[0])
    already = failing & pinned_at(resources, "microsoft.azuremonitor.containers", "3.1.23")
    assert already and failing - already, "the fleet has both kinds of cluster"
    newly = {normalize(change["resourceId"]) for change in impact["newlyNonCompliant"]}
    gaining = {normalize(change["resourceId"]) for change in impact["newlyFailing"]}
    assert newly == failing - already and gaining == already
    assert all(change["reasons"] == [f"extension flux is pinned to {FLUX_VERSIONS[0]}, which is not an allowed "
                                     "version of microsoft.flux"] for change in impact["newlyFailing"])
    assert impact["noLongerFailing"] == [] and impact["newlyCompliant"] == []
    text = (tmp_path / "w.md").read_text()
    summary, sections = parse_markdown(text)
    assert summary["pinned-versions"][6:] == [len(already), 0]  # newly failing, no longer failing
    assert {item.split("`")[1] for item in sections[f"Newly failing: `pinned-versions` ({len(already)})"]} == {
        cluster.rsplit("/", 1)[-1] for cluster in already}
    assert f"in records already non-compliant, {len(already)} newly failing" in text

    # Lengthening the list back: the same records no longer fail Flux's check, and nothing fails anew (exit 0).
    capsys.readouterr()
    assert main(["scan", "-i", str(snapshot), *policies, "-a", str(new), "--store", store_url, "-o",
                 str(tmp_path / "new.out.json")]) == 1
    old = assignments(tmp_path / "old.json", FLUX_VERSIONS)
    assert main(["whatif", "--store", store_url, *policies, "-a", str(old), "-o", str(tmp_path / "back.json")]) == 0
    [back] = json.loads((tmp_path / "back.json").read_text())["assignments"]
    assert {normalize(change["resourceId"]) for change in back["noLongerFailing"]} == already
    assert {normalize(change["resourceId"]) for change in back["newlyCompliant"]} == failing - already
    capsys.readouterr()


def test_only_assignments_whose_definition_parameters_or_exemptions_changed_are_evaluated(tmp_path, fleet, capsys):
    """Incremental what-if: an assignment is evaluated again when its definition, parameters, scope, exemptions
    or attestations change, and its answer is a full evaluation's; the others keep their baseline verdicts."""
    snapshot, _ = fleet
    store = str(tmp_path / "history.db")
    policies = policy_paths("pinned_versions_allowed.rego", "monitoring_required.rego")
    assigned = write_assignments(tmp_path / "a.json", FLUX_VERSIONS)
    main(["scan", "-i", str(snapshot), *policies, "-a", str(assigned), "--store", store, "-o", str(tmp_path / "s.json")])

    def evaluated(*arguments: str) -> dict[str, bool]:
        assert main(["whatif", "--store", store, *arguments, "-o", str(tmp_path / "w.json")]) in (0, 1)
        return {impact["assignmentName"]: impact["evaluated"]
                for impact in json.loads((tmp_path / "w.json").read_text())["assignments"]}

    assert evaluated(*policies, "-a", str(assigned)) == {"monitoring": False, "pinned-versions": False}
    exempt = tmp_path / "e.json"
    exempt.write_text(json.dumps([{
        "id": "/providers/Microsoft.Authorization/policyExemptions/all", "name": "all",
        "type": "Microsoft.Authorization/policyExemptions",
        "properties": {"policyAssignmentId": "/providers/Microsoft.Authorization/policyAssignments/monitoring",
                       "exemptionCategory": "Waiver"}}]))
    assert evaluated(*policies, "-a", str(assigned), "-e", str(exempt)) == {"monitoring": True,
                                                                            "pinned-versions": False}
    report = json.loads((tmp_path / "w.json").read_text())
    monitoring = next(impact for impact in report["assignments"] if impact["assignmentName"] == "monitoring")
    assert monitoring["nonCompliantAfter"] == 0 and monitoring["newlyCompliant"]  # exempt now
    edited = tmp_path / "rego"
    shutil.copytree(REGO, edited)
    rule = edited / "monitoring_required.rego"
    rule.write_text(rule.read_text().replace('== "stable"', '== "preview"'))
    changed = ["-p", str(edited / "pinned_versions_allowed.rego"), "-p", str(rule), "-p", str(edited / "lib")]
    assert evaluated(*changed, "-a", str(assigned)) == {"monitoring": True, "pinned-versions": True}  # Rego: the kind
    capsys.readouterr()
