"""The plan as ARM deployments: per wave, one template per target resource group (a subscription-scope template
with nested deployments where the wave creates resource groups), extension resources with ``scope`` on their
cluster, ``dependsOn`` from the plan graph within a template (templates of a wave ordered by the dependencies
between them), protected values as secure parameters: a parameters file references Key Vault where the plan
knows the vault, ``listKeys()`` stays an expression ARM evaluates, the rest the pipeline supplies (listed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from engine import ids
from engine.errors import InputError
from engine.limits import MAX_TEMPLATE_RESOURCES
from remediation.export.model import (
    RESOURCE_GROUP_TYPE,
    Files,
    Prepared,
    SecretInput,
    WaveExport,
    Write,
    deferred_expression,
    filled,
    identifier,
)
from remediation.plan.models import Operation

TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
SUBSCRIPTION_TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
DEPLOYMENT_API_VERSION = "2022-09-01"
MAX_TEMPLATE_PARAMETERS = 256  # ARM's limit per template
MAX_DEPLOYMENT_NAME = 64


@dataclass
class Template:
    """One deployment: where, what it writes, and the inputs it needs."""

    key: str  # file stem
    subscription_id: str
    resource_group: str | None  # None: a subscription-scope deployment
    writes: list[Write]
    waiting: bool
    groups: dict[str, list[Write]] = field(default_factory=dict)  # subscription scope: nested deployments

    @property
    def operation_ids(self) -> set[str]:
        return {write.operation.id for write in self.writes}


def _relative(resource_id: str) -> tuple[str, str]:
    """(type, name) of a resource as a template declares it at its resource group."""
    parsed = ids.parse_resource_id(resource_id)
    types = "/".join(kind for kind, _ in parsed.segments)
    names = "/".join(name for _, name in parsed.segments)
    return f"{parsed.namespace}/{types}", names


def _scope_of(resource_id: str) -> str | None:
    """An extension resource's ``scope``: its parent, relative to the resource group (``Namespace/type/name``)."""
    parsed = ids.parse_resource_id(resource_id)
    if parsed.parent is None:
        return None
    return parsed.parent.raw.split("/providers/", 1)[1]


def parameter_reference(secret: SecretInput) -> str:
    if secret.kind == "expression" and secret.deferred is not None:
        return f"[{deferred_expression(secret.deferred)}]"
    return f"[parameters('{secret.name}')]"


def _resource(write: Write, depends_on: list[str]) -> dict[str, Any]:
    operation = write.operation
    body = filled(write, parameter_reference)
    if ids.normalize(operation.resource_type) == RESOURCE_GROUP_TYPE:
        parsed = ids.parse_resource_id(operation.resource_id)
        declared: dict[str, Any] = {"type": "Microsoft.Resources/resourceGroups", "apiVersion": operation.api_version,
                                    "name": parsed.resource_group}
    else:
        kind, name = _relative(operation.resource_id)
        declared = {"type": kind, "apiVersion": operation.api_version, "name": name}
        scope = _scope_of(operation.resource_id)
        if scope is not None:
            declared["scope"] = scope
    if depends_on:
        declared["dependsOn"] = depends_on
    declared["metadata"] = {"arcpolicyOperation": operation.id}
    return {**declared, **body}


def _dependencies(write: Write, inside: dict[str, Write]) -> list[str]:
    return [inside[dependency].operation.resource_id for dependency in write.operation.depends_on
            if dependency in inside]


def _secure_parameters(writes: list[Write]) -> dict[str, dict[str, str]]:
    declared: dict[str, dict[str, str]] = {}
    for write in writes:
        for secret in write.secrets.values():
            if secret.kind != "expression":
                declared[secret.name] = {"type": "secureObject" if secret.is_object else "securestring",
                                         "metadata": {"description": secret.description}}
    if len(declared) > MAX_TEMPLATE_PARAMETERS:
        raise InputError("plan", f"a deployment needs more than ARM's {MAX_TEMPLATE_PARAMETERS} parameters",
                         value=len(declared))
    return declared


