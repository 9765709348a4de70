"""The policy library shipped with arcpolicy (Rego and Azure Policy JSON, packaged as data)."""

from pathlib import Path

LIBRARY = Path(__file__).resolve().parent
