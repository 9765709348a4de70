"""The plan file (plan.json): the contract between plan, the dry-run reports and apply.

A plan is self-contained and reviewable: every operation says what it writes, where, why, and
in which order; secrets are never in it, only where apply re-derives them from.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, computed_field

from engine.models.contract import ContractModel
from engine.models.resource import ArmModel

# The model is the expanded layout (plan.json's version 1, every reason spelled out in every operation);
# plan.json itself is written in the compact version 2 (remediation.plan.fileformat) and read back into it.
EXPANDED_FORMAT_VERSION = 1
REDACTED = "<redacted>"



class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class OperationStatus(StrEnum):
    PLANNED = "planned"
    SKIPPED = "skipped"  # will not be applied (e.g. arm64 cluster, conflict); reason says why
    DEFERRED = "deferred"  # not applied now (e.g. protected settings on a disconnected cluster)
    WAITING = "waiting"  # applied, but takes effect when the cluster reconnects


class Reason(ContractModel):
    """Why an operation exists, and for skipped/deferred ones why it is not applied now."""

    policy_assignment_id: str | None = None
    policy_definition_id: str | None = None
    policy_definition_reference_id: str | None = None
    evaluated_resource_id: str | None = None
    why: str | None = None  # for skipped / deferred / waiting operations


class DeferredValue(ContractModel):
    """A value known only at apply time: ``reference()`` or a ``list*()`` call (``listKeys`` ...) of
    another resource, or an expression computed from such calls.

    A bare call (and member path) is ``function(resource_id).property_path``. Anything computed
    from one (``concat(reference(id).customerId, '-x')``) carries ``residual``: the expression apply
    evaluates once the resources it ``reads`` are live, with every other template value already
    substituted as a literal (it holds only common functions, ``reference`` and ``list*`` calls);
    ``function``/``resource_id`` then name its first call.
    """

    path: str  # where in the body, e.g. "properties.configurationSettings.logAnalyticsWorkspaceResourceID"
    function: str = Field(pattern=r"^(reference|list[A-Za-z0-9]+)$")  # reference, listKeys, listSecrets ...
    resource_id: str
    api_version: str | None = None
    property_path: str | None = None  # e.g. "customerId" or "primarySharedKey"
    expression: str  # the template expression, shown to reviewers as is
    residual: str | None = None  # e.g. "[concat(reference('/subscriptions/...', '2015-03-20').customerId, '-x')]"
    reads: list[str] | None = None  # every resource id the residual reads (resource_id first)


class SecretSource(ContractModel):
    """Where apply re-derives a redacted secret (a protected setting) from.

    ``parameter``: an assignment parameter; ``deferred``: a reference()/listKeys() call;
    ``keyVault``: a Key Vault secret (``key_vault_id``, ``secret_name``, and the assignment
    parameters that name them in ``parameters``); ``template``: a value written in the policy
    definition's template itself (apply re-expands the template).
    """

    path: str  # e.g. "properties.configurationProtectedSettings.sshPrivateKey"
    kind: Literal["parameter", "deferred", "keyVault", "template"]
    parameter: str | None = None  # assignment parameter name, for kind == "parameter"
    policy_assignment_id: str | None = None
    deferred: DeferredValue | None = None
    key_vault_id: str | None = None
    secret_name: str | None = None
    parameters: list[str] = Field(default_factory=list)  # assignment parameters naming the vault and secret


class GeneratedValue(ContractModel):
    """A value the deployment generated when planned (``utcNow()``, ``newGuid()`` in a template
    parameter's ``defaultValue``): the plan records it, and the body holds it."""

    function: Literal["utcNow", "newGuid"]
    value: str
    deployment: str  # the (nested) deployment's name
    parameter: str | None = None  # the template parameter whose defaultValue called it


class RequestBody(ArmModel):
    """The shape of the body an operation PUTs, as ARM takes it: the envelope's members typed, the
    rest (``properties`` above all) free-form. Checked when a plan is read (:mod:`remediation.plan.io`)."""

    location: str | None = None
    tags: dict[str, str] | None = None
    kind: str | None = None
    identity: dict[str, Any] | None = None
    sku: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    zones: list[str] | None = None
    properties: dict[str, Any] | None = None


class FieldChange(ContractModel):
    """One field an update changes: its live value (None when the resource lacks it) and the value written;
    protected values show ``***``."""

    path: str
    before: Any = None
    after: Any = None


class Operation(ContractModel):
    id: str  # stable, e.g. "op-0001"
    action: Action
    resource_id: str
    resource_type: str
    api_version: str
    body: dict[str, Any] | None = None  # None for delete; secrets redacted
    depends_on: list[str] = Field(default_factory=list)  # operation ids
    status: OperationStatus = OperationStatus.PLANNED
    reasons: list[Reason] = Field(default_factory=list)  # every (assignment, resource) that wants it
    cluster_id: str | None = None
    subscription_id: str | None = None
    wave: int | None = None
    deferred_values: list[DeferredValue] = Field(default_factory=list)
    secret_sources: list[SecretSource] = Field(default_factory=list)
    generated_values: list[GeneratedValue] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)  # e.g. "node-architecture-unknown"
    changes: list[FieldChange] = Field(default_factory=list)  # an update's fields whose live value differs

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reason(self) -> Reason | None:
        """The primary reason, written to plan.json as ``reason``; ``reasons`` has every one."""
        return self.reasons[0] if self.reasons else None


class ConflictingValue(ContractModel):
    """One policy's value for a field another policy wants different (secrets only as their source)."""

    value: Any = None
    policy_assignment_id: str | None = None
    policy_definition_id: str | None = None


