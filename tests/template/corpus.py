"""Microsoft's deployIfNotExists-capable built-ins, with a synthetic resource and placeholder
parameters to expand each against (shared by the corpus tests of template expansion and planning).

Placeholders, where a parameter has no ``defaultValue``: the smallest value its JSON ``schema``
accepts when it has one (a string matching its ``pattern``); a Boolean is false; a value from
``allowedValues`` when there are some; ``metadata.strongType`` ``location`` is the resource's
location, a resource-group type a group name, a resource type (or ``omsWorkspace``) an id of that
type; a String named ``...Id`` an id; otherwise ``placeholder``, ``[]``, ``{}`` or 1. The
synthetic resource is of the rule's ``if`` type, in a US Government region for the Azure
Government definitions; every scalar alias its deployment parameters read has a value (the
template parameter's type when handed to one as is, else the resource's id for ``...Id``, false for a
Boolean's name (``enable...``, ``disable...``, ``is...``, ``bypass...``), an object for ``...settings``,
else ``placeholder``), and array
aliases stay absent (a resource that has none yet).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from engine.azure_policy.fields import FieldError, compile_field

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-corpus" / "policyDefinitions"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
ASSIGNMENT_ID = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/corpus"
FIELD_CALL = re.compile(r"field\('([^']+)'\)", re.IGNORECASE)


def _effect_allows_dine(properties: dict[str, Any]) -> bool:
    effect = ((properties.get("policyRule") or {}).get("then") or {}).get("effect", "")
    if not isinstance(effect, str):
        return False
    match = re.fullmatch(r"\[parameters\('([^']+)'\)\]", effect.strip())
    if match is None:
        return effect.lower() == "deployifnotexists"
    declared = (properties.get("parameters") or {}).get(match.group(1)) or {}
    values = [*(declared.get("allowedValues") or []), declared.get("defaultValue")]
    return any(str(value).lower() == "deployifnotexists" for value in values)


@cache
def dine_definitions() -> tuple[tuple[Path, dict[str, Any]], ...]:
    """Every corpus definition whose effect is, or may be set to, deployIfNotExists."""
    found = []
    for path in sorted(CORPUS.rglob("*.json")):
        document = json.loads(path.read_text())
        if _effect_allows_dine(document.get("properties", document)):
            found.append((path, document))
    return tuple(found)


def if_type(condition: Any) -> str | None:
    """The first resource type the ``if`` names (``type`` equals / in / like)."""
    if isinstance(condition, dict):
        if str(condition.get("field", "")).lower() == "type":
            for operator in ("equals", "in", "like"):
                value = condition.get(operator)
                if isinstance(value, list) and value:
                    value = value[0]
                if isinstance(value, str) and "/" in value and "[" not in value:
                    return value.replace("*", "").rstrip("/")
        for key in ("allOf", "anyOf"):
            for child in condition.get(key) or []:
                found = if_type(child)
                if found:
                    return found
        return if_type(condition.get("not"))
    return None


def _placeholder_id(resource_type: str, name: str) -> str:
    namespace, *kinds = resource_type.split("/")
    names = "/".join(f"{kind}/{name}-{index}" for index, kind in enumerate(kinds))
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-placeholder/providers/{namespace}/{names}"


def from_schema(schema: dict[str, Any]) -> Any:
    """The smallest value a parameter's JSON ``schema`` accepts: required members only."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = str(schema.get("type", "string")).lower()
    if kind == "object":
        members = schema.get("properties") or {}
        return {name: from_schema(members.get(name) or {}) for name in schema.get("required") or []}
    if kind == "string" and isinstance(schema.get("pattern"), str):
        return _matching(schema["pattern"])
    return {"array": [], "integer": schema.get("minimum", 1), "number": schema.get("minimum", 1),
            "boolean": False}.get(kind, "placeholder")


