"""Definitions (initiative members) arcpolicy cannot evaluate offline are listed with their reason,
in the scan's terminal output and its summary, while the others run."""

from __future__ import annotations

from pathlib import Path

from azure_policy.builders import assignment, cluster, write_json

from engine.cli.main import main
from engine.evaluate import prepare_scan, run_scan
from engine.inventory import Fleet

GATEKEEPER = {"name": "k8s-no-privileged", "properties": {
    "displayName": "No privileged containers", "mode": "Microsoft.Kubernetes.Data",
    "policyRule": {"if": {"field": "type", "in": ["Microsoft.Kubernetes/connectedClusters"]},
                   "then": {"effect": "audit", "details": {"templateInfo": {"sourceType": "PublicURL", "url": "x"}}}}}}
K3S_ONLY = {"name": "k3s-only", "properties": {
    "displayName": "Only k3s", "mode": "Indexed",
    "policyRule": {"if": {"allOf": [{"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                                    {"field": "Microsoft.Kubernetes/connectedClusters/distribution",
                                     "notEquals": "k3s"}]}, "then": {"effect": "audit"}}}}
INITIATIVE = {"name": "baseline", "properties": {"displayName": "Baseline", "policyDefinitions": [
    {"policyDefinitionId": "k8s-no-privileged", "policyDefinitionReferenceId": "privileged"},
    {"policyDefinitionId": "k3s-only", "policyDefinitionReferenceId": "k3s"}]}}


def _policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    for document in (GATEKEEPER, K3S_ONLY, INITIATIVE):
        write_json(folder / f"{document['name']}.json", document)
    return folder


def test_resource_provider_member_is_listed_and_the_others_run(tmp_path: Path) -> None:
    request = prepare_scan([_policies(tmp_path)], [write_json(tmp_path / "a.json", assignment("baseline", "baseline"))])
    result = run_scan(Fleet([cluster("c1"), cluster("c2", distribution="eks")]), request, workers=1)
    rows = {row.policy_definition_reference_id: row for row in result.summary}
    assert "resource-provider mode" in rows["privileged"].not_evaluated
    assert (rows["k3s"].compliant, rows["k3s"].non_compliant, rows["k3s"].not_evaluated) == (1, 1, None)
    assert {record.policy_definition_reference_id for record in result.records} == {"k3s"}


def test_scan_output_names_each_member_not_evaluated(tmp_path: Path, capsys) -> None:
    fleet = write_json(tmp_path / "fleet.json", [cluster("c1")])
    status = main(["scan", "-i", str(fleet), "-p", str(_policies(tmp_path)), "-o", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert status == 0
    lines = [line for line in err.splitlines() if line.startswith("not evaluated:")]
    # the definition assigned alone, and the initiative's member
    assert lines == [
        "not evaluated: 'No privileged containers' (assignment k8s-no-privileged): mode Microsoft.Kubernetes.Data "
        "is a resource-provider mode: Azure evaluates it on the provider's own data (in the cluster, the vault "
        "...), not on ARM resources",
        "not evaluated: 'No privileged containers [privileged]' (assignment baseline): mode "
        "Microsoft.Kubernetes.Data is a resource-provider mode: Azure evaluates it on the provider's own data (in "
        "the cluster, the vault ...), not on ARM resources"]
    table_rows = [line for line in err.splitlines() if "No privileged" in line and not line.startswith("not evaluated")]
    assert table_rows and all("not evaluated" in line for line in table_rows)  # the summary table's cell


def test_report_files_list_what_was_not_evaluated(tmp_path: Path) -> None:
    fleet = write_json(tmp_path / "fleet.json", [cluster("c1"), cluster("c2", distribution="eks")])
    outputs = [tmp_path / "report.md", tmp_path / "report.html", tmp_path / "table.txt"]
    status = main(["scan", "-i", str(fleet), "-p", str(_policies(tmp_path)),
                   "-a", str(write_json(tmp_path / "a.json", assignment("baseline", "baseline"))),
                   *(option for path in outputs for option in ("-o", str(path)))])
    assert status == 1
    markdown, html, table = (path.read_text() for path in outputs)
    assert "## Not evaluated" in markdown and "No privileged containers [privileged]" in markdown
    assert "<h2>Not evaluated</h2>" in html and "resource-provider mode" in html
    assert "not evaluated: 'No privileged containers [privileged]' (assignment baseline): mode " in table
