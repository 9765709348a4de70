"""The Typer applications every command module registers itself on."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import import_module

import typer
from typer.core import TyperCommand, TyperGroup

# The arguments of the command running (after ``arcpolicy``): apply repeats them in the --resume command it prints.
COMMAND_LINE: ContextVar[tuple[str, ...]] = ContextVar("COMMAND_LINE", default=())


@dataclass(frozen=True)
class CommandEntry:
    """Where a command lives and its line in ``arcpolicy --help``: its module is imported only when the command
    runs (or shows its own help), so a command imports what it uses and ``--help`` none of them."""

    modules: tuple[str, ...]
    short_help: str


# The commands in the order of `arcpolicy --help`: the pipeline first (inventory -> scan -> plan -> apply), then
# history, authoring and tools.
COMMANDS: dict[str, CommandEntry] = {
    "inventory": CommandEntry(("engine.cli.inventory_commands",), "Read the fleet and summarise it."),
    "scan": CommandEntry(("engine.cli.scan_commands",), "Evaluate policies over the fleet."),
    "plan": CommandEntry(("engine.cli.plan_commands",), "Plan the ARM writes that remediate the fleet (dry run)."),
    "apply": CommandEntry(("engine.cli.apply_commands",),
                          "Apply a reviewed plan: paced, retried, journaled, verified."),
    "export": CommandEntry(("engine.cli.export_commands",),
                           "Export a reviewed plan as ARM deployments or Terraform."),
    "history": CommandEntry(("engine.cli.history_commands",), "List stored scans, newest first."),
    "diff": CommandEntry(("engine.cli.history_commands",), "What changed between two stored scans."),
    "trend": CommandEntry(("engine.cli.history_commands",), "Chart compliance over time (HTML, SVG)."),
    "whatif": CommandEntry(("engine.cli.whatif_commands",),
                           "What a changed policy set does to a stored scan's fleet."),
    "schedule": CommandEntry(("engine.cli.schedule_commands",), "Scan on a cron schedule in one process."),
    "health": CommandEntry(("engine.cli.health_commands",),
                           "Liveness probe: exit 0 while a scheduler's health file shows it alive."),
    "test": CommandEntry(("engine.cli.rego_commands",), "Run Rego unit tests, as opa test does."),
    "spec": CommandEntry(("engine.cli.spec_commands",), "Run Gherkin specs with the step library."),
    "policies": CommandEntry(("engine.cli.policies_commands",), "The shipped policy library (--policy builtin:)."),
    "sandbox": CommandEntry(("engine.cli.sandbox_commands", "engine.cli.inventory_commands"),
                            "The local ARM + Resource Graph sandbox and its fleet generator."),
}


def short_help(name: str) -> str:
    """The one line ``arcpolicy --help`` shows for command ``name`` (its decorator passes it on)."""
    return COMMANDS[name].short_help


def import_command(argv: Sequence[str]) -> None:
    """Import the module(s) of the command ``argv`` names (its first word that is not an option), which register
    it on :data:`app`; nothing for ``--help``, ``--version`` or an unknown command."""
    name = next((word for word in argv if not word.startswith("-")), None)
    for module in COMMANDS[name].modules if name in COMMANDS else ():
        import_module(module)


class PipelineOrderGroup(TyperGroup):
    """Lists every command of :data:`COMMANDS` in that order, whether its module was imported or not (one that
    was not is listed by its short help alone)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(COMMANDS)}
        return sorted({*names, *COMMANDS}, key=lambda name: rank.get(name, len(rank)))

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            return TyperCommand(cmd_name, short_help=short_help(cmd_name), rich_markup_mode=None)
        return command


app = typer.Typer(
    name="arcpolicy",
    cls=PipelineOrderGroup,
    help="Policy compliance and remediation for fleets of Azure Arc-enabled Kubernetes clusters.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(help="The local ARM + Resource Graph sandbox and its fleet generator.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox", short_help=short_help("sandbox"))

# Typer shows an option's Python type as its metavar (<list[Path]>, <int range>); help names values instead.
TYPE_METAVARS = {"path": "PATH", "str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER",
                 "float range": "NUMBER"}
OPTION_METAVARS = {"--subscription": "ID", "--management-group": "ID", "--arm-endpoint": "URL", "--opa-url": "URL",
                   "--store": "URL", "--keep": "DURATION", "--jitter": "DURATION", "--expiry-warning": "DURATION",
                   "--grace": "DURATION", "--max-run": "DURATION", "--cron": "EXPRESSION",
                   "--write-limit": "B/R", "--read-limit": "B/R", "--delete-limit": "B/R", "--throttle": "Q/Ws",
                   "--timeout": "SECONDS", "--output": "FILE",
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
