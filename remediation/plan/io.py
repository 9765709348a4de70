"""plan.json on disk: written atomically, read back (by apply and the report commands) as a Plan.

:func:`read_plan` is the one reader: besides the schema it checks what apply relies on (unique
operation ids, ``dependsOn`` naming operations of the plan, no dependency cycle, parseable
resource ids), so a hand-edited plan is refused with one line naming the place.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import networkx as nx
import orjson
from pydantic import ValidationError

from engine import ids
from engine.atomic import atomic_writer
from engine.errors import InputError
from engine.jsonfiles import read_json
from remediation.plan.fileformat import encode_plan, expand_document
from remediation.plan.models import Action, Operation, Plan, RequestBody


def plan_json(plan: Plan) -> str:
    """plan.json's text (:mod:`remediation.plan.fileformat`)."""
    return encode_plan(plan)


def plan_fingerprint(plan: Plan) -> str:
    """A digest of the plan's content: apply's journal key (a changed plan never resumes an old run), and what
    an export carries to say which plan it is."""
    return "sha256:" + hashlib.sha256(orjson.dumps(plan.to_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()


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
    """What apply relies on beyond the schema, every cross-reference included, before any write:
    unique operation ids; ids that are ARM resource ids of the stated ``resourceType``; a request
    body of ARM's shape for every create and update; ``dependsOn``, ``waves`` and conflicts naming
    operations of the plan; each operation in at most one wave, the one its ``wave`` says; no
    dependency cycle. ``source`` names the plan in the InputError."""
    index_of: dict[str, int] = {}
    for index, operation in enumerate(plan.operations):
        if operation.id in index_of:
            raise InputError(source, "duplicate operation id", location=f"operations[{index}].id", value=operation.id)
        index_of[operation.id] = index
        _check_operation(operation, f"operations[{index}]", source)
    _check_waves(plan, index_of, source)
    for index, conflict in enumerate(plan.conflicts):
        for position, name in enumerate(conflict.operations):
            if name not in index_of:
                raise InputError(source, "names no operation of the plan",
                                 location=f"conflicts[{index}].operations[{position}]", value=name)
    _check_dependencies(plan, index_of, source)


def _check_operation(operation: Operation, place: str, source: str) -> None:
    for field, value in (("resourceId", operation.resource_id), ("clusterId", operation.cluster_id)):
        if value is None:
            continue
        try:
            parsed = ids.parse_resource_id(value)
        except ids.ResourceIdError:
            raise InputError(source, "not an ARM resource id", location=f"{place}.{field}", value=value) from None
        if field == "resourceId" and not ids.same(parsed.type, operation.resource_type):
            raise InputError(source, f"resourceType is not the type of resourceId ({parsed.type})",
                             location=f"{place}.resourceType", value=operation.resource_type)
    if not API_VERSION.fullmatch(operation.api_version):
        raise InputError(source, "not an ARM api-version (YYYY-MM-DD, optionally -preview)",
                         location=f"{place}.apiVersion", value=operation.api_version)
    if operation.action == Action.DELETE:
        if operation.body is not None:
            raise InputError(source, "a delete sends no body", location=f"{place}.body")
        return
    if operation.body is None:
        raise InputError(source, f"a {operation.action.value} needs the body it sends", location=place)
    try:
        RequestBody.model_validate(operation.body)
    except ValidationError as error:
        first = error.errors()[0]
        inner = ".".join(str(part) for part in first["loc"])
        raise InputError(source, f"not an ARM request body: {first['msg']}", location=f"{place}.body.{inner}") from None


# ARM api-versions: a date, optionally with a stage (2022-11-01, 2024-04-01-preview).
API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-[A-Za-z]+)?")


def _check_waves(plan: Plan, index_of: dict[str, int], source: str) -> None:
    wave_of: dict[str, int] = {}
    for index, wave in enumerate(plan.waves):
        for position, name in enumerate(wave.operations):
            place = f"waves[{index}].operations[{position}]"
            if name not in index_of:
                raise InputError(source, "names no operation of the plan", location=place, value=name)
            if name in wave_of:
                raise InputError(source, f"operation already in wave {wave_of[name]}", location=place, value=name)
            stated = plan.operations[index_of[name]].wave
            if stated is not None and stated != wave.number:
                raise InputError(source, f"the operation says it is in wave {stated}", location=place, value=name)
            wave_of[name] = wave.number


def _check_dependencies(plan: Plan, index_of: dict[str, int], source: str) -> None:
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
