"""The output-format registry: each format is one small unit registered under its name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.errors import InputError
from engine.models.results import PolicyState
from engine.output.context import ScanMetadata

Renderer = Callable[[Sequence[PolicyState], ScanMetadata], str]


@dataclass(frozen=True)
class OutputFormat:
    name: str
    extension: str  # the file suffix that selects this format for ``-o FILE``
    description: str
    render: Renderer


FORMATS: dict[str, OutputFormat] = {}


def output_format(name: str, extension: str, description: str) -> Callable[[Renderer], Renderer]:
    """Register a renderer under ``name``."""

    def register(render: Renderer) -> Renderer:
        FORMATS[name] = OutputFormat(name, extension, description, render)
        return render

    return register


def get_format(name: str, source: str = "--format") -> OutputFormat:
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise InputError(source, f"unknown output format; choose one of {', '.join(sorted(FORMATS))}",
                         value=name) from None
