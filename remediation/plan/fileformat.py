"""The layout of plan.json (``formatVersion`` 2): compact, one line per operation, each reason once.

At fleet scale a shared target (a workspace wanted by every cluster of a region) used to repeat
every wanting (assignment, cluster) in full, and every operation repeated its primary reason:
55 MB at 10,000 clusters. Version 2 keeps the same information in a fraction of it:

- ``policies``: each (assignment, definition, reference id) once; ``reasons``: each (policy,
  evaluated resource) once, as ``{"policy": index, "evaluatedResourceId": ...}``;
- an operation's ``reasons`` (and a conflict's) are indices into ``reasons``, its ``why`` is said
  once for the operation instead of once per reason;
- a body, or a deferred value, that several operations share (every cluster of a region gets the
  same extension body, reading the same workspace) is written once in ``bodies`` /
  ``deferredValues`` and an operation names it by its index there; one used once stays inline;
- ``clusterId`` and ``subscriptionId`` are left out where the resource id says them (written,
  possibly as null, only where they differ), as are empty lists; a ``deferred`` secret source
  whose value is the operation's deferred value at the same path names only that path;
- one operation (reason, policy) per line, so grep and diff still show whole operations.

:func:`expand_document` turns a version-2 document back into the :class:`Plan` model's expanded
layout (version 1, which older plan files have and ``Plan.to_json`` gives), so every reader sees
the same plan.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from engine import ids
from engine.errors import InputError
from remediation.plan.models import EXPANDED_FORMAT_VERSION, Operation, Plan, Reason

FILE_FORMAT_VERSION = 2
READABLE_VERSIONS = (EXPANDED_FORMAT_VERSION, FILE_FORMAT_VERSION)
POLICY_FIELDS = ("policyAssignmentId", "policyDefinitionId", "policyDefinitionReferenceId")
LISTS_LEFT_OUT_WHEN_EMPTY = ("dependsOn", "deferredValues", "secretSources", "generatedValues", "flags", "changes")


class _ReasonTable:
    def __init__(self) -> None:
        self.policies: list[dict[str, str]] = []
        self.reasons: list[dict[str, Any]] = []
        self._policy_index: dict[tuple[str | None, ...], int] = {}
        self._reason_index: dict[tuple[int, str | None], int] = {}

    def index(self, reason: Reason) -> int:
        policy_key = (reason.policy_assignment_id, reason.policy_definition_id, reason.policy_definition_reference_id)
        policy = self._policy_index.get(policy_key)
        if policy is None:
            policy = self._policy_index[policy_key] = len(self.policies)
            self.policies.append({name: value for name, value in zip(POLICY_FIELDS, policy_key, strict=True)
                                  if value is not None})
        key = (policy, reason.evaluated_resource_id)
        found = self._reason_index.get(key)
        if found is None:
            found = self._reason_index[key] = len(self.reasons)
            entry: dict[str, Any] = {"policy": policy}
            if reason.evaluated_resource_id is not None:
                entry["evaluatedResourceId"] = reason.evaluated_resource_id
            self.reasons.append(entry)
        return found


class _SharedValues:
    """Values (bodies, deferred values) written once when several operations use them."""

    def __init__(self, encoded: list[bytes]):
        self._uses = Counter(encoded)
        self._index: dict[bytes, int] = {}
        self.table: list[Any] = []

    def place(self, encoded: bytes, value: Any) -> Any:
        """The value inline, or its index in :attr:`table` when it is shared."""
        if self._uses[encoded] < 2:
            return value
        found = self._index.get(encoded)
        if found is None:
            found = self._index[encoded] = len(self.table)
            self.table.append(value)
        return found


def _derived_subscription(resource_id: str) -> str | None:
    try:
        return ids.parse_resource_id(resource_id).subscription_id
    except ids.ResourceIdError:
        return None


def _operation_document(operation: Operation, table: _ReasonTable, bodies: _SharedValues,
                        deferred: _SharedValues) -> dict[str, Any]:
    document = operation.model_dump(by_alias=True, mode="json", exclude_none=True,
                                    exclude={"reasons", "reason", "cluster_id", "subscription_id"})
    if "body" in document:
        document["body"] = bodies.place(orjson.dumps(document["body"]), document["body"])
    whys = list(dict.fromkeys(reason.why for reason in operation.reasons if reason.why))
    document["reasons"] = [table.index(reason) for reason in operation.reasons]
    if whys:
        document["why"] = "; ".join(whys)
    if operation.cluster_id != ids.owning_cluster_id(operation.resource_id):
        document["clusterId"] = operation.cluster_id
    if operation.subscription_id != _derived_subscription(operation.resource_id):
        document["subscriptionId"] = operation.subscription_id
    deferred_at = {value["path"]: value for value in document.get("deferredValues", [])}
    for source in document.get("secretSources", []):
        if source.get("deferred") is not None and source["deferred"] == deferred_at.get(source["path"]):
            del source["deferred"]
        if not source.get("parameters"):
            source.pop("parameters", None)
    if "deferredValues" in document:
        document["deferredValues"] = [deferred.place(orjson.dumps(value), value)
                                      for value in document["deferredValues"]]
    for name in LISTS_LEFT_OUT_WHEN_EMPTY:
        if not document.get(name):
            document.pop(name, None)
    return document


def _json_of(model: Any) -> bytes:
    return orjson.dumps(model.model_dump(by_alias=True, mode="json", exclude_none=True))


def encode_plan(plan: Plan) -> str:
    """plan.json's text for ``plan``: valid JSON, top-level keys and list items one per line."""
    table = _ReasonTable()
    bodies = _SharedValues([orjson.dumps(operation.body) for operation in plan.operations
                            if operation.body is not None])
    deferred = _SharedValues([_json_of(value) for operation in plan.operations for value in operation.deferred_values])
    operations = [_operation_document(operation, table, bodies, deferred) for operation in plan.operations]
    conflicts = []
    for conflict in plan.conflicts:
        document = conflict.to_json()
        document["reasons"] = [table.index(reason) for reason in conflict.reasons]
        conflicts.append(document)
    header = plan.model_dump(by_alias=True, mode="json", exclude_none=True,
                             exclude={"operations", "conflicts", "waves", "pacing"})
    header["formatVersion"] = FILE_FORMAT_VERSION
    parts = [*(_line(name, value) for name, value in header.items()),
             _line("policies", table.policies), _line("reasons", table.reasons), _line("bodies", bodies.table),
             _line("deferredValues", deferred.table), _line("operations", operations),
             _line("conflicts", conflicts), _line("waves", [wave.to_json() for wave in plan.waves]),
             _line("pacing", plan.pacing)]
    return "{" + ",\n".join(parts) + "}\n"