def template_document(template: Template, fingerprint: str, wave: WaveExport) -> dict[str, Any]:
    metadata = {"arcpolicy": {"planFingerprint": fingerprint, "wave": wave.number, "waveName": wave.name,
                              "waiting": template.waiting}}
    if template.resource_group is not None:
        inside = {write.operation.id: write for write in template.writes}
        return {"$schema": TEMPLATE_SCHEMA, "contentVersion": "1.0.0.0", "metadata": metadata,
                "parameters": _secure_parameters(template.writes),
                "resources": [_resource(write, _dependencies(write, inside)) for write in template.writes]}
    groups = [write for write in template.writes if ids.normalize(write.operation.resource_type) == RESOURCE_GROUP_TYPE]
    resources = [_resource(write, []) for write in groups]
    nested_writes = [write for writes in template.groups.values() for write in writes]
    declared = _secure_parameters(nested_writes)
    nested_name = {group.lower(): identifier(f"{group}-{template.key}")[:MAX_DEPLOYMENT_NAME]
                   for group in template.groups}
    group_of = {write.operation.id: _target_group(write)[1].lower() for write in nested_writes}
    for group, writes in template.groups.items():
        inside = {write.operation.id: write for write in writes}
        created = [f"[subscriptionResourceId('Microsoft.Resources/resourceGroups', '{group}')]"
                   for write in groups if ids.same(ids.parse_resource_id(write.operation.resource_id).resource_group,
                                                   group)]
        needed = sorted({nested_name[group_of[dependency]] for write in writes
                         for dependency in write.operation.depends_on
                         if group_of.get(dependency) not in (None, group.lower())})
        nested_parameters = _secure_parameters(writes)
        resources.append({
            "type": "Microsoft.Resources/deployments", "apiVersion": DEPLOYMENT_API_VERSION,
            "name": nested_name[group.lower()], "resourceGroup": group,
            **({"dependsOn": created + needed} if created or needed else {}),
            "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
                           "parameters": {name: {"value": f"[parameters('{name}')]"} for name in nested_parameters},
                           "template": {"$schema": TEMPLATE_SCHEMA, "contentVersion": "1.0.0.0",
                                        "parameters": nested_parameters,
                                        "resources": [_resource(write, _dependencies(write, inside))
                                                      for write in writes]}}})
    return {"$schema": SUBSCRIPTION_TEMPLATE_SCHEMA, "contentVersion": "1.0.0.0", "metadata": metadata,
            "parameters": declared, "resources": resources}


def parameters_document(template: Template) -> tuple[dict[str, Any], list[SecretInput]]:
    """The parameters file (Key Vault references) and the inputs the pipeline must supply."""
    values: dict[str, Any] = {}
    pipeline: dict[str, SecretInput] = {}
    for write in template.writes:
        for secret in write.secrets.values():
            if secret.kind == "keyVault":
                values[secret.name] = {"reference": {"keyVault": {"id": secret.key_vault_id},
                                                     "secretName": secret.secret_name}}
            elif secret.kind == "pipeline":
                pipeline[secret.name] = secret
    return ({"$schema": PARAMETERS_SCHEMA, "contentVersion": "1.0.0.0", "parameters": values},
            list(pipeline.values()))


def _target_group(write: Write) -> tuple[str, str]:
    parsed = ids.parse_resource_id(write.operation.resource_id)
    return str(parsed.subscription_id), str(parsed.resource_group)


def _chunks(writes: list[Write]) -> Iterator[list[Write]]:
    """At most ARM's resources per template (dependencies between the parts order their deployments)."""
    for start in range(0, len(writes), MAX_TEMPLATE_RESOURCES):
        yield writes[start:start + MAX_TEMPLATE_RESOURCES]


