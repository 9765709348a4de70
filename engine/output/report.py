"""``markdown`` and ``html``: the compliance report (summary, per policy, per cluster with reasons).

Each cluster's section is rendered once its records are complete (:class:`ClusterGroups`) and waits in an
external sort for the report's order (worst first, then by name); the summary and the per-policy table come
from counts kept in memory, so the report is written head first without holding the scan's records.
"""

from __future__ import annotations

from typing import IO, Any, ClassVar

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.external_sort import ExternalSort
from engine.ids import parse_resource_id
from engine.models.results import Reason
from engine.output.context import ScanMetadata
from engine.output.markdown_cap import CappedMarkdown
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
from engine.untrusted_text import markdown_cell, markdown_code

FULL_REPORT = "every record is in the scan's other outputs (`arcpolicy scan -o report.html -o states.json`)"


CLOSEST = "; closest: "  # how an existence condition's reason names the related resources explained after it


def relevant_reasons(reasons: list[Reason]) -> list[Reason]:
    """The reasons worth a reader's time: a related resource that is another kind of extension altogether (its
    ``extensionType`` is not the one the condition asks for) says nothing about why the right one is missing or
    wrong, so its reason is left out of the report (the records in JSON keep every reason); when every related
    resource named was such, the reason before them says so instead of naming them."""
    kept = [reason for reason in reasons if not _other_extension_type(reason)]
    if len(kept) == 1 and len(reasons) > 1 and CLOSEST in kept[0].message:
        headline = kept[0].message.partition(CLOSEST)[0]
        return [kept[0].model_copy(update={"message": f"{headline}; none has the extension type it asks for"})]
    return kept


def _other_extension_type(reason: Reason) -> bool:
    """A related extension's reason (``name: ...``) that it is not of the type asked for."""
    return (reason.field is not None and reason.field.lower().endswith("/extensiontype") and ": " in reason.message
            and reason.operator is not None and reason.operator.lower() in {"equals", "in", "like"}
            and reason.expected != reason.actual)


def place(resource_id: str) -> str:
    """Where a resource lives, briefly: its resource group and the start of its subscription id (a cluster's section
    names the cluster; this tells clusters of one name apart without their full ids, which weigh megabytes at
    fleet size)."""
    parsed = parse_resource_id(resource_id)
    return f"{parsed.resource_group} ({(parsed.subscription_id or '')[:8]})"


TEMPLATES = Environment(loader=PackageLoader("engine.output", "templates"),
                        autoescape=select_autoescape(["html.j2"]), trim_blocks=True, lstrip_blocks=True,
                        keep_trailing_newline=True)
TEMPLATES.filters.update(md=markdown_cell, md_text=markdown_code, resource_name=resource_name, policy_key=policy_key,
                         relevant=relevant_reasons, place=place)


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
        self.write(str(self.macros.head(summary, self.metadata)))
        for _, section in self.sections:
            self.write(section.decode())
        self.write(str(self.macros.tail()))

    def write(self, text: str) -> None:
        self.out.write(text.encode())


class MarkdownWriter(_ReportWriter):
    """The report in Markdown, capped to GitHub's comment limit as every Markdown output is: summary and per
    policy first, then the clusters, worst first, while they fit; a closing line counts the rest."""

    template = "report.md.j2"

    def __init__(self, out: IO[bytes], metadata: ScanMetadata):
        super().__init__(out, metadata)
        self.capped = CappedMarkdown(FULL_REPORT)

    def write(self, text: str) -> None:
        self.capped.add(text)

    def finish(self) -> None:
        super().finish()
        self.out.write(self.capped.text().encode())


class HtmlWriter(_ReportWriter):
    template = "report.html.j2"
