"""Microsoft's whole built-in corpus (../shared/azure-policy-corpus, 5,009 definitions, 257 initiatives)
through prepare + scan over a small generated fleet: nothing crashes, every definition in an ARM mode
(All, Indexed) evaluates, and only resource-provider modes are left out, each with a one-line reason.

Each definition is assigned once at tenant scope; a parameter without default gets a placeholder of
its type (its first allowed value when it has some; also when its default does not match its type; the smallest
value its ``schema`` accepts when it has one), and an
``effect`` parameter the first allowed
value that is evaluated (not Disabled), so that every definition runs. One prepared request and one
fleet are shared by the tests (the whole module stays within ~30 s of CPU).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from template.corpus import from_schema

from engine.azure_policy.documents import ParameterDefinition, PolicyDefinition, load_documents
from engine.azure_policy.parameters import TYPE_CHECKS
from engine.azure_policy.policy import RESOURCE_PROVIDER_MODE
from engine.evaluate import ScanRequest, ScanResult, prepare_scan, run_scan
from engine.inventory import Fleet
from engine.inventory.generator import generate_fleet
from engine.models.results import ComplianceState

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-corpus"
DEFINITIONS = CORPUS / "policyDefinitions"
INITIATIVES = CORPUS / "policySetDefinitions"
PLACEHOLDERS: dict[str, Any] = {"string": "placeholder", "array": [], "object": {}, "boolean": False, "integer": 1,
                                "float": 1.0, "datetime": "2026-01-01T00:00:00Z"}
NOT_EVALUATED_EFFECTS = {"disabled", "auditaction"}  # Disabled is never evaluated, AuditAction is refused

pytestmark = pytest.mark.skipif(not DEFINITIONS.is_dir(), reason="the shared corpus is not checked out")


def placeholder(name: str, declared: ParameterDefinition) -> Any:
    """A value for a parameter: the default when there is one; otherwise of the declared type."""
    allowed = declared.allowed_values or []
    if name.lower() == "effect" and allowed:
        return next((value for value in allowed if str(value).lower() not in NOT_EVALUATED_EFFECTS), allowed[0])
    if declared.has_default and TYPE_CHECKS[declared.type.lower()](declared.default_value):
        return declared.default_value  # (a few corpus defaults do not match their type: CMMC_L3's [] strings)
    if allowed:
        first = allowed[0]
        return [first] if declared.type.lower() == "array" and not isinstance(first, list) else first
    if declared.json_schema is not None:
        return from_schema(declared.json_schema)  # the smallest value it accepts: assignments are validated
    return PLACEHOLDERS[declared.type.lower()]


def assignment_of(target: Any) -> dict[str, Any]:
    return {"id": f"/providers/Microsoft.Authorization/policyAssignments/{target.name}", "name": target.name,
            "type": "Microsoft.Authorization/policyAssignments",
            "properties": {"scope": "/", "policyDefinitionId": target.id, "parameters": {
                name: {"value": placeholder(name, declared)} for name, declared in target.parameters.items()}}}


SOVEREIGN = "Azure Government"  # copies of public definitions (same ids) as Azure Government ships them


class CloudScan(NamedTuple):
    """One cloud's definitions (each id once), prepared together and scanned over the shared fleet."""

    definitions: list[PolicyDefinition]
    request: ScanRequest
    result: ScanResult


def generated_fleet(clusters: int, seed: int) -> Fleet:
    """A generated fleet with its resource containers: each cluster's subscription and resource group."""
    resources = list(generate_fleet(clusters, seed=seed))
    containers: dict[str, dict[str, Any]] = {}
    for resource in resources:
        parts = resource["id"].split("/")
        subscription, group = f"/subscriptions/{parts[2]}", f"/subscriptions/{parts[2]}/resourceGroups/{parts[4]}"
        containers.setdefault(subscription, {"id": subscription, "name": parts[2], "subscriptionId": parts[2],
                                             "type": "Microsoft.Resources/subscriptions", "tags": {},
                                             "properties": {"state": "Enabled"}})
        containers.setdefault(group, {"id": group, "name": parts[4], "location": resource.get("location"), "tags": {},
                                      "type": "Microsoft.Resources/subscriptions/resourceGroups",
                                      "properties": {"provisioningState": "Succeeded"}})
    return Fleet([*resources, *containers.values()])


def _files(cloud: str) -> list[Path]:
    files = sorted(DEFINITIONS.rglob("*.json"))
    return [path for path in files if (path.relative_to(DEFINITIONS).parts[0] == SOVEREIGN) == (cloud == SOVEREIGN)]


@pytest.fixture(scope="module")
def corpus() -> dict[str, CloudScan]:
    """The public definitions and Azure Government's, each through one prepare + scan (a cloud's ids are unique)."""
    fleet = generated_fleet(12, seed=3)
    scans = {}
    with tempfile.TemporaryDirectory() as directory:
        for cloud in ("public", SOVEREIGN):
            files = _files(cloud)
            definitions = load_documents(files).definitions
            assert len({definition.id.lower() for definition in definitions}) == len(definitions) == len(files)
            assignments = Path(directory) / f"{cloud}.json"
            assignments.write_text(json.dumps([assignment_of(definition) for definition in definitions]))
            request = prepare_scan(files, [assignments])
            scans[cloud] = CloudScan(definitions, request, run_scan(fleet, request, workers=1))
    return scans


