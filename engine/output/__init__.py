"""Scan output formats: ``render(name, states, metadata)`` over the ``FORMATS`` registry.

Every format renders redacted copies of the records, so no format can leak a secret.
``-o FILE`` picks the format from the suffix, or from a ``FORMAT:FILE`` prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from engine.atomic import atomic_writer, check_writable
from engine.errors import InputError
from engine.models.results import PolicyState
from engine.output import csv_format, json_format, junit, policyreport, report, table  # noqa: F401  (register)
from engine.output.context import ScanMetadata, new_scan_id
from engine.output.redact import redact_state
from engine.output.registry import FORMATS, OutputFormat, get_format


class OutputSpec(BaseModel):
    """One requested output: a registered format written to a file."""

    format: str
    path: Path


def render(format_name: str, states: Sequence[PolicyState], metadata: ScanMetadata | None = None) -> str:
    """The records (secrets masked) in the named format."""
    output = get_format(format_name)
    return output.render([redact_state(state) for state in states], metadata or ScanMetadata())


def parse_output_spec(text: str) -> OutputSpec:
    """``FORMAT:FILE`` or ``FILE`` (format from the suffix: .json .csv .xml .yaml .md .html .txt)."""
    prefix, separator, rest = text.partition(":")
    if separator and prefix.lower() in FORMATS and rest:
        return OutputSpec(format=prefix.lower(), path=Path(rest))
    suffix = Path(text).suffix.lower()
    by_suffix = {output.extension: output.name for output in FORMATS.values()} | {".yml": "policyreport"}
    if suffix not in by_suffix:
        raise InputError("-o", "cannot tell the format from the file name; write FORMAT:FILE "
                               f"with FORMAT one of {', '.join(sorted(FORMATS))}", value=text)
    return OutputSpec(format=by_suffix[suffix], path=Path(text))


def write_outputs(specs: Sequence[OutputSpec], states: Sequence[PolicyState], metadata: ScanMetadata) -> None:
    """Check every destination and render every requested output first, then write each atomically:
    bad input writes nothing."""
    for spec in specs:
        check_writable(spec.path, "-o")
    safe = [redact_state(state) for state in states]
    rendered = [(spec.path, get_format(spec.format, "-o").render(safe, metadata)) for spec in specs]
    for path, text in rendered:
        with atomic_writer(path) as out:
            out.write(text)


__all__ = ["FORMATS", "OutputFormat", "OutputSpec", "ScanMetadata", "new_scan_id", "parse_output_spec", "render",
           "write_outputs"]