@cache
def _matching(pattern: str) -> str:
    """The simplest text ``pattern`` matches (Hypothesis' shrunk example: ``^\\d{2}:\\d{2}$`` gives ``00:00``)."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis import strategies as st

    return find(st.from_regex(pattern), lambda _: True,
                settings=settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck)))


def placeholder(name: str, declared: dict[str, Any], location: str) -> Any:
    if "defaultValue" in declared:
        return declared["defaultValue"]
    if isinstance(declared.get("schema"), dict):
        return from_schema(declared["schema"])
    kind = str(declared.get("type", "String")).lower()
    if kind == "boolean":
        return False
    if declared.get("allowedValues"):
        return declared["allowedValues"][0]
    strong = str((declared.get("metadata") or {}).get("strongType", ""))
    if strong.lower() == "location":
        return [location] if kind == "array" else location
    if "resourcegroup" in strong.lower():
        return "rg-placeholder"
    if strong.lower() == "omsworkspace":
        strong = "Microsoft.OperationalInsights/workspaces"
    if "/" in strong and kind == "string":
        return _placeholder_id(strong, name)
    if kind == "string":
        return _placeholder_id("Microsoft.Placeholder/things", name) if name.lower().endswith("id") else "placeholder"
    return {"array": [], "object": {}, "integer": 1, "float": 1.0}.get(kind, "placeholder")


def parameters_of(properties: dict[str, Any], location: str) -> dict[str, Any]:
    return {name: placeholder(name, declared if isinstance(declared, dict) else {}, location)
            for name, declared in (properties.get("parameters") or {}).items()}


def fields_read(node: Any) -> Iterator[str]:
    """Every field a rule or deployment reads: ``"field": "..."`` conditions and ``field('...')`` calls."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.lower() == "field" and isinstance(value, str):
                yield value
            yield from fields_read(value)
    elif isinstance(node, list):
        for value in node:
            yield from fields_read(value)
    elif isinstance(node, str):
        yield from FIELD_CALL.findall(node)


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for segment in path[:-1]:
        child = target.get(segment)
        if not isinstance(child, dict):
            child = target[segment] = {}
        target = child
    target.setdefault(path[-1], value)


def _value_for(name: str, resource_id: str, declared: str | None) -> Any:
    """An alias's value: of the type of the template parameter it is handed to as is, else by its name."""
    typed = {"object": {}, "secureobject": {}, "bool": False, "int": 1}
    if declared in typed:
        return typed[declared]
    lowered = name.lower()
    if lowered.endswith("id"):
        return resource_id
    if lowered.rsplit(".", 1)[-1].rsplit("/", 1)[-1].startswith(("enable", "disable", "is", "bypass")):
        return False
    return {} if lowered.endswith("settings") else "placeholder"


def _passed_as_is(deployment_properties: dict[str, Any]) -> dict[str, str]:
    """Each alias a deployment parameter is exactly (``[field('alias')]``), with the template parameter's type."""
    template = deployment_properties.get("template") or {}
    types = {name.lower(): str(declared.get("type", "")).lower()
             for name, declared in (template.get("parameters") or {}).items() if isinstance(declared, dict)}
    passed = {}
    for name, entry in (deployment_properties.get("parameters") or {}).items():
        value = entry.get("value") if isinstance(entry, dict) else None
        found = re.fullmatch(r"\[field\('([^']+)'\)\]", value.strip(), re.IGNORECASE) if isinstance(value, str) else None
        if found and name.lower() in types:
            passed[found.group(1).lower()] = types[name.lower()]
    return passed


def synthetic_resource(path: Path, properties: dict[str, Any]) -> dict[str, Any]:
    """A resource of the ``if`` type with a value at every alias the deployment reads."""
    rule = properties.get("policyRule") or {}
    resource_type = if_type(rule.get("if")) or "Microsoft.Resources/placeholders"
    namespace, *kinds = resource_type.split("/")
    names = [f"name{index}" for index in range(len(kinds))]
    location = "usgovvirginia" if "Azure Government" in path.parts else "westeurope"
    resource: dict[str, Any] = {
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-a/providers/{namespace}/"
              + "/".join(f"{kind}/{name}" for kind, name in zip(kinds, names, strict=True)),
        "name": names[-1], "type": resource_type, "location": location, "tags": {}, "properties": {}}
    deployment = ((rule.get("then") or {}).get("details") or {}).get("deployment") or {}
    read = set(fields_read((deployment.get("properties") or {}).get("parameters")))
    passed = _passed_as_is(deployment.get("properties") or {})
    arrays = {name.split("[*]", 1)[0].lower() for name in read if "[*]" in name}
    for name in read:
        if name.split("[*]", 1)[0].lower() in arrays:
            continue  # arrays stay absent: the resource has none yet
        try:
            alias = compile_field(name).alias
        except FieldError:
            continue
        alias_path = alias.path_for(resource_type) if alias is not None else None
        if alias_path and "[*]" not in alias_path:
            _set_path(resource, alias_path, _value_for(name, resource["id"], passed.get(name.lower())))
    return resource
