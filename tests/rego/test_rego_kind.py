"""Rego policies assigned like Azure definitions: parameters, scope, notScopes and exemptions."""

from __future__ import annotations

from datetime import UTC, datetime

from rego_fixtures import CLUSTER_ID, cluster, extension

from engine import ids
from engine.azure_policy.documents import PolicyAssignment, PolicyExemption
from engine.evaluate.kinds import KINDS
from engine.evaluate.scope import AssignmentScope, Exemptions
from engine.rego.kind import RegoKind
from policies import LIBRARY

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000001"
PINNED = "rego:arcpolicy.pinned_versions_allowed"


def assignment(name: str, definition_id: str, parameters: dict | None = None, scope: str = SUBSCRIPTION,
               not_scopes: tuple[str, ...] = ()) -> PolicyAssignment:
    return PolicyAssignment(id=f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}", name=name,
                            scope=scope, policy_definition_id=definition_id,
                            parameters={key: {"value": value} for key, value in (parameters or {}).items()},
                            not_scopes=list(not_scopes))


def in_scope(assignment: PolicyAssignment, resource_key: str, subscription: str) -> bool:
    return AssignmentScope(assignment, {}).applies(resource_key, subscription)


def test_rego_kind_is_registered_and_owns_rego_definition_ids() -> None:
    kind = KINDS["rego"]
    library = kind.load(sorted((LIBRARY / "rego").rglob("*.rego")))
    assert kind.owns(library, assignment("a", PINNED))
    assert not kind.owns(library, assignment("b", "rego:arcpolicy.unknown"))
    assert not kind.owns(library, assignment("c", "/providers/Microsoft.Authorization/policyDefinitions/x"))
    defaults, problems = kind.default_assignments(library)
    assert problems == [] and len(defaults) == 6
    assert {default.policy_definition_id for default in defaults} >= {PINNED}


def test_two_assignments_with_different_parameters_and_a_not_scope() -> None:
    kind = RegoKind()
    library = kind.load([LIBRARY / "rego"])
    strict = assignment("strict", PINNED, {"allowedVersions": {"microsoft.flux": ["1.14.1"]}})
    lenient = assignment("lenient", PINNED, {"allowedVersions": {"microsoft.flux": ["1.13.1", "1.14.1"]}})
    elsewhere = assignment("excluded", PINNED, {"allowedVersions": {"microsoft.flux": ["9"]}},
                           not_scopes=(f"{SUBSCRIPTION}/resourceGroups/rg-edge",))
    evaluator = kind.compile(library, [strict, lenient, elsewhere])
    pinned = extension("flux", "microsoft.flux", autoUpgradeMinorVersion=False, version="1.13.1")
    result = evaluator.evaluate(cluster(pinned), in_scope, NOW)
    decided = {verdict.assignment.name: verdict for verdict in result.verdicts}
    assert set(decided) == {"strict", "lenient"}
    assert decided["strict"].compliant is False and decided["lenient"].compliant is True
    assert decided["strict"].definition_id == PINNED
    assert decided["strict"].definition_name == "arcpolicy.pinned_versions_allowed"
    assert decided["strict"].action == "deployifnotexists"
    assert decided["strict"].remediation == [{"name": "flux", "action": "update", "properties": {"version": "1.14.1"}}]
    assert decided["strict"].reasons[0].path == "data.arcpolicy.pinned_versions_allowed.violation"
    assert result.evaluations == 2


def test_not_applicable_is_counted_not_recorded() -> None:
    kind = RegoKind()
    library = kind.load([LIBRARY / "rego"])
    production = assignment("prod", "rego:arcpolicy.no_preview_in_production")
    result = kind.compile(library, [production]).evaluate(cluster(environment="dev"), in_scope, NOW)
    assert result.verdicts == []
    assert sum(result.not_applicable.values()) == 1


def test_exemption_covers_a_rego_assignment() -> None:
    kind = RegoKind()
    library = kind.load([LIBRARY / "rego"])
    retired = assignment("retired", "rego:arcpolicy.retired_extensions_absent")
    exemption = PolicyExemption(id=f"{CLUSTER_ID}/providers/Microsoft.Authorization/policyExemptions/osm-waiver",
                                name="osm-waiver", policy_assignment_id=retired.id)
    result = kind.compile(library, [retired]).evaluate(cluster(extension("osm", "microsoft.openservicemesh")),
                                                       in_scope, NOW)
    [verdict] = result.verdicts
    assert verdict.compliant is False
    exemptions = Exemptions([exemption], NOW, {})
    key = ids.normalize(CLUSTER_ID)
    assert exemptions.find(verdict.assignment.id, verdict.reference_id, verdict.resource, key.split("/")[2]) is exemption


def test_runtime_error_becomes_an_error_verdict(tmp_path) -> None:
    (tmp_path / "conflict.rego").write_text('package probe.conflict\n\nmode := "a"\nmode := "b" if true\n\n'
                                            'violation contains {"msg": mode} if true\n')
    kind = RegoKind()
    library = kind.load([tmp_path / "conflict.rego"])
    [verdict] = kind.compile(library, [assignment("c", "rego:probe.conflict")]).evaluate(cluster(), in_scope,
                                                                                           NOW).verdicts
    assert verdict.compliant is None and verdict.action == "error"
    assert verdict.error == f"{tmp_path / 'conflict.rego'}:4:1: rule conflicts with rule at {tmp_path / 'conflict.rego'}:3:1"
