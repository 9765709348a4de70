"""``table``: the outcome, a plain-text table of the records that need attention (if any), then the totals."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from engine.models.results import PolicyState
from engine.output.context import ScanMetadata
from engine.output.registry import output_format
from engine.output.summary import compliance_headline, needs_attention, policy_key, resource_name, summarize


@output_format("table", ".txt", "plain-text table of non-compliant records and totals")
def render_table(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    summary = summarize(states)
    counts = summary.counts
    outcome = (compliance_headline(counts, summary.resources) if counts.total else "nothing was applicable (no resource matched any policy)")
    table = Table()
    for column in ("state", "policy", "resource", "reason"):
        table.add_column(column)
    for state in states:
        if needs_attention(state):
            table.add_row(state.compliance_state.value, policy_key(state), resource_name(state.resource_id),
                          "; ".join(reason.message for reason in state.reasons) or state.error or "")
    out = io.StringIO()
    if table.row_count:
        Console(file=out, width=160, color_system=None, highlight=False).print(table)
    unknown = f"unknown {counts.unknown}  " if counts.unknown else ""
    totals = (f"compliant {counts.compliant}  non-compliant {counts.non_compliant}  "
              f"exempt {counts.exempt}  error {counts.error}  {unknown}total {counts.total}\n")
    not_evaluated = "".join(f"not evaluated: {line}\n" for line in metadata.not_evaluated)
    return f"Scan {metadata.scan_id}: {outcome}\n" + out.getvalue() + totals + not_evaluated
