"""Records as the scan's workers send them back, and the PolicyState records built from them.

A worker turns each verdict into a :data:`Row`: plain tuples and strings (the policy part is one
shared tuple per assignment and definition, so pickle sends it once per shard), cheap to pickle
and to sort. The parent builds :class:`PolicyState` records from the rows without re-validating
them (:mod:`engine.azure_policy.reasons`: every value came from validated documents and the
evaluators), which costs a couple of microseconds per record instead of ``model_construct``'s twenty.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

from pydantic import TypeAdapter

from engine.azure_policy.reasons import REASON_KEYS
from engine.azure_policy.reasons import reasons as trusted_reasons
from engine.ids import normalize
from engine.models.contract import trusted
from engine.models.results import ComplianceState, PolicyState

# (assignment id, assignment name, assignment scope, definition id, definition name, display name,
#  initiative id, reference id, action)
PolicyPart = tuple[str, str, str | None, str, str, str | None, str | None, str | None, str]
# (message, path, field, operator, expected, actual)
ReasonRow = tuple[str, str | None, str | None, str | None, Any, Any]
# (resource id, type, location, resource group, subscription id, policy part, state, reasons,
#  exemption id, exemption category, details, remediation, error)
Row = tuple[str, str, str | None, str | None, str | None, PolicyPart, ComplianceState, tuple[ReasonRow, ...],
            str | None, str | None, list[dict[str, Any]] | None, list[dict[str, Any]] | None, str | None]

COMPLIANT_STATES = frozenset({ComplianceState.COMPLIANT, ComplianceState.EXEMPT})
_STATE_FIELDS = set(PolicyState.model_fields)


# A reason as a ReasonRow, in C.
reason_rows_of = attrgetter("message", "path", "field", "operator", "expected", "actual")


def row_order(row: Row) -> tuple[str, str, str]:
    """Records sort by resource, assignment and reference id (case-insensitive ids)."""
    policy = row[5]
    return normalize(row[0]), normalize(policy[0]), policy[7] or ""


def policy_state(row: Row, timestamp: datetime) -> PolicyState:
    (resource_id, resource_type, location, resource_group, subscription_id, policy, state, reasons, exemption_id,
     exemption_category, details, remediation, error) = row
    (assignment_id, assignment_name, assignment_scope, definition_id, definition_name, display_name, set_id,
     reference_id, action) = policy
    return trusted(PolicyState, {
        "resource_id": resource_id, "resource_type": resource_type, "resource_location": location,
        "resource_group": resource_group, "subscription_id": subscription_id,
        "policy_assignment_id": assignment_id, "policy_assignment_name": assignment_name,
        "policy_assignment_scope": assignment_scope, "policy_definition_id": definition_id,
        "policy_definition_name": definition_name, "policy_definition_display_name": display_name,
        "policy_set_definition_id": set_id, "policy_definition_reference_id": reference_id,
        "policy_definition_action": action, "compliance_state": state, "is_compliant": state in COMPLIANT_STATES,
        "timestamp": timestamp, "reasons": trusted_reasons(reasons) if reasons else [],
        "exemption_id": exemption_id, "exemption_category": exemption_category,
        "details": details, "remediation": remediation, "error": error}, _STATE_FIELDS)


# PolicyState's JSON keys in field order, as a row holds their values (see record_document)
ROW_KEYS = ("resourceId", "resourceType", "resourceLocation", "resourceGroup", "subscriptionId")
POLICY_KEYS = ("policyAssignmentId", "policyAssignmentName", "policyAssignmentScope", "policyDefinitionId",
                "policyDefinitionName", "policyDefinitionDisplayName", "policySetDefinitionId",
                "policyDefinitionReferenceId", "policyDefinitionAction")


def json_timestamp(timestamp: datetime) -> str:
    """The scan's time as a record's JSON gives it (``PolicyState.to_json``: ``...Z`` for UTC)."""
    return _TIMESTAMP.dump_python(timestamp, mode="json")


_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(datetime)


def record_document(row: Row, timestamp: str) -> dict[str, Any]:
    """The JSON document of a row's policy state, as ``policy_state(row, ...).to_json()`` gives it (no nulls),
    built directly: the streamed scan serialises it once and never builds the model."""
    state = row[6]
    document = {key: value for key, value in zip(ROW_KEYS, row, strict=False) if value is not None}
    document.update((key, value) for key, value in zip(POLICY_KEYS, row[5], strict=True) if value is not None)
    document["complianceState"] = state.value
    document["isCompliant"] = state in COMPLIANT_STATES
    document["timestamp"] = timestamp
    document["reasons"] = [{key: value for key, value in zip(REASON_KEYS, reason, strict=True) if value is not None}
                           for reason in row[7]]
    for key, value in zip(("exemptionId", "exemptionCategory", "details", "remediation", "error"), row[8:],
                          strict=True):
        if value is not None:
            document[key] = value
    return document


class RecordCollector:
    """Policy states built from rows as shards arrive, sorted by resource, assignment and reference id."""

    def __init__(self, timestamp: datetime):
        self.timestamp = timestamp
        self._keyed: list[tuple[tuple[str, str, str], PolicyState]] = []

    def add(self, rows: Iterable[Row]) -> None:
        timestamp = self.timestamp
        self._keyed.extend((row_order(row), policy_state(row, timestamp)) for row in rows)

    def sorted(self) -> list[PolicyState]:
        self._keyed.sort(key=itemgetter(0))
        return [state for _, state in self._keyed]


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off while verdicts and records pile up (they hold no reference cycles):
    otherwise its full collections over a heap of parsed clusters and records cost as much as the
    evaluation. Restored afterwards, with what was allocated meanwhile moved to the oldest generation
    untraversed (``freeze`` + ``unfreeze``; not when someone else froze objects): otherwise the first
    allocation after re-enabling would traverse the whole new heap at once. Cyclic garbage among it
    goes at the next full collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
