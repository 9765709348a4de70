"""Deployment scopes and the resource ids ARM builds in them.

A template deploys at a resource group or a subscription; ids of its resources, of extension
resources (``scope`` property) and the ``resourceId()`` family are all built from that scope.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

RESOURCE_GROUP_TYPE = "microsoft.resources/resourcegroups"
DEPLOYMENT_TYPE = "microsoft.resources/deployments"


@dataclass(frozen=True, slots=True)
class DeploymentScope:
    """Where a (nested) deployment deploys: a subscription, and a resource group or none."""

    subscription_id: str
    resource_group: str | None = None
    location: str | None = None  # of the deployment (subscription scope) or of its resource group
    tenant_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def subscription_scope_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    @property
    def id(self) -> str:
        if self.resource_group is None:
            return self.subscription_scope_id
        return f"{self.subscription_scope_id}/resourceGroups/{self.resource_group}"

    def nested(self, subscription_id: str | None, resource_group: str | None) -> DeploymentScope:
        """The scope of a nested deployment with optional ``subscriptionId``/``resourceGroup``.

        A nested deployment in another subscription without a resource group deploys at that
        subscription; otherwise it keeps the parent's resource group unless it names its own.
        """
        target_subscription = subscription_id or self.subscription_id
        if resource_group is not None:
            group: str | None = resource_group
        elif target_subscription.lower() != self.subscription_id.lower():
            group = None
        else:
            group = self.resource_group
        return replace(self, subscription_id=target_subscription, resource_group=group)


def typed_path(resource_type: str, names: list[str]) -> str:
    """``Microsoft.A/b/c`` with names ``[x, y]`` -> ``Microsoft.A/b/x/c/y``.

    The legacy extension form ``Microsoft.A/b/providers/c`` takes the parent's names, then the
    extension's namespace and names: ``[x, Microsoft.E, y]`` -> ``Microsoft.A/b/x/providers/Microsoft.E/c/y``
    (ARM's ``{type}/providers/{extension type}`` with ``{name}/{namespace}/{extension name}``).
    """
    namespace, *kinds = resource_type.strip("/").split("/")
    if any(kind.lower() == "providers" for kind in kinds):
        position = next(index for index, kind in enumerate(kinds) if kind.lower() == "providers")
        parent_kinds, extension_kinds = kinds[:position], kinds[position + 1:]
        parent_names, rest = names[:len(parent_kinds)], names[len(parent_kinds):]
        if not parent_kinds or not extension_kinds or len(rest) != len(extension_kinds) + 1:
            raise ValueError(f"resource type '{resource_type}' needs {len(parent_kinds)} parent name segment(s), "
                             f"the extension's namespace and {len(extension_kinds)} name segment(s), got {names}")
        parent = typed_path("/".join([namespace, *parent_kinds]), parent_names)
        return f"{parent}/providers/{typed_path('/'.join([rest[0], *extension_kinds]), rest[1:])}"
    if len(kinds) != len(names) or not kinds:
        raise ValueError(f"resource type '{resource_type}' needs {len(kinds)} name segment(s), got {names}")
    empty = [kind for kind, name in zip(kinds, names, strict=True) if not str(name).strip()]
    if empty:
        raise ValueError(f"resource type '{resource_type}': the name of '{empty[0]}' is empty")
    return "/".join([namespace, *(part for pair in zip(kinds, names, strict=True) for part in pair)])


def resource_id_at(base_id: str, resource_type: str, names: list[str]) -> str:
    """The id of a resource of ``resource_type`` under ``base_id`` (a scope or a resource id)."""
    if resource_type.strip("/").lower() == RESOURCE_GROUP_TYPE and "/resourcegroups/" not in base_id.lower():
        if len(names) != 1 or not str(names[0]).strip():
            raise ValueError(f"a resource group has one non-empty name, got {names}")
        return f"{base_id.rstrip('/')}/resourceGroups/{names[0]}"
    return f"{base_id.rstrip('/')}/providers/{typed_path(resource_type, names)}"


def split_name(name: str) -> list[str]:
    return [part for part in name.split("/") if part]


def extension_scope_id(scope_value: str, deployment: DeploymentScope) -> str:
    """The resource an extension resource's ``scope`` property names.

    A full id is taken as is; ``Namespace/type/name`` is relative to the deployment's scope.
    """
    if scope_value.startswith("/"):
        return scope_value.rstrip("/")
    namespace, *rest = split_name(scope_value)
    if len(rest) % 2:
        raise ValueError(f"scope '{scope_value}' is neither an id nor Namespace/type/name")
    kinds = rest[0::2]
    names = rest[1::2]
    return resource_id_at(deployment.id, "/".join([namespace, *kinds]), names)
