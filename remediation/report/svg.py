"""The plan graph as an inline SVG picture, layered by topological generation (no JavaScript).

Small plans show one box per operation; large ones one box per (layer, resource type, status)
with a count, so the picture stays readable and the HTML small.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape

import networkx as nx

from engine.untrusted_text import xml_text
from remediation.plan.models import Operation, Plan

BOX_WIDTH, BOX_HEIGHT, GAP_X, GAP_Y, MARGIN = 230, 44, 40, 70, 20
TITLE_CHARACTERS, SUBTITLE_CHARACTERS, TITLE_LINE, SUBTITLE_LINE = 30, 38, 15, 13  # per line at 12 / 10 px
LEGEND_HEIGHT = 28
STATUS_COLOURS = {"planned": "#d9f2d9", "waiting": "#fff2cc", "deferred": "#ffe0b3", "skipped": "#e6e6e6"}


def wrapped(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken after a '/' or '.' or at a space where it can
    be (resource types, ids), never cut short."""
    lines: list[str] = []
    rest = text
    while len(rest) > width:
        cut = max(rest.rfind(mark, 0, width) for mark in ("/", ".", " "))
        at = cut + 1 if cut > 0 else width
        lines.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    return [*lines, rest] if rest or not lines else lines


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


def _text(x: float, y: float, lines: list[str], size: int, line_height: int, colour: str) -> str:
    spans = "".join(f'<tspan x="{x:.0f}" dy="{0 if index == 0 else line_height}">{escape(xml_text(line))}</tspan>'
                    for index, line in enumerate(lines))
    return f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" fill="{colour}">{spans}</text>'


def _legend(statuses: list[str]) -> str:
    """What each box colour means, for the statuses the picture shows."""
    parts, x = [], float(MARGIN)
    for status in statuses:
        parts.append(f'<rect x="{x:.0f}" y="{MARGIN}" width="14" height="14" rx="3" '
                     f'fill="{STATUS_COLOURS.get(status, "#fff")}" stroke="#555"/>'
                     f'<text x="{x + 20:.0f}" y="{MARGIN + 11}" font-size="12">{escape(status)}</text>')
        x += 30 + 8 * len(status)
    return f'<g class="legend"><title>box colour: the operation\'s status</title>{"".join(parts)}</g>'


def _draw(rows: list[list[Box]], edges: set[tuple[str, str]]) -> str:
    widest = max((len(row) for row in rows), default=1)
    width = MARGIN * 2 + widest * (BOX_WIDTH + GAP_X)
    statuses = [status for status in STATUS_COLOURS if any(box.status == status for row in rows for box in row)]
    statuses += sorted({box.status for row in rows for box in row} - set(statuses))
    texts = {box.key: (wrapped(box.title, TITLE_CHARACTERS), wrapped(box.subtitle, SUBTITLE_CHARACTERS))
             for row in rows for box in row}
    heights = [max((BOX_HEIGHT - TITLE_LINE - SUBTITLE_LINE + TITLE_LINE * len(texts[box.key][0])
                    + SUBTITLE_LINE * len(texts[box.key][1]) for box in row), default=BOX_HEIGHT) for row in rows]
    height = MARGIN * 2 + LEGEND_HEIGHT + sum(heights) + max(1, len(rows)) * GAP_Y
    centre: dict[str, tuple[float, float, float]] = {}  # x, top, bottom
    shapes: list[str] = []
    y = float(MARGIN + LEGEND_HEIGHT + GAP_Y / 2)
    for row, box_height in zip(rows, heights, strict=True):
        offset = (width - len(row) * (BOX_WIDTH + GAP_X)) / 2
        for column, box in enumerate(row):
            x = offset + column * (BOX_WIDTH + GAP_X) + GAP_X / 2
            centre[box.key] = (x + BOX_WIDTH / 2, y, y + box_height)
            title, subtitle = texts[box.key]
            shapes.append(
                f'<g class="node"><title>{escape(xml_text(box.subtitle))}</title>'
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_WIDTH}" height="{box_height}" rx="6" '
                f'fill="{STATUS_COLOURS.get(box.status, "#fff")}" stroke="#555"/>'
                + _text(x + 8, y + 18, title, 12, TITLE_LINE, "#1b1b1b")
                + _text(x + 8, y + 18 + TITLE_LINE * (len(title) - 1) + 16, subtitle, 10, SUBTITLE_LINE, "#444")
                + "</g>")
        y += box_height + GAP_Y
    lines = []
    for before, after in sorted(edges):
        if before in centre and after in centre:
            (x1, _, bottom), (x2, top, _) = centre[before], centre[after]
            lines.append(f'<line x1="{x1:.0f}" y1="{bottom:.0f}" x2="{x2:.0f}" y2="{top:.0f}" '
                         'stroke="#888" marker-end="url(#arrow)"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-graph" width="{width:.0f}" height="{height}" '
            f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="plan graph">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#888"/></marker></defs>'
            + _legend(statuses) + "".join(lines) + "".join(shapes) + "</svg>")
