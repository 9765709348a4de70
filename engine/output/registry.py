"""The output-format registry: each format is one small unit, a record writer in its own module.

Formats are written as records come (:class:`RecordWriter`: ``add`` each record in the scan's order, then
``finish``), so a format holds what its layout needs, not the fleet's records. A format's module is imported
when the format is used (Jinja and YAML cost a scan that writes JSON nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import IO, Any, Protocol

import orjson

from engine.errors import InputError
from engine.models.results import PolicyState
from engine.output.context import ScanMetadata


class OutputRecord:
    """One policy state as the formats get it: its JSON as the ``json`` format writes it (indented, secrets
    masked: serialised once), the document parsed back and the model built only for formats that ask."""

    __slots__ = ("_data", "_state", "json")

    def __init__(self, json: bytes):
        self.json = json
        self._data: dict[str, Any] | None = None
        self._state: PolicyState | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The record's JSON document (camelCase keys, no nulls)."""
        if self._data is None:
            self._data = orjson.loads(self.json)
        return self._data

    @property
    def state(self) -> PolicyState:
        if self._state is None:
            self._state = PolicyState.model_validate(self.data)
        return self._state


class RecordWriter(Protocol):
    """Writes one format to ``out`` (bytes): :meth:`add` for every record, in order, then :meth:`finish`."""

    def add(self, record: OutputRecord) -> None: ...

    def finish(self) -> None: ...


WriterFactory = Callable[[IO[bytes], ScanMetadata], RecordWriter]


@dataclass(frozen=True)
class OutputFormat:
    name: str
    extension: str  # the file suffix that selects this format for ``-o FILE``
    description: str
    writer_path: str  # "module:Class" of its RecordWriter, imported when the format is first used

    def writer(self, out: IO[bytes], metadata: ScanMetadata) -> RecordWriter:
        module, _, name = self.writer_path.partition(":")
        factory: WriterFactory = getattr(import_module(module), name)
        return factory(out, metadata)


FORMATS: dict[str, OutputFormat] = {output.name: output for output in (
    OutputFormat("json", ".json", "policy states as {\"value\": [...]} (Azure policyStates shape)",
                 "engine.output.json_format:JsonWriter"),
    OutputFormat("csv", ".csv", "one row per policy state", "engine.output.csv_format:CsvWriter"),
    OutputFormat("junit", ".xml", "JUnit XML: one testcase per record, NonCompliant as failure",
                 "engine.output.junit:JunitWriter"),
    OutputFormat("policyreport", ".yaml", "wgpolicyk8s.io/v1alpha2 ClusterPolicyReport YAML, one per cluster",
                 "engine.output.policyreport:PolicyReportWriter"),
    OutputFormat("markdown", ".md", "Markdown compliance report", "engine.output.report:MarkdownWriter"),
    OutputFormat("html", ".html", "self-contained HTML compliance report", "engine.output.report:HtmlWriter"),
    OutputFormat("table", ".txt", "plain-text table of non-compliant records (the first 20 per policy) and totals",
                 "engine.output.table:TableWriter"),
)}


def get_format(name: str, source: str = "--format") -> OutputFormat:
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise InputError(source, f"unknown output format; choose one of {', '.join(sorted(FORMATS))}",
                         value=name) from None