def _line(name: str, value: Any) -> str:
    key = orjson.dumps(name).decode()
    if isinstance(value, list) and value:
        return f"{key}:[\n" + ",\n".join(orjson.dumps(item).decode() for item in value) + "]"
    return f"{key}:{orjson.dumps(value).decode()}"


# ---- reading ----------------------------------------------------------------------------------
def expand_document(document: Any, source: str) -> Any:
    """A plan document in the :class:`Plan` model's shape; InputError naming the place when a
    version-2 table or index is wrong, or the version is one this arcpolicy cannot read."""
    if not isinstance(document, dict):
        return document
    version = document.get("formatVersion", 1)
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise InputError(source, f"plan formatVersion {version!r} is not one this arcpolicy reads "
                                 f"({' or '.join(map(str, READABLE_VERSIONS))}); plan again with this version",
                         location="formatVersion", value=version)
    if version == EXPANDED_FORMAT_VERSION:
        return document
    reasons = _reason_table(document, source)
    shared = _Shared(_list(document, "bodies", source), _list(document, "deferredValues", source))
    expanded = dict(document)
    expanded["operations"] = [_expand_operation(operation, index, reasons, shared, source)
                              for index, operation in enumerate(_list(document, "operations", source))]
    expanded["conflicts"] = [_expand_reasons(conflict, f"conflicts[{index}]", reasons, source, None)
                             for index, conflict in enumerate(_list(document, "conflicts", source))]
    for name in ("policies", "reasons", "bodies", "deferredValues"):
        expanded.pop(name, None)
    expanded["formatVersion"] = EXPANDED_FORMAT_VERSION
    return expanded


