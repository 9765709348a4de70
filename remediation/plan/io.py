"""plan.json on disk: written atomically, read back (by apply and the report commands) as a Plan.

:func:`read_plan` is the one reader: besides the schema it checks what apply relies on (unique
operation ids, ``dependsOn`` naming operations of the plan, no dependency cycle, parseable
resource ids), so a hand-edited plan is refused with one line naming the place.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
from pydantic import ValidationError

from engine import ids
from engine.atomic import atomic_writer
from engine.errors import InputError
from engine.jsonfiles import read_json
from remediation.plan.fileformat import encode_plan, expand_document
from remediation.plan.models import Plan


def plan_json(plan: Plan) -> str:
    """plan.json's text (:mod:`remediation.plan.fileformat`)."""
    return encode_plan(plan)


def write_plan(plan: Plan, path: str | Path) -> None:
    with atomic_writer(path) as out:
        out.write(plan_json(plan))


def read_plan(path: str | Path) -> Plan:
    """Read plan.json; raises InputError naming the file and the place when it is not a usable plan."""
    document = expand_document(read_json(path, "plan file"), str(path))
    try:
        plan = Plan.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise InputError(str(path), f"not a plan file: {first['msg']}", location=location or None,
                         value=first.get("input") if first["loc"] else None) from None
    check_plan(plan, str(path))
    return plan


def check_plan(plan: Plan, source: str = "plan") -> None:
    """What apply relies on beyond the schema; ``source`` names the plan in the InputError."""
    index_of: dict[str, int] = {}
    for index, operation in enumerate(plan.operations):
        if operation.id in index_of:
            raise InputError(source, "duplicate operation id", location=f"operations[{index}].id", value=operation.id)
        index_of[operation.id] = index
        for field, value in (("resourceId", operation.resource_id), ("clusterId", operation.cluster_id)):
            if value is None:
                continue
            try:
                ids.parse_resource_id(value)
            except ids.ResourceIdError:
                raise InputError(source, "not an ARM resource id", location=f"operations[{index}].{field}",
                                 value=value) from None
    graph = nx.DiGraph()
    graph.add_nodes_from(index_of)
    for index, operation in enumerate(plan.operations):
        for position, dependency in enumerate(operation.depends_on):
            if dependency not in index_of:
                raise InputError(source, "dependsOn names no operation of the plan",
                                 location=f"operations[{index}].dependsOn[{position}]", value=dependency)
            graph.add_edge(operation.id, dependency)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = [edge[0] for edge in cycle] + [cycle[0][0]]
    raise InputError(source, "dependency cycle (each depends on the next): " + " -> ".join(names),
                     location=f"operations[{index_of[cycle[0][0]]}].dependsOn")
