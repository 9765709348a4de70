"""The resource types the sandbox serves: a registry of small units, one module per family.

A :class:`~engine.sandbox.resources.registry.ResourceType` says which api-versions ARM accepts for
the type, which kept swagger files describe it (their schemas validate its bodies, their paging and
long-running flags shape its answers), what must exist above it, and its hooks (server-set values,
checks before a write, POST actions). A type nobody registered is kept by the generic store, validated
only as the common ``Resource`` it is. Adding a type is registering one more unit in its family module.
"""

from engine.sandbox.resources import clusters, containers, deployments, kubernetes_configuration, services
from engine.sandbox.resources.registry import REGISTRY, Parent, ResourceType, lookup

__all__ = ["REGISTRY", "Parent", "ResourceType", "clusters", "containers", "deployments", "kubernetes_configuration",
           "lookup", "services"]
