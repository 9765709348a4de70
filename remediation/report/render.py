"""Dry-run reports of a plan: one self-contained HTML file, and Markdown for pull-request comments.

The view (:class:`PlanView`) is computed once from the plan; the jinja2 templates only lay it
out. Plans hold no secrets (redacted at expansion), so reports cannot leak any.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.atomic import atomic_writer
from engine.ids import ResourceIdError, parse_resource_id
from engine.output.markdown_cap import cap_markdown
from engine.untrusted_text import markdown_cell, markdown_code
from remediation.plan.models import ChangeCount, Operation, OperationStatus, Plan, PlanSummary, count_changes
from remediation.report.svg import plan_svg

STATUSES = [status.value for status in OperationStatus]
BODY_LIMIT = 500  # operations whose bodies the HTML shows in full
ROW_LIMIT = 2000  # rows of the per-cluster table

def resource_group_name(resource_id: str) -> str:
    """A cluster's resource group ("By cluster" names the cluster, its full id in a tooltip; "" when none)."""
    try:
        return parse_resource_id(resource_id).resource_group or ""
    except ResourceIdError:
        return ""  # "(shared resources)"


def shown_value(value: object) -> str:
    """A change's before or after value as every report writes it: its JSON, ``(none)`` when absent."""
    return "(none)" if value is None else json.dumps(value, ensure_ascii=False)


_environment = Environment(loader=PackageLoader("remediation.report", "templates"),
                           autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False), trim_blocks=True, lstrip_blocks=True)
_environment.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2)
_environment.filters["value"] = shown_value
# every name, id or message is a code span (engine.untrusted_text.markdown_code): no HTML, link or @mention
_environment.filters["code"] = _environment.filters["md"] = markdown_cell
_environment.filters["md_text"] = markdown_code
_environment.filters["type_name"] = lambda resource_type: resource_type.rsplit("/", 1)[-1]
_environment.filters["last_segment"] = lambda resource_id: (resource_id or "").rsplit("/", 1)[-1] or "(none)"
_environment.filters["resource_group"] = resource_group_name
CHANGE_GROUP_LIMIT = 100  # distinct (type, field, before, after) changes the Markdown lists




@dataclass(slots=True)
class Row:
    name: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class PlanView:
    plan: Plan
    summary: PlanSummary
    policies: list[Row]
    clusters: list[Row]
    not_applied: list[Operation]
    shown: list[Operation]
    changes: list[ChangeCount]
    svg: str

    @property
    def statuses(self) -> list[str]:
        return STATUSES


def plan_view(plan: Plan) -> PlanView:
    policies: dict[str, Row] = defaultdict(lambda: Row(""))
    clusters: dict[str, Row] = defaultdict(lambda: Row(""))
    for operation in plan.operations:
        for assignment in {reason.policy_assignment_id or "(none)" for reason in operation.reasons}:
            policies[assignment].name = assignment
            policies[assignment].counts[operation.status.value] += 1
        cluster = operation.cluster_id or "(shared resources)"
        clusters[cluster].name = cluster
        clusters[cluster].counts[operation.status.value] += 1
    return PlanView(
        plan=plan,
        summary=plan.summary,
        changes=count_changes(plan.operations),
        policies=sorted(policies.values(), key=lambda row: row.name),
        clusters=sorted(clusters.values(), key=lambda row: row.name)[:ROW_LIMIT],
        not_applied=[operation for operation in plan.operations
                     if operation.status in (OperationStatus.SKIPPED, OperationStatus.DEFERRED)],
        shown=plan.operations[:BODY_LIMIT],
        svg=plan_svg(plan),
    )


def render_html(plan: Plan) -> str:
    return _environment.get_template("plan.html.j2").render(view=plan_view(plan), row_limit=ROW_LIMIT,
                                                            body_limit=BODY_LIMIT)


def render_markdown(plan: Plan) -> str:
    """The plan for a pull-request comment: capped to GitHub's comment limit (every conflict and operation
    stays in plan.json)."""
    return cap_markdown(_environment.get_template("plan.md.j2").render(view=plan_view(plan),
                                                                       change_limit=CHANGE_GROUP_LIMIT),
                        "plan.json (and the HTML report, --report)")


def write_report(text: str, path: str | Path) -> None:
    with atomic_writer(path) as out:
        out.write(text)
