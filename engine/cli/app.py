"""The Typer applications every command module registers itself on."""

from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup

# The order of `arcpolicy --help`: the pipeline first (inventory -> scan -> plan -> apply), then history,
# authoring and tools; a command missing here follows in registration order.
COMMAND_ORDER = ("inventory", "scan", "plan", "apply", "history", "diff", "trend", "whatif", "schedule", "test",
                 "spec", "policies", "sandbox")


class PipelineOrderGroup(TyperGroup):
    """Lists the commands in :data:`COMMAND_ORDER` rather than in the order their modules were imported."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    name="arcpolicy",
    cls=PipelineOrderGroup,
    help="Policy compliance and remediation for fleets of Azure Arc-enabled Kubernetes clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(help="The local ARM + Resource Graph sandbox and its fleet generator.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox", short_help="The local ARM + Resource Graph sandbox and its fleet generator.")

# Typer shows an option's Python type as its metavar (<list[Path]>, <int range>); help names values instead.
TYPE_METAVARS = {"path": "PATH", "str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER",
                 "float range": "NUMBER"}
OPTION_METAVARS = {"--subscription": "ID", "--management-group": "ID", "--arm-endpoint": "URL", "--opa-url": "URL",
                   "--store": "URL", "--keep": "DURATION", "--jitter": "DURATION", "--cron": "EXPRESSION",
                   "--write-limit": "B/R", "--throttle": "Q/Ws", "--timeout": "SECONDS", "--output": "FILE",
                   "--failure-threshold": "FRACTION", "--canary-percent": "PERCENT", "-k": "EXPRESSION",
                   "--wave": "K", "--from-store": "URL", "--scan": "SCAN", "--baseline": "SCAN",
                   "--format": "FORMAT", "--log-format": "<text|json>"}


def with_named_metavars(command: TyperCommand | TyperGroup) -> TyperCommand | TyperGroup:
    """``command`` (and its subcommands) with a metavar naming each option's value; choices keep <a|b>."""
    for subcommand in getattr(command, "commands", {}).values():
        with_named_metavars(subcommand)
    for param in command.params:
        if param.param_type_name == "argument" and param.metavar is None and param.name:
            param.metavar = param.name.upper()
            param.display_type_rich = lambda ctx: None  # the name says it; no "<list[Path]>" beside it
        if param.param_type_name != "option" or param.metavar is not None or getattr(param, "is_flag", False):
            continue
        label = param.display_type(None).strip("<>").lower()
        if "|" in label:
            continue  # a choice: <table|json> says it
        named = next((OPTION_METAVARS[name] for name in param.opts if name in OPTION_METAVARS), None)
        param.metavar = named or TYPE_METAVARS.get(label.removeprefix("list[").removesuffix("]"))
    return command
