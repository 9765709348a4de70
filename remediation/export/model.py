"""What an export holds, whatever its format: the plan's writes as whole resources, grouped by wave and deployment
target, the secrets they need as named inputs, and the operations no template can carry (deletes, deferred,
skipped), listed rather than dropped.

An update in the plan is a PATCH over the live resource; a template resource is a PUT, so its body is the live
resource's writable properties with the plan's on top (the inventory the plan was made from gives them).
Waiting operations (their cluster is disconnected) are written, as apply writes them, in deployments of their own:
they stay Pending until the cluster reconnects, and the pipeline does not wait for them.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from engine import ids
from engine.errors import InputError
from remediation.apply.compare import (
    FAILED_STATES,
    get_path,
    protected_settings_expired,
    provisioning_state,
    recreation_body,
    set_path,
)
from remediation.plan.models import (
    REDACTED,
    Action,
    DeferredValue,
    Operation,
    OperationStatus,
    Plan,
    SecretSource,
)

RESOURCE_GROUP_TYPE = "microsoft.resources/resourcegroups"
PROTECTED_SETTINGS = "configurationProtectedSettings"
PROTECTED_SETTINGS_RETENTION = timedelta(hours=48)  # Azure keeps protected settings 48 hours
NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_]")


class Files(Protocol):
    """Where a format puts its files: ``files[relative path] = JSON document or text``."""

    def __setitem__(self, relative: str, content: Any) -> None: ...


@dataclass(frozen=True)
class SecretInput:
    """A protected value a template needs: read from Key Vault, computed by ARM (``listKeys()``), or supplied by
    the pipeline (an assignment's secret parameter, a value the definition's template computes)."""

    name: str  # the template parameter / Terraform variable
    kind: Literal["keyVault", "expression", "pipeline"]
    description: str
    key_vault_id: str | None = None
    secret_name: str | None = None
    deferred: DeferredValue | None = None
    is_object: bool = False


@dataclass
class Write:
    """One planned (or waiting) create or update, as a whole resource."""

    operation: Operation
    body: dict[str, Any]  # secrets left as REDACTED at the paths in ``secrets``
    secrets: dict[str, SecretInput] = field(default_factory=dict)  # body path -> input
    exists: bool = False  # an update: the target exists (Terraform imports it)

    @property
    def waiting(self) -> bool:
        return self.operation.status is OperationStatus.WAITING


@dataclass
class WaveExport:
    number: int
    name: str
    writes: list[Write]
    deletes: list[Operation]


@dataclass
class Prepared:
    plan: Plan
    fingerprint: str
    waves: list[WaveExport]
    held: list[Operation]  # deferred and skipped: in no template
    inputs: dict[str, SecretInput]


def identifier(text: str) -> str:
    """A template parameter / Terraform name: letters, digits and underscores, starting with a letter."""
    cleaned = NAME_CHARACTERS.sub("_", text).strip("_") or "x"
    return cleaned if cleaned[0].isalpha() else f"x_{cleaned}"


def short_digest(text: str) -> str:
    return hashlib.sha256(text.lower().encode()).hexdigest()[:8]


def _secret_input(operation: Operation, source: SecretSource, is_object: bool) -> SecretInput:
    leaf = source.path.rsplit(".", 1)[-1]
    if source.kind == "keyVault":
        return SecretInput(f"kv_{identifier(str(source.secret_name))}_{short_digest(str(source.key_vault_id))}",
                           "keyVault", f"Key Vault secret '{source.secret_name}' of {source.key_vault_id}",
                           key_vault_id=source.key_vault_id, secret_name=source.secret_name, is_object=is_object)
    if source.kind == "parameter":
        return SecretInput(f"{identifier(str(source.parameter))}_{short_digest(str(source.policy_assignment_id))}",
                           "pipeline", f"parameter '{source.parameter}' of assignment {source.policy_assignment_id}",
                           is_object=is_object)
    if source.kind == "deferred" and source.deferred is not None and not source.deferred.residual:
        return SecretInput(f"{identifier(operation.id)}_{identifier(leaf)}", "expression",
                           source.deferred.expression, deferred=source.deferred, is_object=is_object)
    return SecretInput(f"{identifier(operation.id)}_{identifier(leaf)}", "pipeline",
                       f"{source.path} of {operation.resource_id} (computed by the policy definition's template: "
                       f"{source.kind})", is_object=is_object)


def _kept_protected_settings(operation: Operation, live: dict[str, Any], body: dict[str, Any]) -> list[SecretSource]:
    """A PUT replaces protected settings where apply's PATCH keeps them: the live ones the plan does not set are
    inputs too (the pipeline supplies their current values), and an empty set stays written as empty."""
    settings = (live.get("properties") or {}).get(PROTECTED_SETTINGS)
    if not isinstance(settings, dict) or (provisioning_state(live) or "").lower() in FAILED_STATES:
        return []  # a failed target is written whole again by apply too, its protected settings to be set again
    names = list(settings)
    written = body.setdefault("properties", {}).setdefault(PROTECTED_SETTINGS, {})
    planned = {name.lower() for name in written}
    return [SecretSource(path=f"properties.{PROTECTED_SETTINGS}.{name}", kind="template")
            for name in names if name.lower() not in planned and not any(
                source.path.lower() == f"properties.{PROTECTED_SETTINGS}.{name}".lower()
                for source in operation.secret_sources)]


def _expired(target: dict[str, Any] | None, now: datetime) -> bool:
    """An extension whose protected settings Azure no longer keeps (its cluster stayed disconnected 48 hours after
    it was created): apply does not rewrite it while the cluster is away, so neither does the export."""
    if target is None or protected_settings_expired(target):
        return target is not None
    properties = target.get("properties") or {}
    created = str((target.get("systemData") or {}).get("createdAt") or "")
    if str(properties.get("provisioningState", "")).lower() != "pending" or not properties.get(PROTECTED_SETTINGS) \
            or not created:
        return False
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00")) + PROTECTED_SETTINGS_RETENTION <= now
    except ValueError:
        return False


def _live_resources(fleet_resources: Iterable[dict[str, Any]] | None, wanted: set[str]) -> dict[str, dict[str, Any]]:
    if fleet_resources is None:
        return {}
    return {ids.normalize(resource["id"]): resource for resource in fleet_resources
            if isinstance(resource.get("id"), str) and ids.normalize(resource["id"]) in wanted}


def prepare(plan: Plan, fingerprint: str, fleet_resources: Iterable[dict[str, Any]] | None) -> Prepared:
    """The export's content; ``fleet_resources`` (the inventory the plan was made from) gives updates' targets."""
    updates = {ids.normalize(operation.resource_id) for operation in plan.operations
               if operation.action is Action.UPDATE and operation.status in (OperationStatus.PLANNED,
                                                                            OperationStatus.WAITING)}
    live = _live_resources(fleet_resources, updates)
    missing = sorted(updates - live.keys())
    if missing:
        raise InputError("--inventory", f"the plan updates {len(missing)} resources the inventory does not hold "
                                        "(give the inventory the plan was made from: an update is written whole)",
                         value=missing[0])
    inputs: dict[str, SecretInput] = {}
    now = datetime.now(UTC)
    wave_of: dict[str, int] = {}
    for wave in plan.waves:
        for operation_id in wave.operations:
            wave_of[operation_id] = wave.number
    waves = {wave.number: WaveExport(wave.number, wave.name, [], []) for wave in plan.waves}
    held: list[Operation] = []
    for operation in plan.operations:
        target = live.get(ids.normalize(operation.resource_id))
        if operation.status not in (OperationStatus.PLANNED, OperationStatus.WAITING) or (
                operation.status is OperationStatus.WAITING and _expired(target, now)):
            held.append(operation)  # an expired extension is re-created once its cluster reconnects: planned then
            continue
        number = wave_of.get(operation.id, operation.wave if operation.wave is not None else 0)
        wave = waves.setdefault(number, WaveExport(number, f"wave-{number}", [], []))
        if operation.action is Action.DELETE:
            wave.deletes.append(operation)
            continue
        body = copy.deepcopy(operation.body or {})  # the plan stays as it was: secrets are marked on a copy
        sources = list(operation.secret_sources)
        if operation.action is Action.UPDATE and target is not None:
            body = recreation_body(target, body)
            sources += _kept_protected_settings(operation, target, body)
        write = Write(operation, body, exists=operation.action is Action.UPDATE)
        for source in sources:
            value = get_path(body, source.path)
            secret = _secret_input(operation, source, isinstance(value, dict))
            inputs.setdefault(secret.name, secret)
            write.secrets[source.path] = secret
            set_path(body, source.path, REDACTED)
        waves[number] = wave
        wave.writes.append(write)
    ordered = [waves[number] for number in sorted(waves)]
    return Prepared(plan, fingerprint, ordered, held, inputs)


def filled(write: Write, value_of: Any) -> dict[str, Any]:
    """The write's body with each secret path set to ``value_of(input)`` (a parameter reference, a variable)."""
    body = copy.deepcopy(write.body)
    for path, secret in write.secrets.items():
        set_path(body, path, value_of(secret))
    for deferred in write.operation.deferred_values:
        if deferred.path not in write.secrets:
            set_path(body, deferred.path, value_of(SecretInput(f"deferred_{identifier(deferred.path)}", "expression",
                                                               deferred.expression, deferred=deferred)))
    return body


def deferred_expression(deferred: DeferredValue) -> str:
    """The ARM expression (without brackets) that reads a deferred value when the deployment runs."""
    if deferred.residual:
        return deferred.residual.strip()[1:-1]
    version = f", '{deferred.api_version}'" if deferred.api_version else ""
    member = f".{deferred.property_path}" if deferred.property_path else ""
    return f"{deferred.function}('{deferred.resource_id}'{version}){member}"
