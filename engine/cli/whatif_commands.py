"""``arcpolicy whatif``: what a changed policy set does to the fleet of a stored scan, before it is assigned."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from engine.atomic import check_distinct, input_files
from engine.cli.app import app, short_help
from engine.cli.connection_options import (
    AttestationOption,
    ManagementGroupsOption,
    OpaUrlOption,
    RegoEngineName,
    RegoEngineOption,
    StrictAliasesOption,
    prepare_policies,
)
from engine.cli.output import say, write_text, write_texts
from engine.cli.scan_commands import given, print_notes
from engine.errors import EXIT_FINDINGS, EXIT_OK
from engine.history import HistoryStore
from engine.history.recording import policy_set_fingerprint
from engine.history.whatif import what_if
from engine.history.whatif_formats import headline, output_format_of, render_whatif


class WhatIfFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command("whatif", short_help=short_help("whatif"))
def whatif_command(
    ctx: typer.Context,
    store: Annotated[str, typer.Option("--store", envvar="ARCPOLICY_STORE",
                                       help="History store holding the baseline scan (SQLite file or URL).")],
    policy: Annotated[list[Path], typer.Option("--policy", "-p", help="The changed policy set: file or folder "
                                                                      "(.json, .rego; repeatable).")],
    assignment: Annotated[list[Path] | None, typer.Option("--assignment", "-a", help="Assignment file "
                                                          "(repeatable); without any, every definition is "
                                                          "assigned at tenant scope.")] = None,
    exemption: Annotated[list[Path] | None, typer.Option("--exemption", "-e", help="Exemption file "
                                                                                   "(repeatable).")] = None,
    attestation: AttestationOption = None,
    management_groups: ManagementGroupsOption = None,
    baseline: Annotated[str, typer.Option("--baseline", help="Stored scan to compare with: id, unique prefix, "
                                                             "latest or latest~N.")] = "latest",
    output_format: Annotated[WhatIfFormat, typer.Option("--format", "-f", help="On stdout, or of a single -o "
                                                        "FILE.")] = WhatIfFormat.table,
    output: Annotated[list[str] | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout "
                                                     "(repeatable: one evaluation, several files), the format "
                                                     "from its suffix (.json .md .txt) or FORMAT:FILE.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: every core).")] = None,
    rego_engine: RegoEngineOption = RegoEngineName.regorus,
    opa_url: OpaUrlOption = None,
    strict_aliases: StrictAliasesOption = False,
) -> int:
    """Evaluate the policy set over a stored scan's inventory and compare with its verdicts; exit 1 when
    something becomes non-compliant."""
    outputs = [output_format_of(text, output_format.value) for text in output or []]
    if len(outputs) == 1 and given(ctx, "output_format") and ":" not in (output or [""])[0]:
        outputs = [(output_format.value, outputs[0][1])]  # -o FILE --format F: that file in that format
    check_distinct([(path, "-o") for _, path in outputs],
                   [(management_groups, "--management-groups"), *input_files(policy, assignment, exemption, attestation)])
    request = prepare_policies(policy, assignment, exemption, attestation, management_groups, rego_engine, opa_url,
                               strict_aliases)
    print_notes([], request.warnings, [])  # e.g. aliases read by Azure's convention, as scan and plan say
    with HistoryStore(store, create=False) as history:
        report = what_if(history, baseline, request, policy_set_fingerprint(policy, request), workers)
    if not outputs:
        write_text(render_whatif(output_format.value, report), None)
    rendered = [(path, render_whatif(name, report)) for name, path in outputs]
    write_texts(rendered)  # all or none
    if outputs:
        say(f"{headline(report)} -> {', '.join(str(path) for path, _ in rendered)}")
    return EXIT_FINDINGS if report.newly_non_compliant else EXIT_OK
