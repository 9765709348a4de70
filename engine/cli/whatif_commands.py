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
    ConfigOption,
    ManagementGroupsOption,
    OpaUrlOption,
    RegoEngineName,
    RegoEngineOption,
    StrictAliasesOption,
    prepare_policies,
)
from engine.cli.output import say, write_text, write_texts
from engine.cli.scan_commands import command_line_overrides, config_keys, given, print_notes
from engine.config import resolve_config
from engine.errors import EXIT_FINDINGS, EXIT_OK, InputError
from engine.history import HistoryStore
from engine.history.whatif import what_if
from engine.history.whatif_formats import assignment_set_notes, headline, output_format_of, render_whatif

# Command-line options that override the --config file (the scheduled scan's): parameter -> dotted config key.
CONFIG_KEYS = config_keys("policy", "assignment", "exemption", "attestation", "management_groups", "rego_engine",
                          "opa_url", "strict_aliases", "store")


class WhatIfFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command("whatif", short_help=short_help("whatif"))
def whatif_command(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Option("--store", envvar="ARCPOLICY_STORE",
                                              help="History store holding the baseline scan (SQLite file or "
                                                   "URL).")] = None,
    policy: Annotated[list[Path] | None, typer.Option("--policy", "-p", help="The changed policy set: file or "
                                                      "folder (.json, .rego; repeatable).")] = None,
    assignment: Annotated[list[Path] | None, typer.Option("--assignment", "-a", help="Assignment file "
                                                          "(repeatable); without any, the baseline scan's own "
                                                          "assignments (else every definition at tenant "
                                                          "scope).")] = None,
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
    rego_engine: RegoEngineOption = RegoEngineName.regorus,
    opa_url: OpaUrlOption = None,
    strict_aliases: StrictAliasesOption = False,
    config_file: ConfigOption = None,
) -> int:
    """Evaluate the policy set over a stored scan's inventory and compare with its verdicts; exit 1 when
    something becomes non-compliant, or a non-compliant record fails something new."""
    outputs = [output_format_of(text, output_format.value) for text in output or []]
    if len(outputs) == 1 and given(ctx, "output_format") and ":" not in (output or [""])[0]:
        outputs = [(output_format.value, outputs[0][1])]  # -o FILE --format F: that file in that format
    config = resolve_config(config_file, command_line_overrides(ctx, CONFIG_KEYS))
    settings = config.scan
    if not settings.policies:
        raise InputError("--policy", "give --policy PATH (repeatable), or scan.policies in the --config file")
    if config.store.url is None:
        raise InputError("--store", "give --store URL (or ARCPOLICY_STORE), or store.url in the --config file")
    check_distinct([(path, "-o") for _, path in outputs],
                   [(settings.management_group_map, "--management-groups"),
                    *input_files(settings.policies, settings.assignments, settings.exemptions, settings.attestations)])
    request = prepare_policies(settings.policies, settings.assignments, settings.exemptions, settings.attestations,
                               settings.management_group_map, settings.rego_engine, settings.opa_url,
                               settings.strict_aliases)
    print_notes([], request.warnings, [])  # e.g. aliases read by Azure's convention, as scan and plan say
    with HistoryStore(config.store.url, create=False) as history:
        report = what_if(history, baseline, request, settings.policies)
    print_notes([], assignment_set_notes(report), [])
    if not outputs:
        write_text(render_whatif(output_format.value, report), None)
    rendered = [(path, render_whatif(name, report)) for name, path in outputs]
    write_texts(rendered)  # all or none
    if outputs:
        say(f"{headline(report)} -> {', '.join(str(path) for path, _ in rendered)}")
    return EXIT_FINDINGS if report.findings else EXIT_OK
