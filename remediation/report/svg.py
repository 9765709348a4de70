"""The plan graph as an inline SVG picture, layered by topological generation (no JavaScript).

Small plans show one box per operation; large ones one box per (layer, resource type, status)
with a count, so the picture stays readable and the HTML small.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape

import networkx as nx

from remediation.plan.models import Operation, Plan

BOX_WIDTH, BOX_HEIGHT, GAP_X, GAP_Y, MARGIN = 230, 44, 40, 70, 20
STATUS_COLOURS = {"planned": "#d9f2d9", "waiting": "#fff2cc", "deferred": "#ffe0b3", "skipped": "#e6e6e6"}


@dataclass(frozen=True, slots=True)
class Box:
    key: str
    title: str
    subtitle: str
    status: str


def plan_svg(plan: Plan, detail_limit: int = 120) -> str:
    graph = nx.DiGraph()
    for operation in plan.operations:
        graph.add_node(operation.id)
        graph.add_edges_from((before, operation.id) for before in operation.depends_on)
    layers = list(nx.topological_generations(graph))
    by_id = {operation.id: operation for operation in plan.operations}
    if len(plan.operations) <= detail_limit:
        rows = [[Box(key, f"{by_id[key].action.value} {by_id[key].resource_type.split('/')[-1]}",
                     by_id[key].resource_id.rsplit("/", 1)[-1], by_id[key].status.value)
                 for key in sorted(layer)] for layer in layers]
        edges = {(before, after) for before, after in graph.edges}
    else:
        rows, edges = _grouped(layers, by_id, graph)
    return _draw(rows, edges)


def _group_key(layer: int, operation: Operation) -> str:
    return f"{layer}|{operation.resource_type}|{operation.status.value}"


def _grouped(layers: list[list[str]], by_id: dict[str, Operation], graph: nx.DiGraph) -> tuple[list[list[Box]], set[tuple[str, str]]]:
    group_of: dict[str, str] = {}
    rows: list[list[Box]] = []
    for index, layer in enumerate(layers):
        counts = Counter(_group_key(index, by_id[key]) for key in layer)
        for key in layer:
            group_of[key] = _group_key(index, by_id[key])
        rows.append([Box(group, f"{count} x {group.split('|')[1].split('/')[-1]}", group.split("|")[1],
                         group.split("|")[2]) for group, count in sorted(counts.items())])
    edges = {(group_of[before], group_of[after]) for before, after in graph.edges}
    return rows, edges


def _draw(rows: list[list[Box]], edges: set[tuple[str, str]]) -> str:
    widest = max((len(row) for row in rows), default=1)
    width = MARGIN * 2 + widest * (BOX_WIDTH + GAP_X)
    height = MARGIN * 2 + max(1, len(rows)) * (BOX_HEIGHT + GAP_Y)
    centre: dict[str, tuple[float, float]] = {}
    shapes: list[str] = []
    for row_index, row in enumerate(rows):
        offset = (width - len(row) * (BOX_WIDTH + GAP_X)) / 2
        y = MARGIN + row_index * (BOX_HEIGHT + GAP_Y)
        for column, box in enumerate(row):
            x = offset + column * (BOX_WIDTH + GAP_X) + GAP_X / 2
            centre[box.key] = (x + BOX_WIDTH / 2, y)
            shapes.append(
                f'<g class="node"><title>{escape(box.subtitle)}</title>'
                f'<rect x="{x:.0f}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" '
                f'fill="{STATUS_COLOURS.get(box.status, "#fff")}" stroke="#555"/>'
                f'<text x="{x + 8:.0f}" y="{y + 18}" font-size="12">{escape(box.title[:34])}</text>'
                f'<text x="{x + 8:.0f}" y="{y + 34}" font-size="10" fill="#444">{escape(box.subtitle[:40])}</text></g>')
    lines = []
    for before, after in sorted(edges):
        if before in centre and after in centre:
            (x1, y1), (x2, y2) = centre[before], centre[after]
            lines.append(f'<line x1="{x1:.0f}" y1="{y1 + BOX_HEIGHT}" x2="{x2:.0f}" y2="{y2}" '
                         'stroke="#888" marker-end="url(#arrow)"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-graph" width="{width:.0f}" height="{height}" '
            f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="plan graph">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#888"/></marker></defs>'
            + "".join(lines) + "".join(shapes) + "</svg>")
