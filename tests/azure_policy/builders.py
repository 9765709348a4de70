"""Crafted ARM resources and one-rule policies for Azure Policy tests (small, hand-checkable)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.azure_policy.aliases import Alias, AliasTable, split_path
from engine.azure_policy.documents import PolicyDefinition
from engine.azure_policy.fields import DEFAULT_ALIASES
from engine.azure_policy.functions import RuleContext, registry_with_parameters
from engine.azure_policy.policy import compile_policy
from engine.expressions import compile_value
from engine.inventory import ClusterInventory

BUILTINS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-policy-builtins"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000002"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def cluster(name: str, distribution: str = "k3s", group: str = "rg-a", subscription: str = SUBSCRIPTION,
            tags: dict[str, str] | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Kubernetes/"
              f"connectedClusters/{name}",
        "name": name, "type": "Microsoft.Kubernetes/connectedClusters", "location": "westeurope",
        "tags": tags if tags is not None else {"environment": "production"},
        "properties": {"distribution": distribution, "connectivityStatus": "Connected",
                       "provisioningState": "Succeeded", "kubernetesVersion": "1.30.4", **properties},
    }


def managed_cluster(name: str, group: str = "rg-a", subscription: str = SUBSCRIPTION) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/"
              f"managedClusters/{name}",
        "name": name, "type": "Microsoft.ContainerService/managedClusters", "location": "eastus", "tags": {},
        "properties": {"provisioningState": "Succeeded", "kubernetesVersion": "1.30.5"},
    }


def extension(owner: dict[str, Any], name: str, extension_type: str, state: str = "Succeeded",
              **properties: Any) -> dict[str, Any]:
    return {
        "id": f"{owner['id']}/providers/Microsoft.KubernetesConfiguration/extensions/{name}",
        "name": name, "type": "Microsoft.KubernetesConfiguration/extensions",
        "properties": {"extensionType": extension_type, "provisioningState": state, "autoUpgradeMinorVersion": True,
                       "releaseTrain": "Stable", "version": None, "statuses": [],
                       "scope": {"cluster": {"releaseNamespace": "kube-system"}}, **properties},
    }


def flux_configuration(owner: dict[str, Any], name: str = "cluster-config", **git: Any) -> dict[str, Any]:
    return {
        "id": f"{owner['id']}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/{name}",
        "name": name, "type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
        "properties": {"scope": "cluster", "namespace": "default", "sourceKind": "GitRepository",
                       "provisioningState": "Succeeded", "complianceState": "Compliant",
                       "gitRepository": {"url": "https://github.com/contoso/config", "timeoutInSeconds": 600,
                                         "syncIntervalInSeconds": 600, "repositoryRef": {"branch": "main"}, **git}},
    }


def inventory(owner: dict[str, Any], *children: dict[str, Any]) -> ClusterInventory:
    extensions = [child for child in children if child["type"].endswith("/extensions")]
    fluxes = [child for child in children if child["type"].endswith("/fluxConfigurations")]
    return ClusterInventory.model_construct(resource=owner, extensions=extensions, flux_configurations=fluxes)


def audit_rule(condition: dict[str, Any], parameters: dict[str, Any] | None = None,
               declared: dict[str, Any] | None = None, mode: str = "All", aliases: AliasTable = DEFAULT_ALIASES) -> Any:
    """A compiled Audit policy whose ``if`` is ``condition`` (its fields resolved against ``aliases``)."""
    declared = declared or {name: {"type": _type_of(value)} for name, value in (parameters or {}).items()}
    definition = PolicyDefinition.model_validate({
        "id": "/providers/Microsoft.Authorization/policyDefinitions/test", "name": "test", "mode": mode,
        "parameters": declared, "policyRule": {"if": condition, "then": {"effect": "audit"}}, "source": "test.json"})
    return compile_policy(definition, parameters or {}, {"assignmentId": "/a", "definitionId": "/d",
                                                         "setDefinitionId": "", "definitionReferenceId": ""},
                          aliases=aliases)


def _type_of(value: Any) -> str:
    return {bool: "Boolean", int: "Integer", list: "Array", dict: "Object"}.get(type(value), "String")


def matches(condition: dict[str, Any], resource: dict[str, Any], aliases: AliasTable = DEFAULT_ALIASES,
            **parameters: Any) -> bool:
    """Whether ``condition`` (a policy rule's ``if``) matches ``resource``."""
    return audit_rule(condition, parameters, aliases=aliases).condition.test(RuleContext(resource, NOW, {}, aliases=aliases))


def expression_value(expression: str, resource: dict[str, Any], aliases: AliasTable = DEFAULT_ALIASES) -> Any:
    """What a policy rule's template expression (``"[field('...')]"``) evaluates to on ``resource``."""
    return compile_value(expression, registry_with_parameters({}))(RuleContext(resource, NOW, {}, aliases=aliases))


def alias_table(resource_type: str, paths: dict[str, str]) -> AliasTable:
    """The aliases ``<resource_type>/<name>`` reading ``path`` (ARM's alias paths, as Get-AzPolicyAlias lists them)."""
    return AliasTable({f"{resource_type}/{name}".lower(): Alias(f"{resource_type}/{name}", split_path(path))
                       for name, path in paths.items()})


def assignment(name: str, definition_id: str, scope: str = "", parameters: dict[str, Any] | None = None,
               not_scopes: list[str] | None = None) -> dict[str, Any]:
    """An ARM Microsoft.Authorization/policyAssignments resource."""
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/policyAssignments",
            "properties": {"scope": scope or "/", "policyDefinitionId": definition_id,
                           "parameters": {key: {"value": value} for key, value in (parameters or {}).items()},
                           "notScopes": not_scopes or []}}


def write_json(path: Path, data: Any) -> Path:
    import json

    path.write_text(json.dumps(data))
    return path
