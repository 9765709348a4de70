"""Entry point: runs a command and turns errors into one line and an exit status.

Exit status: 0 success (all compliant), 1 findings (non-compliant resources, failed
operations), 2 bad input or usage, 3 internal error, 4 Azure refused or kept failing,
130 interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import typer
from typer.exceptions import Abort, Exit, TyperException

from engine import __version__
from engine.cli.app import COMMAND_LINE, app, import_command, with_named_metavars
from engine.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_SERVICE,
    ArcPolicyError,
    InputError,
    ServiceError,
)
from engine.secret_values import forget_all, scrub
from engine.untrusted_text import terminal_text


def _show_version(value: bool) -> None:
    if value:
        print(f"arcpolicy {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Policy compliance and remediation for fleets of Azure Arc-enabled Kubernetes clusters."""


def _say(text: str) -> None:
    """One line on stderr, secrets known by origin masked."""
    print(f"arcpolicy: {terminal_text(scrub(text))}", file=sys.stderr)


COMPLETION_VARIABLE = "_ARCPOLICY_COMPLETE"  # set by the shell completion script (arcpolicy --show-completion)


def command_words(argv: list[str] | None) -> list[str]:
    """The words naming the command: the arguments, or while the shell completes a line, that line's words
    (bash gives them in COMP_WORDS, zsh, fish and PowerShell in _TYPER_COMPLETE_ARGS), program name left out."""
    if os.environ.get(COMPLETION_VARIABLE):
        line = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
        return line.split()[1:]
    return sys.argv[1:] if argv is None else argv


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return its exit status (callable from tests and scripts)."""
    forget_all()  # each command masks the secrets it meets (engine.secret_values)
    COMMAND_LINE.set(tuple(sys.argv[1:] if argv is None else argv))
    # azure.identity warns in many lines when a credential gets no token; the error line says it once.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    # psycopg warns of the connection it drops when a server goes away; the error line says it once.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    try:
        import_command(command_words(argv))
        command = with_named_metavars(typer.main.get_command(app))
        result = command.main(args=argv, prog_name="arcpolicy", standalone_mode=False)
    except InputError as error:
        _say(f"error: {error.one_line()}")
        return EXIT_BAD_INPUT
    except ServiceError as error:
        _say(f"error: {error}")
        return EXIT_SERVICE
    except ArcPolicyError as error:
        _say(f"error: {error}")
        return EXIT_BAD_INPUT
    except Exit as exit_:
        return exit_.exit_code
    except TyperException as error:  # usage errors: unknown option, bad value ...
        _say(f"error: {error.format_message()} (see 'arcpolicy --help')")
        return EXIT_BAD_INPUT
    except (Abort, KeyboardInterrupt):
        print("arcpolicy: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an arcpolicy bug, not a user error
        if os.environ.get("ARCPOLICY_DEBUG"):
            traceback.print_exc()
        _say(f"internal error: {type(error).__name__}: {error} (set ARCPOLICY_DEBUG=1 for a traceback)")
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
