"""Scan output formats over the ``FORMATS`` registry, written as records come.

Every format gets the records secrets masked (:class:`OutputRecord`: the JSON serialised once, masked
once), so no format can leak a secret. ``-o FILE`` picks the format from the suffix, or from a
``FORMAT:FILE`` prefix. :class:`OutputFiles` writes a scan's files as its records stream by, each to a
temporary file renamed into place when the scan is complete: all of them, or none.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path

from pydantic import BaseModel

from engine.atomic import atomic_writer, check_writable
from engine.errors import InputError
from engine.models.results import PolicyState
from engine.output.context import ScanMetadata, new_scan_id
from engine.output.json_format import encode_record
from engine.output.redact import redact_record
from engine.output.registry import FORMATS, OutputFormat, OutputRecord, RecordWriter, get_format


class OutputSpec(BaseModel):
    """One requested output: a registered format written to a file."""

    format: str
    path: Path


def output_record(state: PolicyState) -> OutputRecord:
    """A policy state as the formats get it (secrets masked)."""
    return OutputRecord(encode_record(redact_record(state.to_json())))


def render(format_name: str, states: Iterable[PolicyState], metadata: ScanMetadata | None = None) -> str:
    """The records (secrets masked) in the named format."""
    out = io.BytesIO()
    writer = get_format(format_name).writer(out, metadata or ScanMetadata())
    for state in states:
        writer.add(output_record(state))
    writer.finish()
    return out.getvalue().decode()


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


class OutputFiles:
    """The output files of ``specs``, written as records come (``with``: :meth:`add` each record in order, then
    :meth:`finish`). Each goes to a temporary file beside its path, renamed when the ``with`` block ends without
    an error; on an error every temporary file is removed, so a failed scan leaves no output behind.
    ``metadata`` may still change until :meth:`finish` (the scan's duration is known at its end)."""

    def __init__(self, specs: Sequence[OutputSpec], metadata: ScanMetadata):
        self.specs = list(specs)
        self.metadata = metadata
        self.writers: list[RecordWriter] = []
        self._files = ExitStack()

    def __enter__(self) -> OutputFiles:
        for spec in self.specs:
            check_writable(spec.path, "-o")
        formats = [get_format(spec.format, "-o") for spec in self.specs]
        with ExitStack() as opening:
            opening.enter_context(self._files)
            for spec, output in zip(self.specs, formats, strict=True):
                out = self._files.enter_context(atomic_writer(spec.path, binary=True))
                self.writers.append(output.writer(out, self.metadata))
            opening.pop_all()
        return self

    def add(self, record: OutputRecord) -> None:
        for writer in self.writers:
            writer.add(record)

    def finish(self) -> None:
        for writer in self.writers:
            writer.finish()

    def __exit__(self, *exc: object) -> None:
        self._files.__exit__(*exc)


def write_outputs(specs: Sequence[OutputSpec], states: Iterable[PolicyState], metadata: ScanMetadata) -> None:
    """Write ``states`` in every requested output (nothing to do, and nothing masked, when none is requested)."""
    if not specs:
        return
    with OutputFiles(specs, metadata) as files:
        for state in states:
            files.add(output_record(state))
        files.finish()


__all__ = ["FORMATS", "OutputFiles", "OutputFormat", "OutputRecord", "OutputSpec", "ScanMetadata", "new_scan_id",
           "output_record", "parse_output_spec", "render", "write_outputs"]
