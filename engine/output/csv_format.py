"""``csv``: one row per record, for spreadsheets, written as they come. A cell is quoted as RFC 4180 says
(when it holds a comma, a quote, a carriage return or a line feed: the csv module leaves a lone carriage
return unquoted when lines end in ``\\n``, and spreadsheets then split the row), and no cell is a formula
(:func:`engine.untrusted_text.csv_cell`)."""

from __future__ import annotations

import io
import re
from typing import IO

from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord
from engine.untrusted_text import csv_cell

COLUMNS = ("complianceState", "resourceId", "resourceType", "subscriptionId", "resourceGroup",
           "policyAssignmentName", "policyDefinitionName", "policyDefinitionReferenceId",
           "policyDefinitionAction", "timestamp", "reasons")
QUOTED = re.compile(r'[",\r\n]')


def rfc4180(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if QUOTED.search(cell) else cell


class CsvWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.text.write(",".join(COLUMNS) + "\n")

    def add(self, record: OutputRecord) -> None:
        row = dict(record.data)
        row["reasons"] = "; ".join(reason["message"] for reason in row.get("reasons", ()))
        self.text.write(",".join(rfc4180(csv_cell(row.get(column))) for column in COLUMNS) + "\n")

    def finish(self) -> None:
        self.text.flush()
        self.text.detach()  # the file stays open: its owner closes it
