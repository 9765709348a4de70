"""``table``: the outcome, a plain-text table of the records that need attention (if any), then the totals.

The table's columns are as wide as their widest cell, so its rows (the records that need attention, a
few short strings each) are held until the end; the other records are only counted.
"""

from __future__ import annotations

import io
from typing import IO

from rich.console import Console
from rich.table import Table

from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord
from engine.output.summary import (
    ResourceCounter,
    StateCounts,
    compliance_headline,
    needs_attention,
    reason_text,
    record_policy_key,
    resource_name,
)


class TableWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.out = out
        self.metadata = metadata
        self.counts = StateCounts()
        self.resources = ResourceCounter()
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, record: OutputRecord) -> None:
        data = record.data
        self.counts.add(data["complianceState"])
        self.resources.add(data["resourceId"], data["complianceState"])
        if needs_attention(data["complianceState"]):
            self.rows.append((data["complianceState"], record_policy_key(data), resource_name(data["resourceId"]),
                              reason_text(data)))

    def finish(self) -> None:
        counts, metadata = self.counts, self.metadata
        outcome = (compliance_headline(counts, self.resources.counts()) if counts.total
                   else "nothing was applicable (no resource matched any policy)")
        table = Table()
        for column in ("state", "policy", "resource", "reason"):
            table.add_column(column)
        for row in self.rows:
            table.add_row(*row)
        out = io.StringIO()
        if table.row_count:
            Console(file=out, width=160, color_system=None, highlight=False).print(table)
        unknown = f"unknown {counts.unknown}  " if counts.unknown else ""
        totals = (f"compliant {counts.compliant}  non-compliant {counts.non_compliant}  "
                  f"exempt {counts.exempt}  error {counts.error}  {unknown}total {counts.total}\n")
        not_evaluated = "".join(f"not evaluated: {line}\n" for line in metadata.not_evaluated)
        self.out.write((f"Scan {metadata.scan_id}: {outcome}\n" + out.getvalue() + totals + not_evaluated).encode())
