"""One operation, end to end: prepare the body, re-read, write once, poll, settle, journal.

The journal is written before the write request (``started``), when ARM accepts it
(``lro-started`` with the polling URL) and when it ends, so :meth:`OperationExecutor.run` can
pick any interrupted operation up again without writing it twice.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

from engine import ids
from engine.azure import AzureRequestError
from engine.secret_values import remember
from remediation.apply.arm import ArmGateway, OperationFailed, StillRunning, WriteFailed
from remediation.apply.compare import (
           FAILED_STATES,
           TERMINAL_STATES,
           contains_text,
           get_path,
           protected_setting_names,
           protected_settings_expired,
           provisioning_state,
           recreation_body,
           satisfies,
           set_path,
)
from remediation.apply.deferred import LiveStateMissing, resolve_deferred
from remediation.apply.derive import KeyVaultSecrets, NotApplicable, TemplateSecrets
from remediation.apply.interrupt import Interrupted, Interruption
from remediation.apply.journal import Journal, JournalEntry
from remediation.apply.models import NOT_JOURNALED_STATES, OperationResult, OpState
from remediation.apply.secrets import REDACTED, Secrets
from remediation.plan.models import Action, DeferredValue, Operation, OperationStatus

log = logging.getLogger(__name__)
NAMESPACE_SCOPED_TYPES = frozenset({"microsoft.apimanagement", "microsoft.eventgrid"})
CONNECTED = "connected"
BUSY_STATES = frozenset({"creating", "updating", "deleting"})  # ARM answers a write 409 Conflict meanwhile


@dataclass(frozen=True)
class ExecuteOptions:
    wait: bool = False  # wait for extensions to reach a terminal provisioning state
    timeout: float = 1800.0  # seconds one operation may poll
    interruption: Interruption | None = None  # once requested, an operation that has not written yet does not


@dataclass
class _Attempt:
    """One run of an operation: the write requests sent for it so far (earlier runs included)."""

    writes: int
    note: str | None = None  # what the result should say about a successful run (a re-creation)
    wrote: bool = False  # a write of this operation may have reached ARM (this run or the one it resumes)
    body: dict[str, Any] | None = None  # the body written (secrets re-derived), to recognise it on the target
    recreating: dict[str, Any] | None = None  # a re-creation's journaled body (no secrets) until it is done


def is_cluster_scoped(extension: dict[str, Any]) -> bool:
    """Whether an extension (ARM JSON) may exist once per cluster only."""
    properties = extension.get("properties") or {}
    scope = {key.lower() for key in (properties.get("scope") or {})}
    return "namespace" not in scope and str(properties.get("extensionType") or "").lower() not in NAMESPACE_SCOPED_TYPES


def _connected(cluster: dict[str, Any]) -> bool:
    """Not known to be disconnected: an Arc cluster without connectivityStatus is unknown, not offline."""
    if ids.normalize(cluster.get("type", "")) != ids.CONNECTED_CLUSTER_TYPE:
        return True
    status = str((cluster.get("properties") or {}).get("connectivityStatus") or "").lower()
    return not status or status == CONNECTED


def _found_busy_text(live: dict[str, Any] | None) -> str | None:
    state = provisioning_state(live)
    if (state or "").lower() in BUSY_STATES:
        return f"found {state}: an operation this apply did not start; not waited for"
    return None


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
        """The operation's final state; any failure inside it, however unexpected, is its own only."""
        attempt = _Attempt(previous.writes if previous else 0,
                           recreating=previous.body if previous and previous.state is OpState.RECREATING else None)
        still_running: str | None = None  # the polling URL of an operation that outlasted --timeout
        try:
            state, live = self._run(operation, previous, attempt)
            message = self._failure_text(live) if state is OpState.FAILED else attempt.note or _found_busy_text(live)
        except NotApplicable as outcome:
            state, message, live = outcome.state, outcome.message, None
        except Interrupted as error:  # its journal entry (started, lro-started) says where it was
            state, message, live = OpState.INTERRUPTED, str(error), None
        except WriteFailed as error:
            attempt.writes += error.sent
            state, message, live = self._account(operation, attempt, str(error))
        except StillRunning as error:
            state, message, live, still_running = OpState.FAILED, str(error), None, error.url
        except AzureRequestError as error:
            state, message, live = self._account(operation, attempt, str(error))
        except Exception as error:  # an arcpolicy bug: this operation fails, the run goes on
            state, live = OpState.FAILED, None
            message = f"internal error ({type(error).__name__}): {error}"
            log.error("operation %s: %s", operation.id, self._secrets.scrub(message))
        message = self._secrets.scrub(message) if message else None
        writes = attempt.writes
        if attempt.recreating is not None and state not in (OpState.SUCCEEDED, OpState.SATISFIED):
            # an unfinished re-creation stays one, with its body: --resume re-reads the target and completes it
            # (a delete still running is waited for or left waiting, a target gone is created)
            self._journal.record(operation.id, OpState.RECREATING, message=message, writes=writes,
                                 body=attempt.recreating)
        elif still_running is not None:  # journaled as accepted, so --resume polls it again
            self._journal.record(operation.id, OpState.LRO_STARTED, polling_url=still_running, message=message,
                                 writes=writes)
        elif state not in NOT_JOURNALED_STATES:
            self._journal.record(operation.id, state, message=message, writes=writes)
        return OperationResult(id=operation.id, action=operation.action.value, resource_id=operation.resource_id,
                               state=state, writes=writes, message=message,
                               provisioning_state=provisioning_state(live))

    def _run(self, operation: Operation, previous: JournalEntry | None,
             attempt: _Attempt) -> tuple[OpState, dict[str, Any] | None]:
        if previous is not None and previous.state is OpState.LRO_STARTED and previous.polling_url:
            attempt.wrote = True
            return self._finish(operation, previous.polling_url)
        # secrets are derived only once a write is due: a listKeys() is a POST ARM meters as a write
        body = self._resolved_body(operation)
        live = self._arm.read(operation.resource_id, operation.api_version)
        resumed = previous is not None and previous.state in (OpState.STARTED, OpState.RECREATING)
        if self._in_effect(operation, live, body):
            return self._already(operation, live, resumed)
        if (provisioning_state(live) or "").lower() in BUSY_STATES:
            live = self._after_foreign_operation(operation, live)
            if self._in_effect(operation, live, body):
                return self._found_in_effect(operation, live)
        self._not_interrupted()  # before a write's first request (a listKeys() too)
        body = self._with_secrets(operation, body)
        if operation.secret_sources and self._in_effect(operation, live, body):
            return self._already(operation, live, resumed)  # a secret outside the protected settings, there already
        attempt.body = body
        if operation.action is not Action.DELETE and (protected_settings_expired(live) or (
                live is None and attempt.recreating is not None)):  # deleted, not yet created again when interrupted
            return self._recreate(operation, live, body, attempt)
        self._check_not_stale(operation, live)
        action, body = self._write_of(operation, live, body, attempt)
        self._journal.record(operation.id, OpState.STARTED, writes=attempt.writes)
        attempt.wrote = True
        receipt = self._arm.write(action, operation.resource_id, operation.resource_type,
                                  operation.api_version, body,
                                  landed=lambda: self._in_effect(operation, self._read(operation), body))
        attempt.writes += receipt.sent
        if receipt.polling_url is None:
            return self._settled_after_write(operation)
        self._journal.record(operation.id, OpState.LRO_STARTED, polling_url=receipt.polling_url,
                             writes=attempt.writes)
        return self._finish(operation, receipt.polling_url)

    def _write_of(self, operation: Operation, live: dict[str, Any] | None, body: dict[str, Any] | None,
                  attempt: _Attempt) -> tuple[Action, dict[str, Any] | None]:
        """The write that brings the target where the plan wants it. An update is a PATCH, unless the target
        failed provisioning: a PATCH that changes nothing is a no-op (200, the target stays Failed, per the
        published specs), so the target is written whole again (a PUT of its writable state, the plan's fields
        on top), which runs its provisioning again."""
        if operation.action is not Action.UPDATE or live is None \
                or (provisioning_state(live) or "").lower() not in FAILED_STATES:
            return operation.action, body
        rewritten = recreation_body(live, body or {})
        lost = sorted(set(protected_setting_names(live)) - set(protected_setting_names(rewritten)))
        attempt.note = f"written whole again (PUT): it had failed provisioning ({provisioning_state(live)})" + (
            f"; {', '.join(lost)} (not in the plan) must be set again" if lost else "")
        attempt.body = rewritten
        return Action.CREATE, rewritten

    def _not_interrupted(self) -> None:
        """Before an operation's first write: once the apply is asked to stop, it starts no more writes."""
        interruption = self._options.interruption
        if interruption is not None and interruption.requested:
            raise NotApplicable(OpState.NOT_ATTEMPTED, f"not started: apply was interrupted ({interruption.reason})")

    def _account(self, operation: Operation, attempt: _Attempt,
                 failure: str) -> tuple[OpState, str | None, dict[str, Any] | None]:
        """The last retry failed. If a write of this operation may have reached ARM (its answer, or the
        polling of its outcome, was what kept failing), the target is read once more and the result says
        what is true: a write that took effect is not reported ``failed``."""
        if not attempt.wrote:
            return OpState.FAILED, failure, None
        try:
            live = self._read(operation)
            if not self._in_effect(operation, live, attempt.body if attempt.body is not None else operation.body):
                return OpState.FAILED, failure, live
            state, live = self._settle(operation, live, OpState.SUCCEEDED)
        except Interrupted as error:
            return OpState.INTERRUPTED, str(error), None
        except (AzureRequestError, StillRunning) as error:
            return OpState.FAILED, f"{failure}; re-reading the target after the last retry failed too: {error}", None
        if state is OpState.FAILED:
            return state, self._failure_text(live), live
        return state, f"the write took effect (the target, re-read after the last retry, is as planned); the " \
                      f"last retry had failed: {failure}", live

    def _already(self, operation: Operation, live: dict[str, Any] | None,
                 resumed: bool) -> tuple[OpState, dict[str, Any] | None]:
        if resumed:  # this apply wrote it before it was interrupted: follow it like its own write
            return self._settle(operation, live, OpState.SUCCEEDED)
        return self._found_in_effect(operation, live)

    def _found_in_effect(self, operation: Operation, live: dict[str, Any] | None) -> tuple[OpState, dict[str, Any] | None]:
        """A target already as the plan wants it, not written by this apply: reported as its live
        state says, never waited for (an operation someone else started is not this apply's to follow)."""
        state = (provisioning_state(live) or "").lower()
        if state in BUSY_STATES or state == "pending":
            return OpState.WAITING, live
        return OpState.SATISFIED, live

    def _after_foreign_operation(self, operation: Operation, live: dict[str, Any] | None) -> dict[str, Any] | None:
        """The target is mid-operation (ARM would answer a write 409). With ``--wait`` that operation
        is followed to its end and the target re-read; without it the operation is left ``waiting``."""
        state = provisioning_state(live)
        if not self._options.wait:
            raise NotApplicable(OpState.WAITING, f"not written: the target is {state} (an operation this apply "
                                                 "did not start); apply again once it completes")
        settled = self._arm.wait_provisioned(operation.resource_id, operation.api_version, self._options.timeout)
        if (provisioning_state(settled) or "").lower() in BUSY_STATES:
            raise NotApplicable(OpState.WAITING, f"not written: the target is still {provisioning_state(settled)} "
                                                 f"after {self._options.timeout:g}s (an operation this apply did "
                                                 "not start); apply again once it completes")
        return settled

    def _recreate(self, operation: Operation, live: dict[str, Any] | None, body: dict[str, Any] | None,
                  attempt: _Attempt) -> tuple[OpState, dict[str, Any] | None]:
        """An extension whose protected settings expired while its cluster was offline is re-created
        (deleted, then created with the settings again) once the cluster is connected; while it is
        not, writing would only fail the same way, so nothing is written and it stays ``waiting``.

        The body to create, without its secrets, is journaled (``recreating``) before the delete: an
        apply interrupted after the delete finds the target gone and ``--resume`` creates it from
        that journaled body and the plan's (its secrets derived again), instead of updating nothing."""
        cluster = self._arm.read_cluster(operation.cluster_id) if operation.cluster_id else None
        if cluster is None or not _connected(cluster):
            raise NotApplicable(OpState.WAITING, "not written: the extension failed because its protected "
                                                 "settings expired while the cluster was disconnected; apply "
                                                 "re-creates it once the cluster is connected again")
        recreated = recreation_body(live if live is not None else attempt.recreating or {}, body or {})
        lost = sorted(set(protected_setting_names(live)) - set(protected_setting_names(recreated)))
        attempt.note = "re-created (deleted, then created): its protected settings had expired while the " \
                       "cluster was disconnected" + (f"; {', '.join(lost)} (not in the plan) must be set again"
                                                     if lost else "")
        attempt.recreating = recreation_body(recreated, {})  # recreation_body leaves protected settings out
        self._not_interrupted()
        self._journal.record(operation.id, OpState.RECREATING, writes=attempt.writes, body=attempt.recreating)
        attempt.wrote, attempt.body = True, recreated
        steps = ((Action.DELETE, None),) if live is not None else ()
        for action, written in (*steps, (Action.CREATE, recreated)):
            receipt = self._arm.write(action, operation.resource_id, operation.resource_type, operation.api_version,
                                      written, landed=lambda action=action: self._landed(operation, action, recreated))
            attempt.writes += receipt.sent
            if receipt.polling_url is not None:
                try:
                    self._arm.poll(receipt.polling_url, operation.resource_id, self._options.timeout)
                except OperationFailed as error:
                    raise NotApplicable(OpState.FAILED, f"re-creating the extension: {error}") from None
        return self._settled_after_write(operation)

    def _landed(self, operation: Operation, action: Action, body: dict[str, Any]) -> bool:
        live = self._read(operation)
        return live is None if action is Action.DELETE else satisfies(live, body)

    def _read(self, operation: Operation) -> dict[str, Any] | None:
        return self._arm.read(operation.resource_id, operation.api_version)

    def _in_effect(self, operation: Operation, live: dict[str, Any] | None, body: dict[str, Any] | None) -> bool:
        if operation.action is Action.DELETE:
            return live is None
        return satisfies(live, body or {})

    def _finish(self, operation: Operation, url: str) -> tuple[OpState, dict[str, Any] | None]:
        """Poll an accepted write to its end (unless its cluster is offline: it would wait days)."""
        if operation.status is OperationStatus.WAITING:
            return OpState.WAITING, None
        try:
            self._arm.poll(url, operation.resource_id, self._options.timeout)
        except StillRunning:
            raise
        except OperationFailed as error:
            raise NotApplicable(OpState.FAILED, str(error)) from None
        return self._settled_after_write(operation)

    def _settled_after_write(self, operation: Operation) -> tuple[OpState, dict[str, Any] | None]:
        """The write's operation succeeded; with ``--wait`` also follow the extension it made."""
        if operation.action is Action.DELETE or not self._options.wait:
            return OpState.SUCCEEDED, None
        return self._settle(operation, self._read(operation), OpState.SUCCEEDED)

    def _settle(self, operation: Operation, live: dict[str, Any] | None,
                done: OpState) -> tuple[OpState, dict[str, Any] | None]:
        """With ``--wait``, follow an extension until it is Succeeded, Failed or Pending; one still
        Creating (or Updating ...) when ``--timeout`` ends has failed to settle."""
        waited = self._options.wait and live is not None and ids.same(operation.resource_type, ids.EXTENSION_TYPE)
        if waited:
            live = self._arm.wait_provisioned(operation.resource_id, operation.api_version, self._options.timeout)
        state = (provisioning_state(live) or "").lower()
        if state in FAILED_STATES:
            return OpState.FAILED, live
        if state == "pending" or (operation.status is OperationStatus.WAITING and state != "succeeded"):
            return OpState.WAITING, live  # a cluster back since the plan says so itself: Succeeded
        if waited and state and state not in TERMINAL_STATES:
            return OpState.FAILED, live
        return done, live

    def _failure_text(self, live: dict[str, Any] | None) -> str:
        state = provisioning_state(live)
        if (state or "").lower() not in FAILED_STATES:
            return (f"provisioningState still {state} after {self._options.timeout:g}s of --wait; apply again to "
                    "keep waiting")
        error = (live or {}).get("properties", {}).get("errorInfo") or {}
        detail = f"{error.get('code', '')}: {error.get('message', '')}" if error else "provisioning failed"
        return f"provisioningState {state}: {detail}"

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

    def _resolved_body(self, operation: Operation) -> dict[str, Any] | None:
        """The plan body with its deferred values resolved, its secrets still redacted."""
        if operation.body is None:
            return None
        body = copy.deepcopy(operation.body)
        secret_paths = {source.path.lower() for source in operation.secret_sources}
        for deferred in operation.deferred_values:
            if deferred.path.lower() not in secret_paths:
                set_path(body, deferred.path, self._resolve(deferred))
        return body

    def _with_secrets(self, operation: Operation, body: dict[str, Any] | None) -> dict[str, Any] | None:
        """``body`` with the secrets re-derived where the plan's secret sources say (memory only)."""
        if body is None:
            return None
        body = copy.deepcopy(body)
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
            remember(secret.reveal())  # secret by where it goes: logs, errors and results mask it from now on
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
