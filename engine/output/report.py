"""``markdown`` and ``html``: the compliance report (summary, per policy, per cluster with reasons)."""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.models.results import PolicyState
from engine.output.context import ScanMetadata
from engine.output.registry import output_format
from engine.output.summary import policy_key, resource_name, summarize


def markdown_cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


TEMPLATES = Environment(loader=PackageLoader("engine.output", "templates"),
                        autoescape=select_autoescape(["html.j2"]), trim_blocks=True, lstrip_blocks=True,
                        keep_trailing_newline=True)
TEMPLATES.filters.update(md=markdown_cell, resource_name=resource_name, policy_key=policy_key)


def _render(template: str, states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    return TEMPLATES.get_template(template).render(summary=summarize(states), scan=metadata)


@output_format("markdown", ".md", "Markdown compliance report")
def render_markdown(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    return _render("report.md.j2", states, metadata)


@output_format("html", ".html", "self-contained HTML compliance report")
def render_html(states: Sequence[PolicyState], metadata: ScanMetadata) -> str:
    return _render("report.html.j2", states, metadata)
