"""ARM resource ids and types, parsed and compared case-insensitively as ARM does.

Resource Graph returns lower-case types while ARM GET returns the canonical casing, so every
comparison goes through :func:`normalize` and :class:`ResourceId` instead of ``==`` on strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

EXTENSION_TYPE = "microsoft.kubernetesconfiguration/extensions"
FLUX_CONFIGURATION_TYPE = "microsoft.kubernetesconfiguration/fluxconfigurations"
CONNECTED_CLUSTER_TYPE = "microsoft.kubernetes/connectedclusters"
MANAGED_CLUSTER_TYPE = "microsoft.containerservice/managedclusters"
CLUSTER_TYPES = frozenset({CONNECTED_CLUSTER_TYPE, MANAGED_CLUSTER_TYPE})
SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"
RESOURCE_GROUP_TYPE = "microsoft.resources/subscriptions/resourcegroups"  # as Resource Graph and Azure Policy name it
# Resource containers (Resource Graph's ``resourcecontainers`` table): Azure Policy evaluates them too.
CONTAINER_TYPES = frozenset({SUBSCRIPTION_TYPE, RESOURCE_GROUP_TYPE, "microsoft.resources/resourcegroups"})


def normalize(value: str) -> str:
    """The comparison key of an id or type: lower case, no trailing slash."""
    return value.rstrip("/").lower()


def location_name(location: str) -> str:
    """A location as ARM stores and returns it: its programmatic name ("East US 2" -> "eastus2").

    ARM accepts a location's display name in a request and answers with its name (the ``name`` and
    ``displayName`` pairs of ``GET /subscriptions/{id}/locations``), so a resource read back always carries the
    name; examples such as the 2024-01-01 GetCluster one ("East US") show the display form. Templates map the
    name (the Defender DINE built-in's ``locationLongNameToShortMap`` has ``eastus``, not ``East US``).
    """
    return "".join(location.split()).lower()


def same(left: str | None, right: str | None) -> bool:
    """Whether two ids or types name the same thing, ARM-style (case-insensitive)."""
    if left is None or right is None:
        return left is right
    return normalize(left) == normalize(right)


@dataclass(frozen=True, slots=True)
class ResourceId:
    """A parsed ARM resource id.

    ``segments`` are the (type, name) pairs after the last provider namespace; an extension
    resource such as ``{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/x`` has
    ``parent`` set to the cluster's id.
    """

    raw: str
    subscription_id: str | None
    resource_group: str | None
    namespace: str | None
    segments: tuple[tuple[str, str], ...]
    parent: ResourceId | None = None

    @property
    def type(self) -> str:
        """The full resource type, e.g. ``Microsoft.KubernetesConfiguration/extensions``."""
        if self.namespace is None:
            if self.resource_group is not None:
                return "Microsoft.Resources/resourceGroups"
            if self.subscription_id is not None:
                return "Microsoft.Resources/subscriptions"
            return ""
        return "/".join([self.namespace, *(kind for kind, _ in self.segments)])

    @property
    def name(self) -> str:
        if self.segments:
            return self.segments[-1][1]
        if self.resource_group is not None:
            return self.resource_group
        return self.subscription_id or ""

    @property
    def key(self) -> str:
        """Case-insensitive identity of the resource."""
        return normalize(self.raw)

    def is_under(self, scope: str) -> bool:
        """Whether this resource lies at or below ``scope`` (a subscription, group or resource id)."""
        scope_key = normalize(scope)
        return self.key == scope_key or self.key.startswith(scope_key + "/")

    def __str__(self) -> str:
        return self.raw


class ResourceIdError(ValueError):
    """An id that is not a well-formed ARM resource id."""


@lru_cache(maxsize=8192)  # ids come back close together (a resource's checks, a cluster's records)
def parse_resource_id(resource_id: str) -> ResourceId:
    """Parse an ARM resource id (subscription, group, resource or extension resource)."""
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        raise ResourceIdError(f"not an ARM resource id: {resource_id!r}")
    text = resource_id.strip("/")
    parts = text.split("/")
    lowered = text.lower().split("/")
    subscription_id = resource_group = None
    index = 0
    if len(parts) >= 2 and lowered[0] == "subscriptions":
        subscription_id = parts[1]
        index = 2
        if len(parts) >= 4 and lowered[2] == "resourcegroups":
            resource_group = parts[3]
            index = 4
    # Find the last provider: everything before it is the parent of an extension resource.
    last = len(parts) - 1 - lowered[::-1].index("providers") if "providers" in lowered else -1
    if last < index:
        if index != len(parts):
            raise ResourceIdError(f"not an ARM resource id: {resource_id!r}")
        return ResourceId(resource_id, subscription_id, resource_group, None, ())
    parent = None
    if last > index:
        parent = parse_resource_id("/" + "/".join(parts[:last]))
    tail = parts[last + 1 :]
    if not tail:
        raise ResourceIdError(f"provider namespace missing in {resource_id!r}")
    namespace, rest = tail[0], tail[1:]
    if len(rest) % 2:
        # A type without a name is a collection URL, not a resource id.
        raise ResourceIdError(f"resource type without a name in {resource_id!r}")
    segments = tuple(zip(rest[0::2], rest[1::2], strict=True))
    return ResourceId(resource_id, subscription_id, resource_group, namespace, segments, parent)


def owning_cluster_id(resource_id: str) -> str | None:
    """The cluster id an extension or flux configuration hangs off, or None for other resources."""
    try:
        parsed = parse_resource_id(resource_id)
    except ResourceIdError:
        return None
    if parsed.parent is None:
        return None
    return parsed.parent.raw if _is_cluster(parsed.parent.raw) else None


@lru_cache(maxsize=8192)  # a cluster's children ask about it in a row
def _is_cluster(resource_id: str) -> bool:
    return normalize(parse_resource_id(resource_id).type) in CLUSTER_TYPES


def resource_group_id(resource_id: str) -> str | None:
    parsed = parse_resource_id(resource_id)
    if parsed.subscription_id is None or parsed.resource_group is None:
        return None
    return f"/subscriptions/{parsed.subscription_id}/resourceGroups/{parsed.resource_group}"
