"""``csv``: one row per record, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from engine.models.results import PolicyState
from engine.output.context import ScanMetadata
from engine.output.registry import output_format

COLUMNS = ("complianceState", "resourceId", "resourceType", "subscriptionId", "resourceGroup",
           "policyAssignmentName", "policyDefinitionName", "policyDefinitionReferenceId",
           "policyDefinitionAction", "timestamp", "reasons")


@output_format("csv", ".csv", "one row per policy state")
def render_csv(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for state in states:
        row = state.to_json()
        row["reasons"] = "; ".join(reason.message for reason in state.reasons)
        writer.writerow(row)
    return out.getvalue()
