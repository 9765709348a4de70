"""The registry of resource types: :class:`ResourceType` units and their lookup by type."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine import ids
from engine.sandbox.swagger import Schema, SpecOperation, find_operation, spec_file

if TYPE_CHECKING:
    from engine.sandbox.core import Sandbox
    from engine.sandbox.http import Request, Response

API_VERSION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}(-[A-Za-z][A-Za-z0-9]*)?$")
COMMON_TYPES = spec_file("common-types", "resource-management", "v2", "types.json")
OPAQUE: dict[str, Any] = {"type": "object", "additionalProperties": {}}  # any members, kept as sent
# What ARM itself reads of any resource body: the envelope of common-types' Resource. A type with no kept
# swagger keeps its ``properties`` as sent (its provider's schema is not here to check them).
ENVELOPE: dict[str, Any] = {
    "allOf": [{"$ref": "#/definitions/Resource"}],
    "properties": {"location": {"type": "string", "x-ms-mutability": ["read", "create"]},
                   "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                   "properties": OPAQUE, "identity": OPAQUE, "sku": OPAQUE, "plan": OPAQUE,
                   "extendedLocation": OPAQUE, "kind": {"type": "string"}, "managedBy": {"type": "string"},
                   "zones": {"type": "array", "items": {"type": "string"}},
                   "etag": {"type": "string", "readOnly": True},
                   "systemData": {"$ref": "#/definitions/systemData"}}}
ENVELOPE_SCHEMA = Schema(ENVELOPE, COMMON_TYPES)


class Parent(StrEnum):
    """What must exist before a resource of the type can be created or listed."""

    TENANT = "tenant"  # subscriptions
    SUBSCRIPTION = "subscription"  # resource groups
    RESOURCE_GROUP = "resourceGroup"  # top-level resources
    CLUSTER = "cluster"  # cluster extension resources (a connected or managed cluster)


# (sandbox, request, the resource about to be stored, the stored one it replaces or None) -> None; a check
# refuses by raising validation.Refused, server-set values are written into the resource.
Prepare = Callable[["Sandbox", "Request", dict[str, Any], "dict[str, Any] | None"], None]
# (sandbox, request, the resource, the request body) -> the action's answer body
Action = Callable[["Sandbox", "Request", dict[str, Any], Any], Any]
# (the resource, its new provisioning state, simulated now) -> None: what else moves with the state
Settled = Callable[[dict[str, Any], str, float], None]
# (sandbox, request, the target's id) -> the answer: a type whose PUT is not a plain store (a deployment runs)
Write = Callable[["Sandbox", "Request", ids.ResourceId], "Response"]


@dataclass(frozen=True)
class ResourceType:
    """One resource type the sandbox serves (see :mod:`engine.sandbox.resources`)."""

    type: str  # canonical spelling, as ARM returns it
    api_versions: tuple[str, ...]  # the api-versions ARM accepts for the type
    specs: tuple[str, ...] = ()  # kept swagger files describing its operations
    parent: Parent = Parent.RESOURCE_GROUP
    tracked: bool = False  # a tracked resource: ``location`` required, fixed once created
    lifecycle: bool = False  # provisions asynchronously on the simulated clock (cluster extension resources)
    resource_manager: bool = False  # served by ARM itself: a bad api-version is InvalidApiVersionParameter
    writable: bool = True  # False: ARM serves reads only (subscriptions are created elsewhere)
    prepare: Prepare | None = None
    settled: Settled | None = None
    actions: Mapping[str, Action] = field(default_factory=dict)
    preflight_actions: frozenset[str] = frozenset()  # actions on a resource that need not exist (validate)
    write: Write | None = None  # its own PUT instead of the store's (a deployment deploys its template)
    aliases: tuple[str, ...] = ()  # other spellings of the type (Resource Graph's)

    @property
    def key(self) -> str:
        return ids.normalize(self.type)

    def operation(self, method: str, path: str) -> SpecOperation | None:
        """The kept spec's operation for ``method`` on ``path``, if a kept swagger describes it."""
        return find_operation(self.specs, method, path) if self.specs else None

    def body_schema(self, method: str, path: str) -> Schema:
        """The schema a PUT or PATCH body is checked with: the spec's, else ARM's resource envelope."""
        operation = self.operation(method, path)
        return operation.body if operation is not None and operation.body is not None else ENVELOPE_SCHEMA


REGISTRY: dict[str, ResourceType] = {}


def register(resource_type: ResourceType) -> ResourceType:
    for key in (resource_type.key, *(ids.normalize(alias) for alias in resource_type.aliases)):
        REGISTRY[key] = resource_type
    return resource_type


def lookup(type_name: str) -> ResourceType | None:
    return REGISTRY.get(ids.normalize(type_name))


def well_formed_api_version(version: str) -> bool:
    return API_VERSION_FORMAT.match(version) is not None
