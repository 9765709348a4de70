"""Applicability as the docs' "What is applicability in Azure Policy?" page says, one test per row of
its table of special cases (learn.microsoft.com/azure/governance/policy/concepts/policy-applicability).

``evaluate`` returns None for a resource the policy does not apply to; an applicable resource whose
``if`` is false gets a Compliant outcome (Audit, Deny, Modify, Append ...), never "absent".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.policy import compile_policy
from engine.errors import InputError
from engine.evaluate import prepare_scan, run_scan
from engine.history.store import HistoryStore
from engine.inventory import Fleet
from engine.output import ScanMetadata
from engine.output.summary import StateCounts

from .builders import NOW, assignment, audit_rule, cluster, extension, write_json

CONNECTED = "Microsoft.Kubernetes/connectedClusters"
K3S = cluster("prod-1", distribution="k3s")
EKS = cluster("prod-2", distribution="eks")
DEV = cluster("dev-1", distribution="k3s")
PROVISIONED = {**cluster("hybrid-1", distribution="eks"), "kind": "ProvisionedCluster"}
FLUX = extension(K3S, "flux", "microsoft.flux")
SUBSCRIPTION = {"id": "/subscriptions/00000000-0000-0000-0000-000000000001", "name": "sub",
                "type": "Microsoft.Resources/subscriptions", "properties": {"state": "Enabled"}}


def state(condition: dict[str, Any], resource: dict[str, Any], effect: str = "audit") -> str:
    """"NotApplicable", "Compliant" or "NonCompliant" for ``resource`` under an ``effect`` rule."""
    policy = audit_rule(condition) if effect == "audit" else _compiled(condition, effect)
    decided = policy.evaluate(resource, {}, NOW)
    if decided is None:
        return "NotApplicable"
    return "Compliant" if decided[1].compliant else "NonCompliant"


def _compiled(condition: dict[str, Any], effect: str, details: dict[str, Any] | None = None) -> Any:
    then = {"effect": effect, **({"details": details} if details else {})}
    definition = PolicyDefinition.model_validate({
        "id": "/providers/Microsoft.Authorization/policyDefinitions/t", "name": "t", "mode": "All",
        "policyRule": {"if": condition, "then": then}, "source": "t.json"})
    return compile_policy(definition, {}, {})


NOT_ALLOWED_DISTRIBUTION = {"allOf": [{"field": "type", "equals": CONNECTED},
                                      {"field": f"{CONNECTED}/distribution", "notIn": ["k3s", "aks"]}]}


@pytest.mark.parametrize("effect", ["audit", "deny", "modify", "append", "denyAction"])
def test_other_effects_apply_by_type_and_an_allowed_resource_is_compliant(effect: str) -> None:
    """The issue's example: an allowed distribution is Compliant, not "not applicable"."""
    assert state(NOT_ALLOWED_DISTRIBUTION, K3S, effect) == "Compliant"
    assert state(NOT_ALLOWED_DISTRIBUTION, EKS, effect) == "NonCompliant"
    assert state(NOT_ALLOWED_DISTRIBUTION, FLUX, effect) == "NotApplicable"  # the type condition fails


def test_compliant_outcome_names_the_conditions_that_failed() -> None:
    _, outcome = audit_rule(NOT_ALLOWED_DISTRIBUTION).evaluate(K3S, {}, NOW)
    assert [reason.path for reason in outcome.reasons] == ["policyRule.if.allOf[1]"]


def test_if_not_exists_effects_apply_where_the_whole_if_holds() -> None:
    details = {"type": "Microsoft.KubernetesConfiguration/extensions"}
    for effect in ("auditIfNotExists", "deployIfNotExists"):
        policy = _compiled(NOT_ALLOWED_DISTRIBUTION, effect, details)
        assert policy.evaluate(K3S, {}, NOW) is None  # distribution allowed: the if is false
        assert policy.evaluate(EKS, {}, NOW)[1].compliant is False


def test_other_conditions_count_as_true_and_false_under_not() -> None:
    """``not`` around a non-type condition must not make the resource inapplicable."""
    condition = {"allOf": [{"field": "type", "equals": CONNECTED},
                           {"not": {"field": "tags", "containsKey": "environment"}}]}
    assert state(condition, K3S) == "Compliant"  # has the tag: if false, still applicable
    assert state({"not": {"anyOf": [{"field": "type", "notEquals": CONNECTED},
                                    {"field": f"{CONNECTED}/distribution", "equals": "k3s"}]}}, K3S) == "Compliant"
    assert state({"not": {"anyOf": [{"field": "type", "notEquals": CONNECTED},
                                    {"field": f"{CONNECTED}/distribution", "equals": "k3s"}]}}, FLUX) == "NotApplicable"


# --- the docs' table of special cases, one test per row ---------------------------------------------


