"""``arcpolicy policies``: where the shipped policy library is (``--policy builtin:...`` reads it too)."""

from __future__ import annotations

import typer

from engine.builtin_policies import LIBRARY
from engine.cli.app import app, short_help

policies_app = typer.Typer(help="The policy library shipped with arcpolicy (--policy builtin:, builtin:azure, "
                                "builtin:rego).", no_args_is_help=True)
app.add_typer(policies_app, name="policies", short_help=short_help("policies"))


@policies_app.command("path", short_help="Print the folder of the shipped library.")
def path_command() -> None:
    """Print the folder of the shipped library (azure/ and rego/), e.g. to copy it or point a config at it."""
    print(LIBRARY)
