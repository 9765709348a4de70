"""Azure Policy JSON as a definition kind of the scan (see :mod:`engine.evaluate.kinds`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import ids
from engine.azure_policy.conditions import ConditionError
from engine.azure_policy.documents import PolicyAssignment, load_documents
from engine.azure_policy.library import AzurePolicyLibrary, CompiledAssignment
from engine.errors import InputError
from engine.evaluate.kinds import ClusterVerdicts, InScope, PolicyKey, Verdict, register_kind
from engine.expressions import EvaluationError
from engine.inventory import ClusterInventory

NO_RELATED: dict[str, list[dict[str, Any]]] = {}


def subscription_key(resource_key: str) -> str:
    """The lower-case subscription id of a normalized resource id ('' outside subscriptions)."""
    return resource_key.split("/", 3)[2] if resource_key.startswith("/subscriptions/") else ""


class AzurePolicyEvaluator:
    """Evaluates every resource of a cluster against compiled Azure Policy assignments."""

    def __init__(self, assignments: list[CompiledAssignment]):
        self.assignments = [assignment for assignment in assignments if assignment.policies]

    def evaluate(self, cluster: ClusterInventory, in_scope: InScope, timestamp: datetime) -> ClusterVerdicts:
        result = ClusterVerdicts()
        related = {ids.EXTENSION_TYPE: cluster.extensions, ids.FLUX_CONFIGURATION_TYPE: cluster.flux_configurations}
        self._evaluate_resource(cluster.resource, related, in_scope, timestamp, result)
        for child in (*cluster.extensions, *cluster.flux_configurations):
            self._evaluate_resource(child, NO_RELATED, in_scope, timestamp, result)
        return result

    def _evaluate_resource(self, resource: dict[str, Any], related: dict[str, list[dict[str, Any]]],
                           in_scope: InScope, timestamp: datetime, result: ClusterVerdicts) -> None:
        type_key = ids.normalize(resource["type"])
        resource_key = ids.normalize(resource["id"])
        subscription = subscription_key(resource_key)
        for compiled in self.assignments:
            assignment = compiled.assignment
            if not in_scope(assignment, resource_key, subscription):
                continue
            for policy in compiled.policies:
                if not policy.applies_to(type_key):
                    continue
                result.evaluations += 1
                definition = policy.definition
                set_id = compiled.set_definition.id if compiled.set_definition else None
                try:
                    decided = policy.evaluate(resource, related, timestamp)
                except (EvaluationError, ConditionError) as error:
                    result.verdicts.append(Verdict(resource, assignment, definition.id, definition.name,
                                                   definition.display_name, set_id, policy.reference_id,
                                                   "error", None, error=str(error)))
                    continue
                if decided is None:
                    result.not_applicable[PolicyKey(assignment.id, assignment.name, definition.name,
                                                    policy.reference_id)] += 1
                    continue
                effect, outcome = decided
                result.verdicts.append(Verdict(resource, assignment, definition.id, definition.name,
                                               definition.display_name, set_id, policy.reference_id,
                                               effect.name.lower(), outcome.compliant, outcome.reasons))


class AzurePolicyKind:
    name = "azure-policy"
    suffixes = (".json",)

    def load(self, files: Sequence[Path]) -> AzurePolicyLibrary:
        documents = load_documents(files)
        for stray in (*documents.assignments, *documents.exemptions):
            raise InputError(stray.origin, "an assignment or exemption among policy definitions; pass it with "
                                           "--assignment or --exemption")
        return AzurePolicyLibrary(documents)

    def owns(self, library: AzurePolicyLibrary, assignment: PolicyAssignment) -> bool:
        return library.find(assignment.policy_definition_id) is not None

    def default_assignments(self, library: AzurePolicyLibrary) -> tuple[list[PolicyAssignment], list[str]]:
        return library.default_assignments()

    def compile(self, library: AzurePolicyLibrary, assignments: Sequence[PolicyAssignment]) -> AzurePolicyEvaluator:
        return AzurePolicyEvaluator([library.compile(assignment) for assignment in assignments])


register_kind(AzurePolicyKind())