def _list(document: dict[str, Any], name: str, source: str) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise InputError(source, "must be a list", location=name, value=type(value).__name__)
    return value


def _reason_table(document: dict[str, Any], source: str) -> list[dict[str, Any]]:
    policies = _list(document, "policies", source)
    table = []
    for index, entry in enumerate(_list(document, "reasons", source)):
        policy = entry.get("policy") if isinstance(entry, dict) else None
        if not _is_index(policy, policies) or not isinstance(policies[policy], dict):
            raise InputError(source, "a reason names a policy by its index in 'policies'",
                             location=f"reasons[{index}].policy", value=policy)
        resource = entry.get("evaluatedResourceId")
        table.append({**{name: policies[policy][name] for name in POLICY_FIELDS if name in policies[policy]},
                      **({"evaluatedResourceId": resource} if resource is not None else {})})
    return table


def _is_index(value: Any, table: list[Any]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(table)


def _expand_reasons(item: Any, place: str, reasons: list[dict[str, Any]], source: str, why: Any) -> Any:
    if not isinstance(item, dict):
        return item
    references = item.get("reasons", [])
    if not isinstance(references, list):
        raise InputError(source, "must be a list of indices into 'reasons'", location=f"{place}.reasons",
                         value=type(references).__name__)
    expanded = []
    for position, reference in enumerate(references):
        if not _is_index(reference, reasons):
            raise InputError(source, "not an index into 'reasons'", location=f"{place}.reasons[{position}]",
                             value=reference)
        expanded.append({**reasons[reference], "why": why} if why is not None else reasons[reference])
    return {**item, "reasons": expanded}


@dataclass(frozen=True, slots=True)
class _Shared:
    bodies: list[Any]
    deferred_values: list[Any]

    def resolve(self, value: Any, table: list[Any], place: str, source: str) -> Any:
        """A shared value named by its index (an inline one as it is)."""
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        if not _is_index(value, table):
            raise InputError(source, "not an index into the plan's shared values", location=place, value=value)
        return table[value]


def _expand_operation(operation: Any, index: int, reasons: list[dict[str, Any]], shared: _Shared,
                      source: str) -> Any:
    if not isinstance(operation, dict):
        return operation
    place = f"operations[{index}]"
    expanded = _expand_reasons({key: value for key, value in operation.items() if key != "why"}, place, reasons,
                               source, operation.get("why"))
    if "body" in expanded:
        expanded["body"] = shared.resolve(expanded["body"], shared.bodies, f"{place}.body", source)
    if isinstance(expanded.get("deferredValues"), list):
        expanded["deferredValues"] = [
            shared.resolve(value, shared.deferred_values, f"{place}.deferredValues[{position}]", source)
            for position, value in enumerate(expanded["deferredValues"])]
    resource_id = operation.get("resourceId")
    if isinstance(resource_id, str):
        if "clusterId" not in expanded:
            expanded["clusterId"] = ids.owning_cluster_id(resource_id)
        if "subscriptionId" not in expanded:
            expanded["subscriptionId"] = _derived_subscription(resource_id)
    deferred_values = expanded.get("deferredValues")
    secret_sources = expanded.get("secretSources")
    if isinstance(deferred_values, list) and isinstance(secret_sources, list):
        deferred_at = {value["path"]: value for value in deferred_values
                       if isinstance(value, dict) and isinstance(value.get("path"), str)}
        expanded["secretSources"] = [
            {**source_entry, "deferred": deferred_at[source_entry.get("path")]}
            if isinstance(source_entry, dict) and source_entry.get("kind") == "deferred"
            and "deferred" not in source_entry and isinstance(source_entry.get("path"), str)
            and source_entry["path"] in deferred_at else source_entry
            for source_entry in secret_sources]
    return expanded
