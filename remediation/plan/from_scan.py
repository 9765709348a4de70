"""``arcpolicy plan`` on top of the scan: non-compliant records -> wanted writes -> plan.

For each non-compliant DINE record, the assignment's compiled policy (from the evaluate stage)
gives the definition's ``then.details`` and the resolved parameters; the deployment is expanded
for the evaluated resource. Rego records contribute their ``remediation`` bodies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from engine import ids
from engine.azure_policy.library import AzurePolicyLibrary
from engine.azure_policy.policy import CompiledPolicy
from engine.errors import InputError
from engine.evaluate import ScanRequest, ScanResult
from engine.inventory import Fleet
from engine.models.results import PolicyState
from remediation.plan.builder import PlanOptions, build_plan
from remediation.plan.models import Plan
from remediation.plan.requests import WantedOperation, wanted_from_dine, wanted_from_rego, wants_remediation
from remediation.plan.stages import StageProgress, no_progress
from remediation.template import DineDeployment

AZURE_POLICY_KIND = "azure-policy"  # the evaluate stage's name for Azure Policy JSON (engine.azure_policy.kind)
EXPANSION_REPORT_EVERY = 250  # records between two expansion progress reports
PolicyKey = tuple[str, str]  # (normalized assignment id, lower-case policy definition reference id or "")


def policy_key(assignment_id: str | None, reference_id: str | None) -> PolicyKey:
    return ids.normalize(assignment_id or ""), (reference_id or "").lower()


def compiled_azure_policies(request: ScanRequest) -> dict[PolicyKey, CompiledPolicy]:
    """Every Azure Policy assignment's compiled policies (one per initiative member), by :func:`policy_key`:
    what the planner and apply (re-deriving template secrets) expand deployments from."""
    library = request.libraries.get(AZURE_POLICY_KIND)
    if not isinstance(library, AzurePolicyLibrary):
        return {}
    return {policy_key(assignment.id, policy.reference_id): policy
            for assignment in request.assignments.get(AZURE_POLICY_KIND, [])
            for policy in library.compile(assignment).policies}


class DinePolicies:
    """Compiled DINE policies by (assignment, reference), each deployment compiled once."""

    def __init__(self, request: ScanRequest):
        self._policies = compiled_azure_policies(request)
        self._deployments: dict[str, DineDeployment] = {}

    def deployment(self, state: PolicyState) -> tuple[DineDeployment, dict[str, Any]]:
        policy = self._policies.get(policy_key(state.policy_assignment_id, state.policy_definition_reference_id))
        if policy is None:
            raise InputError(state.policy_assignment_id, "no compiled deployIfNotExists policy for this record",
                             location=state.policy_definition_reference_id, value=state.policy_definition_id)
        cache_key = f"{policy.definition.id}|{policy.reference_id or ''}"
        deployment = self._deployments.get(cache_key)
        if deployment is None:
            deployment = self._deployments[cache_key] = DineDeployment.from_details(
                policy.details, policy.definition.id, policy.definition.origin)
        return deployment, policy.parameters


def wanted_from_scan(fleet: Fleet, request: ScanRequest, records: list[PolicyState],
                     progress: StageProgress = no_progress) -> Iterator[WantedOperation]:
    """What every record wanting remediation wants written; ``progress`` hears the ``expansion`` stage."""
    policies = DinePolicies(request)
    pending = [state for state in records if wants_remediation(state)]
    progress("expansion", 0, len(pending))
    for done, state in enumerate(pending, 1):
        if state.remediation:
            yield from wanted_from_rego(state)
        elif (resource := _evaluated_resource(fleet, state.resource_id)) is not None:
            deployment, parameters = policies.deployment(state)
            yield from wanted_from_dine(state, deployment, resource, parameters)
        if done % EXPANSION_REPORT_EVERY == 0 or done == len(pending):
            progress("expansion", done, len(pending))


def _evaluated_resource(fleet: Fleet, resource_id: str) -> dict[str, Any] | None:
    cluster = fleet.cluster(resource_id)
    if cluster is not None:
        return cluster.resource
    owner = ids.owning_cluster_id(resource_id)
    if owner is not None and (parent := fleet.cluster(owner)) is not None:
        key = ids.normalize(resource_id)
        return next((child for child in (*parent.extensions, *parent.flux_configurations)
                     if ids.normalize(child["id"]) == key), None)
    return None


def policy_fingerprint(request: ScanRequest) -> str:
    """A digest of the assignments (ids and parameters) the plan was computed for."""
    assignments = sorted((ids.normalize(assignment.id), assignment.policy_definition_id, assignment.parameters)
                         for assignment in request.all_assignments())
    encoded = json.dumps(assignments, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def plan_from_scan(fleet: Fleet, request: ScanRequest, result: ScanResult, options: PlanOptions | None = None,
                   inventory_source: str | None = None, created_at: datetime | None = None,
                   progress: StageProgress = no_progress) -> Plan:
    """The plan for every non-compliant record of a scan; ``progress`` hears expansion, graph and waves."""
    return build_plan(wanted_from_scan(fleet, request, result.records, progress), fleet, options,
                      inventory_source=inventory_source, policy_fingerprint=policy_fingerprint(request),
                      created_at=created_at, progress=progress)
