"""The Typer applications every command module registers itself on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="arcpolicy",
    help="Policy compliance and remediation for fleets of Azure Arc-enabled Kubernetes clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(help="The local ARM + Resource Graph sandbox and its fleet generator.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