def test_every_arm_mode_definition_evaluates_and_only_resource_provider_modes_are_refused(
        corpus: dict[str, CloudScan], record_property: Callable[[str, object], None]) -> None:
    assert sum(len(scan.definitions) for scan in corpus.values()) == len(list(DEFINITIONS.rglob("*.json")))
    for cloud, (definitions, request, result) in corpus.items():
        by_name = {definition.name: definition for definition in definitions}
        provider_mode = {name for name, definition in by_name.items()
                         if RESOURCE_PROVIDER_MODE.fullmatch(definition.mode)}
        refused = {item.key.definition_name: item.reason for item in request.not_evaluated}
        assert set(refused) == provider_mode  # exactly the resource-provider modes, nothing in All or Indexed
        assert all(re.fullmatch(r"mode \S+ is a resource-provider mode: .+", reason) for reason in refused.values())
        evaluated = {row.policy_definition_name for row in result.summary if not row.not_evaluated}
        assert evaluated == set(by_name) - provider_mode
        states = Counter(record.compliance_state.value for record in result.records)
        errors = [record for record in result.records if record.compliance_state is ComplianceState.ERROR]
        record_property("figure", f"corpus ({cloud}): {len(definitions)} definitions, {len(evaluated)} evaluated (All/Indexed), "
              f"{len(refused)} not evaluated (resource-provider modes: "
              f"{dict(Counter(by_name[name].mode for name in refused))}), 0 crashes; {result.clusters} clusters, "
              f"{result.evaluations} evaluations, records {dict(states)}; {len(request.warnings)} aliases inferred")
        assert not errors, [f"{record.policy_definition_name}: {record.error}" for record in errors[:5]]


def test_every_kubernetes_configuration_definition_loads_and_evaluates(
        corpus: dict[str, CloudScan], record_property: Callable[[str, object], None]) -> None:
    """The 33 files naming Microsoft.KubernetesConfiguration (public and Azure Government), GitOps v1 included."""
    naming, applied = set(), set()
    for cloud, (definitions, _, result) in corpus.items():
        names = {definition.name for definition in definitions
                 if "microsoft.kubernetesconfiguration" in json.dumps(definition.policy_rule).lower()}
        evaluated = {row.policy_definition_name for row in result.summary if not row.not_evaluated}
        assert names <= evaluated
        naming |= {(cloud, name) for name in names}
        applied |= {(cloud, record.policy_definition_name) for record in result.records} & naming
    assert len(naming) == 33
    record_property("figure", f"Microsoft.KubernetesConfiguration: {len(naming)} definitions evaluate, {len(applied)} with records "
          "on the generated fleet")
    assert len(applied) >= 20  # the Arc/AKS ones apply to the generated clusters and extensions


def test_initiatives_load_their_members_and_scan(record_property: Callable[[str, object], None]) -> None:
    """Initiatives assigned with their cloud's definitions (Azure Government's fall back on the public ones):
    members that cannot be evaluated offline are listed per member with their reason, the others run."""
    fleet = generated_fleet(6, seed=5)
    every = sorted(INITIATIVES.rglob("*.json"))
    assert len(every) == 257
    total, members, not_evaluated, records = 0, 0, Counter(), Counter()
    with tempfile.TemporaryDirectory() as directory:
        for cloud in ("public", SOVEREIGN):
            files = [path for path in every if (path.relative_to(INITIATIVES).parts[0] == SOVEREIGN) == (cloud == SOVEREIGN)]
            initiatives = load_documents(files).set_definitions
            assignments = Path(directory) / f"{cloud}-initiatives.json"
            assignments.write_text(json.dumps([assignment_of(initiative) for initiative in initiatives]))
            definitions = _files("public") + (_files(SOVEREIGN) if cloud == SOVEREIGN else [])  # later ids win
            request = prepare_scan([*definitions, *files], [assignments])
            result = run_scan(fleet, request, workers=1)
            total += len(initiatives)
            members += sum(len(initiative.policy_definitions) for initiative in initiatives)
            not_evaluated.update(item.reason.split(":")[0] for item in request.not_evaluated)
            records.update(record.compliance_state.value for record in result.records)
            listed = {(row.policy_assignment_name, row.policy_definition_reference_id) for row in result.summary
                      if row.not_evaluated}
            assert listed == {(item.key.assignment_name, item.key.reference_id) for item in request.not_evaluated}
    assert total == len(every)
    # all 257 with their ~21,000 members: about 20 s of CPU on an idle core
    record_property("figure", f"initiatives: {total} of {len(every)} load with their {members} members and scan; "
          f"{sum(not_evaluated.values())} members not evaluated ({dict(not_evaluated)}); records {dict(records)}")
