"""Rego as a definition kind of the scan (see :mod:`engine.evaluate.kinds`).

An assignment whose ``policyDefinitionId`` is ``rego:<package>`` assigns a Rego policy; its
parameters become ``input.parameters``. The scan applies scope, notScopes and exemptions as
for Azure Policy; this module turns one cluster's bundle answer into verdicts on the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import ids
from engine.azure_policy.documents import ASSIGNMENT_TYPE, DEFAULT_ID_PREFIX, TENANT_SCOPE, PolicyAssignment
from engine.azure_policy.kind import subscription_key
from engine.evaluate.kinds import ClusterVerdicts, InScope, NotEvaluated, PolicyKey, Verdict, register_kind
from engine.inventory import ClusterInventory
from engine.models.results import Reason
from engine.rego.library import DEFINITION_ID_PREFIX, RegoLibrary, RegoPolicy, RegoVerdict


def _package(assignment: PolicyAssignment) -> str | None:
    definition_id = assignment.policy_definition_id
    if not definition_id.lower().startswith(DEFINITION_ID_PREFIX):
        return None
    return definition_id[len(DEFINITION_ID_PREFIX):]


class RegoEvaluator:
    """Decides a cluster for every Rego assignment with one bundle query."""

    def __init__(self, library: RegoLibrary, assignments: Sequence[PolicyAssignment]):
        self.library = library
        self.assignments = [(assignment, library.policy(_package(assignment) or "")) for assignment in assignments]
        self.warnings = [f"{warning} (see docs/rego.md, where regorus differs from OPA)" for warning in library.warnings]
        self.evaluates_containers = False  # Rego policies decide clusters
        self.containers: dict[str, dict[str, Any]] = {}
        self.not_evaluated: list[NotEvaluated] = []

    def evaluate(self, cluster: ClusterInventory, in_scope: InScope, timestamp: datetime) -> ClusterVerdicts:
        result = ClusterVerdicts()
        resource_key = ids.normalize(cluster.id)
        subscription = subscription_key(resource_key)
        chosen = [(assignment, policy) for assignment, policy in self.assignments
                  if policy is not None and in_scope(assignment, resource_key, subscription)]
        parameter_sets: dict[str, list[dict]] = {}
        for assignment, policy in chosen:
            parameter_sets.setdefault(policy.package, []).append(assignment.parameter_values())
        answers = self.library.evaluate_sets(cluster, parameter_sets) if chosen else {}
        position: dict[str, int] = {}
        for assignment, policy in chosen:
            index = position[policy.package] = position.get(policy.package, -1) + 1
            verdict = answers[policy.package][index]
            result.evaluations += 1
            if not verdict.applicable:
                result.not_applicable[PolicyKey(assignment.id, assignment.name, policy.package, None,
                                                policy.title)] += 1
                continue
            result.verdicts.append(_to_verdict(cluster, assignment, policy, verdict))
        return result


def _to_verdict(cluster: ClusterInventory, assignment: PolicyAssignment, policy: RegoPolicy,
                verdict: RegoVerdict) -> Verdict:
    rule = f"data.{policy.package}.violation"
    reasons = [Reason(message=violation.msg, path=rule) for violation in verdict.violations]
    details = [violation.details for violation in verdict.violations if violation.details is not None]
    remediation = [violation.remediation.model_dump(exclude_none=True)
                   for violation in verdict.violations if violation.remediation is not None]
    return Verdict(cluster.resource, assignment, policy.definition_id, policy.package, policy.title, None, None,
                   policy.effect.lower() if verdict.error is None else "error",
                   None if verdict.error is not None else verdict.compliant, reasons, error=verdict.error,
                   details=details or None, remediation=remediation or None)


class RegoKind:
    name = "rego"
    suffixes = (".rego",)

    def load(self, files: Sequence[Path], **options: Any) -> RegoLibrary:
        """``options``: ``engine`` (regorus, regopy, opa) and that engine's own options (``url`` for opa)."""
        return RegoLibrary.load([file for file in files if not file.name.endswith("_test.rego")], **options)

    def problems(self, library: RegoLibrary) -> list[str]:
        """Compile problems (file:line): those policies are skipped, the scan goes on."""
        return [f"{diagnostic} (policy skipped)" for diagnostic in library.diagnostics]

    def owns(self, library: RegoLibrary, assignment: PolicyAssignment) -> bool:
        package = _package(assignment)
        return package is not None and library.policy(package) is not None

    def default_assignments(self, library: RegoLibrary) -> tuple[list[PolicyAssignment], list[str]]:
        """Every policy assigned at the tenant with empty parameters (compile problems: :meth:`problems`)."""
        assignments = [PolicyAssignment(id=f"{DEFAULT_ID_PREFIX[ASSIGNMENT_TYPE]}{policy.package}",
                                        name=policy.package, display_name=policy.title, scope=TENANT_SCOPE,
                                        policy_definition_id=policy.definition_id, source=policy.source_file)
                       for policy in library.policies]
        return assignments, []

    def compile(self, library: RegoLibrary, assignments: Sequence[PolicyAssignment]) -> RegoEvaluator:
        for assignment in assignments:
            assignment.parameter_values()  # raises InputError on malformed parameters
        return RegoEvaluator(library, assignments)


register_kind(RegoKind())
