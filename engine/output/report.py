"""``markdown`` and ``html``: the compliance report (summary, per policy, per cluster with reasons).

Each cluster's section is rendered once its records are complete (:class:`ClusterGroups`) and waits in an
external sort for the report's order (worst first, then by name); the summary and the per-policy table come
from counts kept in memory, so the report is written head first without holding the scan's records.
"""

from __future__ import annotations

from typing import IO, Any, ClassVar

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.external_sort import ExternalSort
from engine.output.context import ScanMetadata
from engine.output.registry import OutputRecord
from engine.output.summary import (
    ClusterGroups,
    ComplianceSummary,
    GroupSummary,
    ResourceCounter,
    StateCounts,
    needs_attention,
    policy_key,
    record_policy_key,
    resource_name,
)


def markdown_cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


TEMPLATES = Environment(loader=PackageLoader("engine.output", "templates"),
                        autoescape=select_autoescape(["html.j2"]), trim_blocks=True, lstrip_blocks=True,
                        keep_trailing_newline=True)
TEMPLATES.filters.update(md=markdown_cell, resource_name=resource_name, policy_key=policy_key)


class _ReportWriter:
    """The report of ``template``: its macros ``head(summary, scan)``, ``cluster_section(cluster)``, ``tail()``."""

    template: ClassVar[str]

    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        self.out = out
        self.metadata = metadata
        self.macros: Any = TEMPLATES.get_template(self.template).module
        self.counts = StateCounts()
        self.resources = ResourceCounter()
        self.policies: dict[str, GroupSummary] = {}
        self.clusters = ClusterGroups()
        self.sections = ExternalSort()

    def add(self, record: OutputRecord) -> None:
        data = record.data
        state = data["complianceState"]
        self.counts.add(state)
        self.resources.add(data["resourceId"], state)
        key = record_policy_key(data)
        policy = self.policies.get(key)
        if policy is None:
            title = data.get("policyDefinitionDisplayName") or data["policyDefinitionName"]
            policy = self.policies[key] = GroupSummary(key=key, title=title, counts=StateCounts())
        policy.counts.add(state)
        for cluster_id, members in self.clusters.add(data["resourceId"], record):
            self._section(cluster_id, members)

    def _section(self, cluster_id: str, members: list[OutputRecord]) -> None:
        counts = StateCounts.of(member.data["complianceState"] for member in members)
        cluster = GroupSummary(key=cluster_id.lower(), title=resource_name(cluster_id), counts=counts,
                               findings=[member.state for member in members
                                         if needs_attention(member.data["complianceState"])])
        text = str(self.macros.cluster_section(cluster))
        # Worst first, then by name, so the report opens on what needs fixing (ties: first seen first).
        self.sections.add((counts.percentage, cluster.title.lower(), self.sections.count), text.encode())

    def finish(self) -> None:
        for cluster_id, members in self.clusters.finish():
            self._section(cluster_id, members)
        policies = sorted(self.policies.values(), key=lambda group: (group.counts.percentage, group.title.lower()))
        summary = ComplianceSummary(counts=self.counts, resources=self.resources.counts(), policies=policies,
                                    clusters=[])
        self.out.write(str(self.macros.head(summary, self.metadata)).encode())
        for _, section in self.sections:
            self.out.write(section)
        self.out.write(str(self.macros.tail()).encode())


class MarkdownWriter(_ReportWriter):
    template = "report.md.j2"


class HtmlWriter(_ReportWriter):
    template = "report.html.j2"
