"""Azure Policy JSON as a definition kind of the scan (see :mod:`engine.evaluate.kinds`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from engine import ids
from engine.azure_policy.conditions import ConditionError
from engine.azure_policy.documents import PolicyAssignment, load_documents
from engine.azure_policy.functions import NO_CONTAINERS, Containers
from engine.azure_policy.library import AzurePolicyLibrary, CompiledAssignment
from engine.azure_policy.policy import CompiledPolicy, ExistenceOutcomes
from engine.errors import InputError
from engine.evaluate.kinds import ClusterVerdicts, InScope, NotEvaluated, PolicyKey, Verdict, register_kind
from engine.expressions import EvaluationError
from engine.inventory import ClusterInventory

NO_RELATED: dict[str, list[dict[str, Any]]] = {}


def subscription_key(resource_key: str) -> str:
    """The lower-case subscription id of a normalized resource id ('' outside subscriptions)."""
    return resource_key.split("/", 3)[2] if resource_key.startswith("/subscriptions/") else ""


class _AssignmentPlan(NamedTuple):
    """An assignment's policies for resources of one type: those whose ``if`` may match it (with
    their summary key and initiative id), and the keys of those whose ``if`` cannot (not applicable)."""

    assignment: PolicyAssignment
    evaluated: tuple[tuple[CompiledPolicy, PolicyKey, str | None], ...]
    not_matching: tuple[PolicyKey, ...]


class AzurePolicyEvaluator:
    """Evaluates every resource of a cluster against compiled Azure Policy assignments.

    Assignments are indexed by resource type once: policies whose mode leaves a type out are never
    looked at for it, and policies whose ``if`` requires other types are counted not applicable
    without evaluating the rule (only scope is checked, once per assignment and resource).
    """

    def __init__(self, assignments: list[CompiledAssignment]):
        self.assignments = [assignment for assignment in assignments if assignment.policies]
        self._plans: dict[str, list[_AssignmentPlan]] = {}
        self.warnings = _compile_warnings(assignments)
        self.evaluates_containers = True  # subscriptions and resource groups are resources too
        self.containers: Containers = NO_CONTAINERS  # by id, for resourceGroup() and subscription()
        self.not_evaluated = [
            NotEvaluated(PolicyKey(compiled.assignment.id, compiled.assignment.name, member.definition.name,
                                   member.reference_id, member.definition.display_name), member.reason)
            for compiled in assignments for member in compiled.not_evaluated]

    def _plan(self, type_key: str) -> list[_AssignmentPlan]:
        plans = []
        for compiled in self.assignments:
            assignment = compiled.assignment
            set_id = compiled.set_definition.id if compiled.set_definition else None
            evaluated, not_matching = [], []
            for policy in compiled.policies:
                if not policy.applies_to(type_key):
                    continue
                key = PolicyKey(assignment.id, assignment.name, policy.definition.name, policy.reference_id,
                                policy.definition.display_name)
                if policy.may_match(type_key):
                    evaluated.append((policy, key, set_id))
                else:
                    not_matching.append(key)
            if evaluated or not_matching:
                plans.append(_AssignmentPlan(assignment, tuple(evaluated), tuple(not_matching)))
        self._plans[type_key] = plans
        return plans

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
        plans = self._plans.get(type_key)
        if plans is None:
            plans = self._plan(type_key)
        if not plans:
            return
        resource_key = ids.normalize(resource["id"])
        subscription = subscription_key(resource_key)
        existence: ExistenceOutcomes = {}  # an Audit and a DINE policy checking the same existence, decided once
        for assignment, evaluated, not_matching in plans:
            if not in_scope(assignment, resource_key, subscription):
                continue
            result.evaluations += len(evaluated) + len(not_matching)
            for key in not_matching:
                result.not_applicable[key] += 1
            for policy, key, set_id in evaluated:
                definition = policy.definition
                try:
                    decided = policy.evaluate(resource, related, timestamp, decided=existence,
                                              containers=self.containers)
                except (EvaluationError, ConditionError) as error:
                    result.verdicts.append(Verdict(resource, assignment, definition.id, definition.name,
                                                   definition.display_name, set_id, policy.reference_id,
                                                   "error", None, error=str(error)))
                    continue
                if decided is None:
                    result.not_applicable[key] += 1
                    continue
                effect, outcome = decided
                result.verdicts.append(Verdict(resource, assignment, definition.id, definition.name,
                                               definition.display_name, set_id, policy.reference_id,
                                               effect.action, outcome.compliant, outcome.reasons,
                                               state=outcome.state))


def _compile_warnings(assignments: list[CompiledAssignment]) -> list[str]:
    """One warning per alias read by Azure's default convention, naming the first definition using it."""
    first: dict[str, str] = {}
    for compiled in assignments:
        for policy in compiled.policies:
            for name, path in policy.inferred_aliases.items():
                first.setdefault(name.lower(), f"{policy.definition.origin}: alias '{name}' is not in arcpolicy's "
                                               f"alias table; read as {path} by Azure's default convention "
                                               "(--strict-aliases refuses it)")
    return list(first.values())


class AzurePolicyKind:
    name = "azure-policy"
    suffixes = (".json",)

    def load(self, files: Sequence[Path], strict_aliases: bool = False, **options: Any) -> AzurePolicyLibrary:
        """``strict_aliases`` (``--strict-aliases``): refuse aliases outside arcpolicy's table instead of
        reading them by Azure's default convention."""
        if options:
            raise InputError("--policy", "Azure Policy definitions take no such loading options", value=sorted(options))
        documents = load_documents(files)
        for stray in (*documents.assignments, *documents.exemptions, *documents.attestations):
            raise InputError(stray.origin, "an assignment, exemption or attestation among policy definitions; pass "
                                           "it with --assignment, --exemption or --attestation")
        return AzurePolicyLibrary(documents, strict_aliases)

    def problems(self, library: AzurePolicyLibrary) -> list[str]:
        return []  # a definition that does not load is bad input (exit 2), never skipped

    def owns(self, library: AzurePolicyLibrary, assignment: PolicyAssignment) -> bool:
        return library.find(assignment.policy_definition_id) is not None

    def default_assignments(self, library: AzurePolicyLibrary) -> tuple[list[PolicyAssignment], list[str]]:
        return library.default_assignments()

    def compile(self, library: AzurePolicyLibrary, assignments: Sequence[PolicyAssignment]) -> AzurePolicyEvaluator:
        return AzurePolicyEvaluator([library.compile(assignment) for assignment in assignments])


register_kind(AzurePolicyKind())
