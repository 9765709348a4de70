"""Pydantic models: the contracts between arcpolicy's stages."""

from engine.models.kubernetes import (
    ConnectedCluster,
    ConnectedClusterProperties,
    Extension,
    ExtensionProperties,
    ExtensionScope,
    FluxConfiguration,
    FluxConfigurationProperties,
    ManagedCluster,
    ManagedClusterProperties,
    typed_view,
)
from engine.models.resource import ArmModel, Resource

__all__ = [
    "ArmModel",
    "ConnectedCluster",
    "ConnectedClusterProperties",
    "Extension",
    "ExtensionProperties",
    "ExtensionScope",
    "FluxConfiguration",
    "FluxConfigurationProperties",
    "ManagedCluster",
    "ManagedClusterProperties",
    "Resource",
    "typed_view",
]
