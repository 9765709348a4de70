"""What each non-compliant record wants written: the input of the plan graph.

A DINE record wants the resources its definition's deployment writes for the evaluated resource;
a Rego record may carry ``remediation``: extension bodies to create, update or delete on the
cluster. Both become :class:`WantedOperation` values with the reason that wants them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import ids
from engine.errors import InputError
from engine.models.results import PolicyState
from remediation.plan.models import Action, Reason, SecretSource
from remediation.template import DineDeployment, ExpandedResource
from remediation.template.values import redact

EXTENSION_API_VERSION = "2023-05-01"
DINE_ACTION = "deployifnotexists"


@dataclass(frozen=True, slots=True)
class WantedOperation:
    """One resource write some (assignment, evaluated resource) wants, with the reason."""

    action: Action
    resource: ExpandedResource
    reason: Reason
    cluster_id: str | None


def reason_of(state: PolicyState) -> Reason:
    return Reason(policy_assignment_id=state.policy_assignment_id, policy_definition_id=state.policy_definition_id,
                  policy_definition_reference_id=state.policy_definition_reference_id,
                  evaluated_resource_id=state.resource_id)


def wants_remediation(state: PolicyState) -> bool:
    """Non-compliant DINE records, and non-compliant records carrying a Rego remediation."""
    if state.is_compliant or state.compliance_state != "NonCompliant":
        return False
    return state.policy_definition_action.lower() == DINE_ACTION or bool(state.remediation)


def wanted_from_dine(state: PolicyState, deployment: DineDeployment, resource: dict[str, Any],
                     parameters: dict[str, Any] | None) -> list[WantedOperation]:
    """Expand the definition's deployment for the evaluated resource with the assignment's parameters."""
    reason = reason_of(state)
    # Only writes on a cluster belong to it; a shared workspace or resource group belongs to none.
    return [WantedOperation(Action.CREATE, expanded, reason, ids.owning_cluster_id(expanded.resource_id))
            for expanded in deployment.expand(resource, parameters, state.policy_assignment_id,
                                              reference_id=state.policy_definition_reference_id,
                                              set_definition_id=state.policy_set_definition_id)]


def wanted_from_rego(state: PolicyState, source: str = "rego remediation") -> list[WantedOperation]:
    """Extension writes a Rego violation asks for: ``{action?, name, properties}`` on the cluster."""
    cluster_id = state.resource_id
    wanted = []
    for index, entry in enumerate(state.remediation or []):
        location = f"{state.policy_definition_id}: remediation[{index}]"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise InputError(source, "a remediation entry needs a 'name'", location=location, value=entry)
        try:
            action = Action(str(entry.get("action", "create")).lower())
        except ValueError:
            raise InputError(source, "remediation action must be create, update or delete", location=location,
                             value=entry.get("action")) from None
        resource_id = f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{entry['name']}"
        body = {} if action is Action.DELETE else {"properties": entry.get("properties") or {}}
        # Secrets a Rego policy writes literally are redacted like a template's; apply cannot re-derive
        # them (it re-expands deployIfNotExists definitions only), so such an operation fails there.
        redacted = redact(body, SecretSource(path="", kind="template", policy_assignment_id=state.policy_assignment_id))
        expanded = ExpandedResource(resource_id, "Microsoft.KubernetesConfiguration/extensions",
                                    str(entry.get("apiVersion", EXTENSION_API_VERSION)), redacted.body,
                                    deferred_values=tuple(redacted.deferred_values),
                                    secret_sources=tuple(redacted.secret_sources))
        wanted.append(WantedOperation(action, expanded, reason_of(state), cluster_id))
    return wanted