def test_row_any_invalid_alias_in_if_makes_the_policy_not_applicable(tmp_path: Path) -> None:
    """In an initiative the member is not applicable to any resource (listed with the reason) and the
    other members run; a definition assigned alone is refused (exit 2), as Azure refuses to create a
    definition naming an invalid alias; --strict-aliases refuses the initiative too."""
    typo = {"allOf": [{"field": "type", "equals": CONNECTED}, {"field": f"{CONNECTED}/noSuchAlias", "equals": "x"}]}
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "typo.json", {"name": "typo", "policyRule": {"if": typo, "then": {"effect": "audit"}}})
    write_json(folder / "fine.json", {"name": "fine", "policyRule": {"if": NOT_ALLOWED_DISTRIBUTION,
                                                                     "then": {"effect": "audit"}}})
    write_json(folder / "set.json", {"name": "set", "policyDefinitions": [
        {"policyDefinitionId": "typo", "policyDefinitionReferenceId": "typo"},
        {"policyDefinitionId": "fine", "policyDefinitionReferenceId": "fine"}]})
    initiative = write_json(tmp_path / "a.json", assignment("set", "set"))
    result = run_scan(Fleet([K3S, FLUX]), prepare_scan([folder], [initiative], timestamp=NOW), workers=1)
    rows = {row.policy_definition_reference_id: row for row in result.summary}
    assert "noSuchAlias" in rows["typo"].not_evaluated and "not applicable" in rows["typo"].not_evaluated
    assert {record.policy_definition_reference_id for record in result.records} == {"fine"}
    alone = write_json(tmp_path / "alone.json", assignment("typo", "typo"))
    with pytest.raises(InputError, match=re.escape("policyRule.if.allOf[1].field: unknown field or alias")):
        prepare_scan([folder], [alone], timestamp=NOW)
    with pytest.raises(InputError, match="noSuchAlias"):
        prepare_scan([folder], [initiative], timestamp=NOW, kind_options={"azure-policy": {"strict_aliases": True}})


def test_row_only_kind_conditions_apply_to_every_resource() -> None:
    condition = {"field": "kind", "equals": "ProvisionedCluster"}
    assert state(condition, K3S) == "Compliant" and state(condition, FLUX) == "Compliant"
    assert state(condition, PROVISIONED) == "NonCompliant"


def test_row_only_name_conditions_apply_to_every_resource() -> None:
    condition = {"anyOf": [{"field": "name", "like": "prod-*"}, {"field": "name", "equals": "flux-x"}]}
    assert state(condition, DEV) == "Compliant" and state(condition, FLUX) == "Compliant"
    assert state(condition, K3S) == "NonCompliant"


def test_row_only_type_and_kind_conditions_consider_the_type() -> None:
    condition = {"allOf": [{"field": "type", "equals": CONNECTED}, {"field": "kind", "equals": "ProvisionedCluster"}]}
    assert state(condition, K3S) == "Compliant"  # kind differs: still applicable
    assert state(condition, PROVISIONED) == "NonCompliant"
    assert state(condition, FLUX) == "NotApplicable"


def test_row_only_type_and_name_conditions_consider_the_type() -> None:
    condition = {"allOf": [{"field": "type", "equals": CONNECTED}, {"field": "name", "like": "dev-*"}]}
    assert state(condition, K3S) == "Compliant"  # name differs: still applicable
    assert state(condition, DEV) == "NonCompliant"
    assert state(condition, FLUX) == "NotApplicable"


def test_row_type_kind_and_other_conditions_consider_type_and_kind() -> None:
    condition = {"allOf": [{"field": "type", "equals": CONNECTED}, {"field": "kind", "equals": "ProvisionedCluster"},
                           {"field": f"{CONNECTED}/distribution", "equals": "k3s"}]}
    assert state(condition, K3S) == "NotApplicable"  # kind differs
    assert state(condition, PROVISIONED) == "Compliant"  # kind matches, distribution eks
    assert state({**condition, "allOf": [*condition["allOf"][:2], {"field": f"{CONNECTED}/distribution",
                                                                    "equals": "eks"}]}, PROVISIONED) == "NonCompliant"


def test_row_type_name_and_other_conditions_consider_type_and_name() -> None:
    condition = {"allOf": [{"field": "type", "equals": CONNECTED}, {"field": "name", "like": "prod-*"},
                           {"field": f"{CONNECTED}/distribution", "equals": "k3s"}]}
    assert state(condition, DEV) == "NotApplicable"  # name differs
    assert state(condition, EKS) == "Compliant"  # prod-2: name matches, distribution eks
    assert state(condition, K3S) == "NonCompliant"


def test_row_a_location_condition_makes_subscriptions_not_applicable() -> None:
    with_location = audit_rule({"field": "location", "notIn": ["westeurope"]})
    assert not with_location.applies_to("microsoft.resources/subscriptions")
    assert with_location.applies_to("microsoft.kubernetes/connectedclusters")
    assert audit_rule({"field": "tags", "containsKey": "x"}).applies_to("microsoft.resources/subscriptions")
    # "including deployment parameters": a DINE passing field('location') to its deployment
    dine = _compiled({"field": "type", "equals": "Microsoft.Resources/subscriptions"}, "deployIfNotExists", {
        "type": "Microsoft.Security/pricings", "deployment": {"properties": {
            "mode": "incremental", "template": {}, "parameters": {"region": {"value": "[field('location')]"}}}}})
    assert not dine.applies_to("microsoft.resources/subscriptions")
    assert state({"field": "tags", "containsKey": "x"}, SUBSCRIPTION) == "Compliant"


# --- compliance percentages count the Compliant records of applicable resources ----------------------


def test_summary_output_and_history_count_compliant_records(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    write_json(folder / "distribution.json", {"policyRule": {"if": NOT_ALLOWED_DISTRIBUTION,
                                                             "then": {"effect": "audit"}}})
    fleet = Fleet([K3S, FLUX, EKS, DEV])
    result = run_scan(fleet, prepare_scan([folder], timestamp=NOW), workers=1)
    [row] = result.summary
    assert (row.compliant, row.non_compliant, row.not_applicable) == (2, 1, 1)  # the extension: not applicable
    counts = StateCounts.of(record.compliance_state for record in result.records)
    assert counts.percentage == 66.7
    with HistoryStore(str(tmp_path / "history.db")) as store:
        store.record_scan(ScanMetadata(started_at=NOW, inventory_source="test", scan_id="s1"), result.records)
        [point] = store.compliance_by("policy")
    assert (point.compliant, point.total) == (2, 3)