class FieldConflict(ContractModel):
    """A field path two policies want different values for: ``values`` holds both, with their policies."""

    path: str
    values: list[ConflictingValue]


class Conflict(ContractModel):
    """Two policies wanting different values for a field of one target (or a second cluster-scoped
    instance); ``fields`` names each clashing field with both values and both policies."""

    resource_id: str
    message: str
    operations: list[str] = Field(default_factory=list)
    reasons: list[Reason] = Field(default_factory=list)
    fields: list[FieldConflict] = Field(default_factory=list)


class CanaryKind(ContractModel):
    """One kind of write the plan makes, (assignment, action, resource type), and how much of it the canary
    holds; ``note`` says why it is not (fully) tried there."""

    policy_assignment_id: str | None = None
    policy_definition_id: str | None = None
    action: Action
    resource_type: str
    operations: int  # planned and waiting operations of this kind
    clusters: int  # the clusters they are on (0: shared resources only)
    in_canary: int
    note: str | None = None


class CanarySpread(ContractModel):
    """One value of the fleet's spread (cluster kind, distribution, region, connectivity) among the clusters
    the plan writes to, and how many of those clusters the canary holds."""

    dimension: str
    value: str
    clusters: int
    in_canary: int


class CanaryCoverage(ContractModel):
    """What the canary wave covers (:mod:`remediation.plan.canary`) and what it cannot."""

    requested_clusters: int  # --canary N, or what --canary-percent P came to
    clusters: list[str]  # chosen for coverage, in the order chosen
    prerequisite_clusters: list[str] = Field(default_factory=list)  # with a first dependant of a shared prerequisite
    shared_prerequisites: int = 0  # shared prerequisites in the canary (all of them)
    operations: int = 0
    kinds: list[CanaryKind] = Field(default_factory=list)
    spread: list[CanarySpread] = Field(default_factory=list)
    clusters_to_cover_everything: int = 0
    notes: list[str] = Field(default_factory=list)


ACTION_ORDER = {Action.DELETE: 0, Action.CREATE: 1, Action.UPDATE: 2}  # deletes first: they destroy


class KindCount(ContractModel):
    """Operations of one action on one resource type, by status."""

    action: Action
    resource_type: str
    operations: int
    by_status: dict[str, int]


class ChangeCount(FieldChange):
    """Updates of one resource type that change one field from one value to another, counted."""

    resource_type: str
    operations: int


class PlanSummary(ContractModel):
    """The counts every summary (terminal, plan.json, Markdown, HTML) shows: by status, and by action and
    resource type, deletes first."""

    operations: int
    by_status: dict[str, int]
    by_kind: list[KindCount]
    conflicts: int
    waves: int


def summarize_operations(operations: list[Operation], conflicts: int, waves: int) -> PlanSummary:
    kinds: dict[tuple[Action, str], Counter[str]] = {}
    names: dict[tuple[Action, str], str] = {}
    for operation in operations:
        key = (operation.action, operation.resource_type.lower())
        names.setdefault(key, operation.resource_type)
        kinds.setdefault(key, Counter())[operation.status.value] += 1
    by_kind = [KindCount(action=action, resource_type=names[(action, kind)], operations=sum(counts.values()),
                         by_status={status.value: counts[status.value] for status in OperationStatus
                                    if counts[status.value]})
               for (action, kind), counts in sorted(kinds.items(), key=lambda item: (ACTION_ORDER[item[0][0]],
                                                                                    item[0][1]))]
    by_status = Counter(operation.status.value for operation in operations)
    return PlanSummary(operations=len(operations), by_status={status.value: by_status[status.value]
                                                              for status in OperationStatus},
                       by_kind=by_kind, conflicts=conflicts, waves=waves)


def count_changes(operations: list[Operation]) -> list[ChangeCount]:
    """The updates' changes grouped by (resource type, field, before, after), the most frequent first (ties in
    plan order): ``properties.releaseTrain`` from "Preview" to "Stable" on 646 extensions reads as one line. The
    terminal, the Markdown and the HTML show them; plan.json has each operation's own ``changes``."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    first: dict[tuple[str, str, str, str], tuple[str, FieldChange]] = {}
    for operation in operations:
        if operation.action is not Action.UPDATE:
            continue
        for change in operation.changes:
            key = (operation.resource_type.lower(), change.path, json.dumps(change.before, sort_keys=True),
                   json.dumps(change.after, sort_keys=True))
            counts[key] += 1
            first.setdefault(key, (operation.resource_type, change))
    return [ChangeCount(resource_type=first[key][0], path=key[1], before=first[key][1].before,
                        after=first[key][1].after, operations=count) for key, count in counts.most_common()]


class Wave(ContractModel):
    number: int
    name: str  # "canary", "wave-1" ...
    operations: list[str]


class Plan(ContractModel):
    format_version: int = EXPANDED_FORMAT_VERSION
    created_at: datetime
    inventory_fingerprint: str
    inventory_source: str | None = None
    policy_fingerprint: str | None = None
    operations: list[Operation] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    waves: list[Wave] = Field(default_factory=list)
    pacing: dict[str, Any] = Field(default_factory=dict)  # per-subscription write pacing used for the rollout
    canary: CanaryCoverage | None = None  # what the canary wave covers (plans that have one)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> PlanSummary:
        """Counts by status and by (action, resource type), deletes first; written to plan.json as ``summary``."""
        return summarize_operations(self.operations, len(self.conflicts), len(self.waves))