def wave_templates(wave: WaveExport) -> list[Template]:
    """The wave's deployments, in an order that respects the dependencies between them; waiting ones last."""
    templates: list[Template] = []
    for waiting in (False, True):
        writes = [write for write in wave.writes if write.waiting is waiting]
        creating_groups = {str(ids.parse_resource_id(write.operation.resource_id).subscription_id).lower()
                           for write in writes if ids.normalize(write.operation.resource_type) == RESOURCE_GROUP_TYPE}
        by_target: dict[tuple[str, str | None], list[Write]] = {}
        for write in writes:
            subscription, group = _target_group(write)
            if subscription.lower() in creating_groups:
                by_target.setdefault((subscription, None), []).append(write)
            else:
                by_target.setdefault((subscription, group), []).append(write)
        suffix = "-waiting" if waiting else ""
        for (subscription, group), targeted in sorted(by_target.items(), key=lambda item: (item[0][0].lower(),
                                                                                           (item[0][1] or "").lower())):
            stem = f"{subscription[:8]}-{group or 'subscription'}{suffix}"
            if group is None:
                nested: dict[str, list[Write]] = {}
                for write in targeted:
                    if ids.normalize(write.operation.resource_type) != RESOURCE_GROUP_TYPE:
                        nested.setdefault(_target_group(write)[1], []).append(write)
                templates.append(Template(stem, subscription, None, targeted, waiting, nested))
                continue
            parts = list(_chunks(targeted))
            for index, part in enumerate(parts, start=1):
                key = stem if len(parts) == 1 else f"{stem}-part{index}"
                templates.append(Template(key, subscription, group, part, waiting))
    return _ordered(templates)


def _ordered(templates: list[Template]) -> list[Template]:
    owner = {operation_id: index for index, template in enumerate(templates) for operation_id in template.operation_ids}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(templates)))
    for index, template in enumerate(templates):
        for write in template.writes:
            for dependency in write.operation.depends_on:
                if dependency in owner and owner[dependency] != index:
                    graph.add_edge(owner[dependency], index)
    try:
        order = list(nx.lexicographical_topological_sort(graph))
    except nx.NetworkXUnfeasible:
        raise InputError("plan", "operations of two resource groups depend on each other both ways within a "
                                 "wave; ARM deployments cannot express that", value=templates[0].key) from None
    return [templates[index] for index in order]


def deployment_name(fingerprint: str, wave: WaveExport, template: Template) -> str:
    digest = fingerprint.split(":", 1)[-1][:8]
    return identifier(f"arcpolicy-{digest}-w{wave.number}-{template.key}")[:MAX_DEPLOYMENT_NAME]


def delete_step(operation: Operation, wave: WaveExport) -> dict[str, Any]:
    return {"kind": "delete", "wave": wave.number, "operation": operation.id, "resourceId": operation.resource_id,
            "apiVersion": operation.api_version, "wait": operation.status.value != "waiting"}


def write_arm(prepared: Prepared, files: Files) -> list[dict[str, Any]]:
    """Add the templates and parameters files to ``files`` (path -> document); returns the ordered steps."""
    steps: list[dict[str, Any]] = []
    for position, wave in enumerate(prepared.waves):
        folder = f"arm/{position:02d}-{identifier(wave.name)}"
        steps.extend(delete_step(operation, wave) for operation in wave.deletes)
        for template in wave_templates(wave):
            template_path, parameters_path = f"{folder}/{template.key}.json", f"{folder}/{template.key}.parameters.json"
            files[template_path] = template_document(template, prepared.fingerprint, wave)
            parameters, pipeline = parameters_document(template)
            files[parameters_path] = parameters
            location = next((write.body.get("location") for write in template.writes if write.body.get("location")),
                            None)
            steps.append({"kind": "deployment", "wave": wave.number, "name": deployment_name(prepared.fingerprint,
                                                                                              wave, template),
                          "scope": "resourceGroup" if template.resource_group else "subscription",
                          "subscriptionId": template.subscription_id, "resourceGroup": template.resource_group,
                          **({} if template.resource_group else {"location": location or "eastus"}),
                          "template": template_path, "parameters": parameters_path,
                          "pipelineParameters": [secret.name for secret in pipeline], "wait": not template.waiting,
                          "operations": sorted(template.operation_ids)})
    return steps
