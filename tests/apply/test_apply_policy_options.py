"""``apply --policy`` evaluates the touched clusters before and after with scan's options (issue 22): ``-a``
repeatable, ``--exemption`` and ``--management-groups``, each shown by what it changes in the verification.

Two sandboxes start from the same fleet and get the same plan. The first apply's assignments are scoped at the
root and at one subscription; the second's at the root (with one non-compliant cluster exempted from it) and at a
management group the ``--management-groups`` map puts that subscription in. The management-group assignment must
count what the subscription one counted, and the root one one cluster fewer: the exempted cluster's record is
Exempt, not NonCompliant.
"""

from __future__ import annotations

import json
from pathlib import Path

from plan.builders import AZURE_POLICY, BUILTINS

from engine import ids
from engine.cli.main import main

DEFINITION = BUILTINS / AZURE_POLICY
DEFINITION_ID = json.loads(DEFINITION.read_text())["id"]
GROUP = "mg-arc"


def assignment(tmp_path: Path, name: str, scope: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/policyAssignments/{name}",
                                "name": name, "properties": {"scope": scope, "policyDefinitionId": DEFINITION_ID}}))
    return path


def verification(running, plan_file: Path, result: Path, *options: str) -> dict[str, int]:
    """Each assignment's non-compliant records among the touched clusters before the apply."""
    status = main(["apply", str(plan_file), "--arm-endpoint", running.url, "--ca-bundle",
                   str(running.endpoint.ca_bundle), "--credential", "sandbox", "--journal",
                   str(result.with_suffix(".sqlite")), "-o", str(result), "--policy", str(DEFINITION), *options])
    assert status in (0, 1), result.read_text()
    rows = json.loads(result.read_text())["verification"]["policies"]
    return {row["policyAssignmentId"].rsplit("/", 1)[-1]: row["beforeNonCompliant"] for row in rows}


def test_apply_takes_repeatable_assignments_exemptions_and_management_groups(sandbox_factory, tmp_path: Path
                                                                              ) -> None:
    first, second = sandbox_factory(provisioning_seconds=0), sandbox_factory(provisioning_seconds=0)
    root = assignment(tmp_path, "policy-extension-root", "/")
    plan_file = tmp_path / "plan.json"
    assert main(["plan", "-i", str(first.fleet_file), "-p", str(DEFINITION), "-a", str(root), "--workers", "1",
                 "-o", str(plan_file)]) == 0
    operations = json.loads(plan_file.read_text())["operations"]
    # a cluster the plan creates the extension on: it lacks it, so its record is NonCompliant before the apply
    created = next(operation for operation in operations if operation["action"] == "create"
                   and operation["status"] == "planned" and operation["resourceType"].lower().endswith("/extensions"))
    cluster_id = ids.owning_cluster_id(created["resourceId"])
    subscription = ids.parse_resource_id(cluster_id).subscription_id

    by_subscription = assignment(tmp_path, "policy-extension-subscription", f"/subscriptions/{subscription}")
    baseline = verification(first, plan_file, tmp_path / "first.json", "-a", str(root), "-a", str(by_subscription))

    by_group = assignment(tmp_path, "policy-extension-group", f"/providers/Microsoft.Management/managementGroups/{GROUP}")
    exemption = tmp_path / "exemption.json"
    exemption.write_text(json.dumps({
        "id": f"{cluster_id}/providers/Microsoft.Authorization/policyExemptions/waiver", "name": "waiver",
        "properties": {"policyAssignmentId": json.loads(root.read_text())["id"], "exemptionCategory": "Waiver"}}))
    groups = tmp_path / "management-groups.json"
    groups.write_text(json.dumps({subscription: [GROUP]}))
    options = verification(second, plan_file, tmp_path / "second.json", "-a", str(root), "-a", str(by_group),
                           "-e", str(exemption), "--management-groups", str(groups))

    assert baseline["policy-extension-root"] > baseline["policy-extension-subscription"] > 0
    assert options == {"policy-extension-root": baseline["policy-extension-root"] - 1,  # the exempted cluster
                       "policy-extension-group": baseline["policy-extension-subscription"]}
