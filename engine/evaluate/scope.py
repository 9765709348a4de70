"""Where an assignment applies: its scope minus its notScopes; and which exemptions are active.

Scopes are compared as normalized id prefixes. A management-group scope applies to the
subscriptions the management-group map places under that group (directly or below).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import ids
from engine.azure_policy.documents import PolicyAssignment, PolicyAttestation, PolicyExemption
from engine.azure_policy.selectors import selected
from engine.errors import InputError
from engine.jsonfiles import read_json

MANAGEMENT_GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"

# subscription id (lower-case) -> the management groups above it (lower-case names)
ManagementGroups = dict[str, frozenset[str]]


def load_management_groups(path: Path) -> ManagementGroups:
    """Read ``{"<subscriptionId>": ["mg-child", "mg-parent", ...]}`` (or one name per subscription)."""
    data = read_json(path, "management groups file")
    if not isinstance(data, dict):
        raise InputError(str(path), "expected {\"<subscriptionId>\": [\"<managementGroup>\", ...]}",
                         value=type(data).__name__)
    groups: ManagementGroups = {}
    for subscription, names in data.items():
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise InputError(str(path), "expected a management group name or a list of names",
                             location=subscription, value=names)
        groups[subscription.lower()] = frozenset(name.lower() for name in names)
    return groups


class Scope:
    """One scope id, compiled for fast checks: tenant, management group, or an ARM id prefix."""

    __slots__ = ("key", "management_group")

    def __init__(self, scope: str):
        self.key = ids.normalize(scope)
        self.management_group = (self.key[len(MANAGEMENT_GROUP_PREFIX):]
                                 if self.key.startswith(MANAGEMENT_GROUP_PREFIX) else None)

    def contains(self, resource_key: str, subscription_key: str, groups: ManagementGroups) -> bool:
        if not self.key:
            return True
        if self.management_group is not None:
            return self.management_group in groups.get(subscription_key, ())
        return resource_key == self.key or resource_key.startswith(self.key + "/")


class AssignmentScope:
    """An assignment's scope and notScopes."""

    __slots__ = ("everywhere", "excluded", "groups", "included")

    def __init__(self, assignment: PolicyAssignment, groups: ManagementGroups):
        self.included = Scope(assignment.scope)
        self.excluded = [Scope(not_scope) for not_scope in assignment.not_scopes]
        self.groups = groups
        self.everywhere = not self.included.key and not self.excluded  # tenant scope, no notScopes

    def applies(self, resource_key: str, subscription_key: str) -> bool:
        """Whether a resource (normalized id, lower-case subscription id) is in scope."""
        if self.everywhere:
            return True
        return self.included.contains(resource_key, subscription_key, self.groups) and not any(
            scope.contains(resource_key, subscription_key, self.groups) for scope in self.excluded)


class Attestations:
    """The attestations active at one moment (docs "Azure Policy attestation structure"): the state of one
    resource for a Manual policy of one assignment (and reference id inside an initiative)."""

    def __init__(self, attestations: Iterable[PolicyAttestation], at: datetime):
        self._by_key: dict[tuple[str, str, str], PolicyAttestation] = {}
        for attestation in attestations:
            if attestation.is_active(at):
                self._by_key[(ids.normalize(attestation.policy_assignment_id),
                              (attestation.policy_definition_reference_id or "").lower(),
                              ids.normalize(attestation.resource_id))] = attestation

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def find(self, assignment_id: str, reference_id: str | None, resource_key: str) -> PolicyAttestation | None:
        return self._by_key.get((ids.normalize(assignment_id), (reference_id or "").lower(), resource_key))


class Exemptions:
    """The exemptions active at one moment, by assignment."""

    def __init__(self, exemptions: Iterable[PolicyExemption], at: datetime, groups: ManagementGroups):
        self.groups = groups
        self._by_assignment: dict[str, list[tuple[Scope, PolicyExemption]]] = {}
        for exemption in exemptions:
            if exemption.is_active(at):
                self._by_assignment.setdefault(ids.normalize(exemption.policy_assignment_id), []).append(
                    (Scope(exemption.scope), exemption))

    def __bool__(self) -> bool:
        return bool(self._by_assignment)

    def find(self, assignment_id: str, reference_id: str | None, resource: dict[str, Any],
             subscription_key: str) -> PolicyExemption | None:
        """The active exemption covering this (assignment, reference, resource), if any: in its scope and
        selected by its ``resourceSelectors``."""
        resource_key = ids.normalize(resource["id"])
        for scope, exemption in self._by_assignment.get(ids.normalize(assignment_id), ()):
            references = exemption.policy_definition_reference_ids
            if references and (reference_id is None
                               or reference_id.lower() not in (item.lower() for item in references)):
                continue
            if scope.contains(resource_key, subscription_key, self.groups) and selected(
                    exemption.resource_selectors, resource):
                return exemption
        return None
