"""``python -m engine`` runs the arcpolicy CLI."""

from engine.cli.main import run

run()
