"""Subscriptions and resource groups: served by ARM itself (a bad api-version is
``InvalidApiVersionParameter``), and present for every loaded resource's subscription and group, as in a
real tenant: ``GET`` works, Resource Graph's ``resourcecontainers`` table holds them, resources can be
created in them.
"""

from __future__ import annotations

from typing import Any

from engine import ids
from engine.sandbox.resources.registry import Parent, ResourceType, register
from engine.sandbox.values import SANDBOX_TENANT_ID

# Microsoft.Resources api-versions of resource groups and of subscriptions (azure-rest-api-specs' resources folders).
RESOURCE_GROUP_API_VERSIONS = ("2014-04-01-preview", "2015-01-01", "2015-11-01", "2016-02-01", "2016-07-01",
                               "2016-09-01", "2017-05-10", "2018-02-01", "2018-05-01", "2019-03-01", "2019-05-01",
                               "2019-05-10", "2019-07-01", "2019-08-01", "2019-10-01", "2020-06-01", "2020-08-01",
                               "2020-10-01", "2021-01-01", "2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01",
                               "2024-07-01", "2024-11-01", "2025-01-01", "2025-03-01", "2025-04-01")
SUBSCRIPTION_API_VERSIONS = ("2014-04-01-preview", "2015-11-01", "2016-06-01", "2018-06-01", "2019-06-01",
                             "2019-11-01", "2020-01-01", "2021-01-01", "2022-01-01", "2022-12-01", "2024-08-01",
                             "2024-11-01", "2025-03-01")
DEFAULT_LOCATION = "eastus"  # a group holding only resources without a location
SUBSCRIPTION_POLICIES = {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                         "spendingLimit": "Off"}


def subscription(subscription_id: str) -> dict[str, Any]:
    """A subscription as ARM (Subscriptions_Get) and Resource Graph (``properties``) describe it."""
    name = f"sandbox-{subscription_id[:8]}"
    state = {"state": "Enabled", "subscriptionPolicies": SUBSCRIPTION_POLICIES}
    return {"id": f"/subscriptions/{subscription_id}", "name": name, "type": "Microsoft.Resources/subscriptions",
            "subscriptionId": subscription_id, "displayName": name, "tenantId": SANDBOX_TENANT_ID,
            "authorizationSource": "RoleBased", **state, "properties": state}


def resource_group(group_id: str, location: str) -> dict[str, Any]:
    parsed = ids.parse_resource_id(group_id)
    return {"id": group_id, "name": parsed.resource_group, "type": "Microsoft.Resources/resourceGroups",
            "location": location, "properties": {"provisioningState": "Succeeded"}}


class Scopes:
    """The subscriptions and resource groups a stream of resources lives in (what a fleet implies)."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, str] = {}
        self._groups: dict[str, tuple[str, str]] = {}  # key -> (id, location of the first resource having one)

    def note(self, resource: dict[str, Any]) -> None:
        try:
            parsed = ids.parse_resource_id(str(resource.get("id", "")))
        except ids.ResourceIdError:
            return
        if parsed.subscription_id:
            self._subscriptions.setdefault(parsed.subscription_id.lower(), parsed.subscription_id)
        group = ids.resource_group_id(parsed.raw)
        if group is not None:
            key, location = ids.normalize(group), ids.location_name(str(resource.get("location") or ""))
            if key not in self._groups or (location and not self._groups[key][1]):
                self._groups[key] = (group, location)

    def implied(self) -> list[dict[str, Any]]:
        return [*(subscription(name) for name in self._subscriptions.values()),
                *(resource_group(group, location or DEFAULT_LOCATION) for group, location in self._groups.values())]


SUBSCRIPTIONS = register(ResourceType("Microsoft.Resources/subscriptions", SUBSCRIPTION_API_VERSIONS,
                                      parent=Parent.TENANT, resource_manager=True, writable=False))
RESOURCE_GROUPS = register(ResourceType("Microsoft.Resources/resourceGroups", RESOURCE_GROUP_API_VERSIONS,
                                        parent=Parent.SUBSCRIPTION, tracked=True, resource_manager=True,
                                        aliases=(ids.RESOURCE_GROUP_TYPE,)))
