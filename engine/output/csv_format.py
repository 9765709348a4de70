"""``csv``: one row per record, for spreadsheets, written as they come; every cell quoted and none a formula
(:func:`engine.untrusted_text.csv_cell`)."""

from __future__ import annotations

import csv
import io
from typing import IO

from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord
from engine.untrusted_text import csv_cell

COLUMNS = ("complianceState", "resourceId", "resourceType", "subscriptionId", "resourceGroup",
           "policyAssignmentName", "policyDefinitionName", "policyDefinitionReferenceId",
           "policyDefinitionAction", "timestamp", "reasons")


class CsvWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.rows = csv.DictWriter(self.text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n",
                                   quoting=csv.QUOTE_ALL)
        self.rows.writeheader()

    def add(self, record: OutputRecord) -> None:
        row = dict(record.data)
        row["reasons"] = "; ".join(reason["message"] for reason in row.get("reasons", ()))
        self.rows.writerow({column: csv_cell(row.get(column)) for column in COLUMNS})

    def finish(self) -> None:
        self.text.flush()
        self.text.detach()  # the file stays open: its owner closes it
