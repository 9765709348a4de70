"""One operation, end to end: prepare the body, re-read, write once, poll, settle, journal.

The journal is written before the write request (``started``), when ARM accepts it
(``lro-started`` with the polling URL) and when it ends, so :meth:`OperationExecutor.run` can
pick any interrupted operation up again without writing it twice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from engine import ids
from engine.azure import AzureRequestError
from remediation.apply.arm import ArmGateway, OperationFailed, WriteFailed
from remediation.apply.compare import contains_text, get_path, provisioning_state, satisfies, set_path
from remediation.apply.deferred import LiveStateMissing, resolve_deferred
from remediation.apply.derive import KeyVaultSecrets, NotApplicable, TemplateSecrets
from remediation.apply.journal import Journal, JournalEntry
from remediation.apply.models import OperationResult, OpState
from remediation.apply.secrets import REDACTED, Secrets
from remediation.plan.models import Action, DeferredValue, Operation, OperationStatus

NAMESPACE_SCOPED_TYPES = frozenset({"microsoft.apimanagement", "microsoft.eventgrid"})
CONNECTED = "connected"
BUSY_STATES = frozenset({"creating", "updating", "deleting"})  # ARM answers a write 409 Conflict meanwhile


@dataclass(frozen=True)
class ExecuteOptions:
    wait: bool = False  # wait for extensions to reach a terminal provisioning state
    timeout: float = 1800.0  # seconds one operation may poll


def is_cluster_scoped(extension: dict[str, Any]) -> bool:
    """Whether an extension (ARM JSON) may exist once per cluster only."""
    properties = extension.get("properties") or {}
    scope = {key.lower() for key in (properties.get("scope") or {})}
    return "namespace" not in scope and str(properties.get("extensionType") or "").lower() not in NAMESPACE_SCOPED_TYPES


def _connected(cluster: dict[str, Any]) -> bool:
    if ids.normalize(cluster.get("type", "")) != ids.CONNECTED_CLUSTER_TYPE:
        return True
    return str((cluster.get("properties") or {}).get("connectivityStatus") or "").lower() == CONNECTED


class OperationExecutor:
    """Runs operations against ARM; thread-safe, one call per operation."""

    def __init__(self, gateway: ArmGateway, journal: Journal, secrets: Secrets, options: ExecuteOptions,
                 templates: TemplateSecrets | None = None):
        self._arm = gateway
        self._journal = journal
        self._secrets = secrets
        self._options = options
        self._templates = templates or TemplateSecrets(None, secrets)
        self._vaults = KeyVaultSecrets(secrets)

    def run(self, operation: Operation, previous: JournalEntry | None = None) -> OperationResult:
        writes = previous.writes if previous else 0
        try:
            state, live, writes = self._run(operation, previous, writes)
            message = self._failure_text(live) if state is OpState.FAILED else None
        except NotApplicable as outcome:
            state, message, live = outcome.state, outcome.message, None
        except WriteFailed as error:
            state, message, live, writes = OpState.FAILED, str(error), None, writes + error.sent
        except AzureRequestError as error:
            state, message, live = OpState.FAILED, str(error), None
        message = self._secrets.scrub(message) if message else None
        self._journal.record(operation.id, state, message=message, writes=writes)
        return OperationResult(id=operation.id, action=operation.action.value, resource_id=operation.resource_id,
                               state=state, writes=writes, message=message,
                               provisioning_state=provisioning_state(live))

    def _run(self, operation: Operation, previous: JournalEntry | None,
             writes: int) -> tuple[OpState, dict[str, Any] | None, int]:
        if previous is not None and previous.state is OpState.LRO_STARTED and previous.polling_url:
            return self._finish(operation, previous.polling_url, writes)
        body = self._prepared_body(operation)
        live = self._arm.read(operation.resource_id, operation.api_version)
        if self._in_effect(operation, live, body):
            resumed = previous is not None and previous.state is OpState.STARTED
            return (*self._settle(operation, live, OpState.SUCCEEDED if resumed else OpState.SATISFIED), writes)
        self._check_not_stale(operation, live)
        if (provisioning_state(live) or "").lower() in BUSY_STATES:
            raise NotApplicable(OpState.FAILED, f"the target has an operation in progress "
                                                f"({provisioning_state(live)}); apply again once it completes")
        self._journal.record(operation.id, OpState.STARTED, writes=writes)
        receipt = self._arm.write(operation.action, operation.resource_id, operation.resource_type,
                                  operation.api_version, body,
                                  landed=lambda: self._in_effect(operation, self._read(operation), body))
        writes += receipt.sent
        if receipt.polling_url is None:
            return self._settled_after_write(operation, writes)
        self._journal.record(operation.id, OpState.LRO_STARTED, polling_url=receipt.polling_url, writes=writes)
        return self._finish(operation, receipt.polling_url, writes)

    def _read(self, operation: Operation) -> dict[str, Any] | None:
        return self._arm.read(operation.resource_id, operation.api_version)

    def _in_effect(self, operation: Operation, live: dict[str, Any] | None, body: dict[str, Any] | None) -> bool:
        if operation.action is Action.DELETE:
            return live is None
        return satisfies(live, body or {})

    def _finish(self, operation: Operation, url: str, writes: int) -> tuple[OpState, dict[str, Any] | None, int]:
        """Poll an accepted write to its end (unless its cluster is offline: it would wait days)."""
        if operation.status is OperationStatus.WAITING:
            return OpState.WAITING, None, writes
        try:
            self._arm.poll(url, operation.resource_id, self._options.timeout)
        except OperationFailed as error:
            raise NotApplicable(OpState.FAILED, str(error)) from None
        return self._settled_after_write(operation, writes)

    def _settled_after_write(self, operation: Operation,
                             writes: int) -> tuple[OpState, dict[str, Any] | None, int]:
        """The write's operation succeeded; with ``--wait`` also follow the extension it made."""
        if operation.action is Action.DELETE or not self._options.wait:
            return OpState.SUCCEEDED, None, writes
        return (*self._settle(operation, self._read(operation), OpState.SUCCEEDED), writes)

    def _settle(self, operation: Operation, live: dict[str, Any] | None,
                done: OpState) -> tuple[OpState, dict[str, Any] | None]:
        """With ``--wait``, follow an extension until it is Succeeded, Failed or Pending."""
        if self._options.wait and live is not None and ids.same(operation.resource_type, ids.EXTENSION_TYPE):
            live = self._arm.wait_provisioned(operation.resource_id, operation.api_version, self._options.timeout)
        state = (provisioning_state(live) or "").lower()
        if state in ("failed", "canceled"):
            return OpState.FAILED, live
        if state == "pending" or operation.status is OperationStatus.WAITING:
            return OpState.WAITING, live
        return done, live

    @staticmethod
    def _failure_text(live: dict[str, Any] | None) -> str:
        error = (live or {}).get("properties", {}).get("errorInfo") or {}
        detail = f"{error.get('code', '')}: {error.get('message', '')}" if error else "provisioning failed"
        return f"provisioningState {provisioning_state(live)}: {detail}"

    # ---- before writing ---------------------------------------------------------------------
    def _check_not_stale(self, operation: Operation, live: dict[str, Any] | None) -> None:
        """The plan assumed its cluster as it was; if that no longer holds, do not write."""
        if operation.action is Action.CREATE and live is not None \
                and (provisioning_state(live) or "").lower() not in ("failed", "canceled"):
            raise NotApplicable(OpState.STALE, "the target was created with other properties since the plan")
        if operation.cluster_id is None or operation.action is Action.DELETE:
            return
        cluster = self._arm.read_cluster(operation.cluster_id)
        if cluster is None:
            raise NotApplicable(OpState.STALE, "the cluster no longer exists")
        if operation.status is OperationStatus.PLANNED and not _connected(cluster):
            raise NotApplicable(OpState.STALE, "the cluster disconnected since the plan")
        if operation.action is Action.CREATE and ids.same(operation.resource_type, ids.EXTENSION_TYPE):
            wanted = operation.body or {}
            if not is_cluster_scoped(wanted):
                return
            kind = str(get_path(wanted, "properties.extensionType") or "").lower()
            for extension in self._arm.list_children(operation.cluster_id):
                if is_cluster_scoped(extension) and not ids.same(extension.get("id"), operation.resource_id) \
                        and str(get_path(extension, "properties.extensionType") or "").lower() == kind:
                    raise NotApplicable(OpState.STALE, f"the cluster gained an instance of {kind} since the plan: "
                                                       f"{extension.get('name')}")

    def _prepared_body(self, operation: Operation) -> dict[str, Any] | None:
        """The plan body with deferred values resolved and secrets re-derived (memory only)."""
        if operation.body is None:
            return None
        body = copy.deepcopy(operation.body)
        secret_paths = {source.path.lower() for source in operation.secret_sources}
        for deferred in operation.deferred_values:
            if deferred.path.lower() not in secret_paths:
                set_path(body, deferred.path, self._resolve(deferred))
        template_values: dict[str, Any] | None = None
        for source in operation.secret_sources:
            if source.kind == "parameter" and source.parameter:
                secret = self._secrets.value(source.policy_assignment_id, source.parameter)
                if secret is None:
                    raise NotApplicable(OpState.FAILED, f"assignment parameter {source.parameter!r} for "
                                                        f"{source.path} is not in --secrets")
            elif source.kind == "deferred" and source.deferred is not None:
                secret = self._secrets.remember(self._resolve(source.deferred))
            elif source.kind == "keyVault":
                secret = self._vaults.value(source, self._arm)
            elif source.kind == "template":
                if template_values is None:
                    template_values = self._templates.values(operation, self._arm)
                if source.path.lower() not in template_values:
                    raise NotApplicable(OpState.FAILED, f"cannot re-derive {source.path}: the re-expanded "
                                                        "template no longer writes a secret there")
                secret = self._secrets.remember(template_values[source.path.lower()])
            else:
                raise NotApplicable(OpState.FAILED, f"cannot re-derive {source.path}: the plan does not say "
                                                    f"where its {source.kind} secret comes from")
            set_path(body, source.path, secret.reveal())
        if contains_text(body, REDACTED):
            raise NotApplicable(OpState.FAILED, "the body still holds a redacted value no secret source fills")
        return body

    def _resolve(self, deferred: DeferredValue) -> Any:
        """A deferred value from its resources' live state (see :mod:`remediation.apply.deferred`)."""
        try:
            return resolve_deferred(deferred, self._arm)
        except LiveStateMissing as error:
            raise NotApplicable(OpState.FAILED, str(error)) from None
