"""Policy states: the contract between the evaluate stage and plan, report and history.

The shape follows Azure Policy's ``policyStates`` records (camelCase on the wire), so tools
that read Azure's compliance data read arcpolicy's too. ``reasons`` say which condition decided
and with what expected and actual values, so a policy author sees why.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from engine.models.contract import ContractModel


class ComplianceState(StrEnum):
    COMPLIANT = "Compliant"
    NON_COMPLIANT = "NonCompliant"
    EXEMPT = "Exempt"
    ERROR = "Error"
    UNKNOWN = "Unknown"  # Manual policies without an attestation (their default state)



class Reason(ContractModel):
    """Why a record has its state: the deciding condition, what it expected and what it found."""

    message: str
    path: str | None = None  # where in the policy, e.g. "policyRule.if.allOf[1]" or a Rego rule
    field: str | None = None
    operator: str | None = None
    expected: Any = None
    actual: Any = None


class PolicyState(ContractModel):
    """One (resource, assignment, policyDefinitionReferenceId) verdict."""

    resource_id: str
    resource_type: str
    resource_location: str | None = None
    resource_group: str | None = None
    subscription_id: str | None = None
    policy_assignment_id: str
    policy_assignment_name: str
    policy_assignment_scope: str | None = None
    policy_definition_id: str
    policy_definition_name: str
    policy_definition_display_name: str | None = None
    policy_set_definition_id: str | None = None
    policy_definition_reference_id: str | None = None
    policy_definition_action: str
    compliance_state: ComplianceState
    is_compliant: bool
    timestamp: datetime
    reasons: list[Reason] = Field(default_factory=list)
    exemption_id: str | None = None
    exemption_category: str | None = None
    # Rego violations may carry structured details and a remediation (an extension to write).
    details: list[dict[str, Any]] | None = None
    remediation: list[dict[str, Any]] | None = None
    error: str | None = None
