"""``table``: the outcome, a plain-text table of the records that need attention, then the totals.

It is what ``scan`` prints on stdout by default, so it stays readable at fleet scale: the first
:data:`ROWS_PER_POLICY` records of each policy that need attention, then how many more each has (a fleet of
10,000 clusters would otherwise print tens of thousands of lines); csv and json hold every record. The table's
columns are as wide as their widest cell, so its rows (a few short strings each) are held until the end; the
other records are only counted.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import IO

from rich.console import Console
from rich.table import Table

from engine.output.context import ScanMetadata
from engine.output.plain_text import text_row
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
from engine.untrusted_text import terminal_text

ROWS_PER_POLICY = 20


class TableWriter:
    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.out = out
        self.metadata = metadata
        self.counts = StateCounts()
        self.resources = ResourceCounter()
        self.rows: list[tuple[str, str, str, str]] = []
        self.listed: Counter[str] = Counter()  # rows per policy
        self.left_out: Counter[str] = Counter()  # records past ROWS_PER_POLICY, per policy

    def add(self, record: OutputRecord) -> None:
        data = record.data
        self.counts.add(data["complianceState"])
        self.resources.add(data["resourceId"], data["complianceState"])
        if needs_attention(data["complianceState"]):
            policy = record_policy_key(data)
            if self.listed[policy] == ROWS_PER_POLICY:
                self.left_out[policy] += 1
                return
            self.listed[policy] += 1
            self.rows.append((data["complianceState"], policy, resource_name(data["resourceId"]), reason_text(data)))

    def finish(self) -> None:
        counts, metadata = self.counts, self.metadata
        outcome = (compliance_headline(counts, self.resources.counts()) if counts.total
                   else "nothing was applicable (no resource matched any policy)")
        table = Table()
        for column in ("state", "policy", "resource", "reason"):
            table.add_column(column)
        for row in self.rows:
            text_row(table, *row)
        out = io.StringIO()
        if table.row_count:
            Console(file=out, width=160, color_system=None, highlight=False).print(table)
        more = "".join(f"... and {count} more records of {terminal_text(policy)} need attention\n"
                       for policy, count in self.left_out.items())
        if self.left_out:
            more += "(every record: -o FILE.csv, or --format csv or json)\n"
        unknown = f"unknown {counts.unknown}  " if counts.unknown else ""
        totals = (f"compliant {counts.compliant}  non-compliant {counts.non_compliant}  "
                  f"exempt {counts.exempt}  error {counts.error}  {unknown}total {counts.total}\n")
        not_evaluated = "".join(f"not evaluated: {terminal_text(line)}\n" for line in metadata.not_evaluated)
        self.out.write((f"Scan {metadata.scan_id}: {outcome}\n" + out.getvalue() + more + totals + not_evaluated).encode())
