"""``csv``: one row per record, for spreadsheets, written as they come."""

from __future__ import annotations

import csv
import io
from typing import IO

from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord

COLUMNS = ("complianceState", "resourceId", "resourceType", "subscriptionId", "resourceGroup",
           "policyAssignmentName", "policyDefinitionName", "policyDefinitionReferenceId",
           "policyDefinitionAction", "timestamp", "reasons")


class CsvWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.rows = csv.DictWriter(self.text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        self.rows.writeheader()

    def add(self, record: OutputRecord) -> None:
        row = dict(record.data)
        row["reasons"] = "; ".join(reason["message"] for reason in row.get("reasons", ()))
        self.rows.writerow(row)

    def finish(self) -> None:
        self.text.flush()
        self.text.detach()  # the file stays open: its owner closes it
