"""The apply pipeline: plan.json -> checked inputs -> journal -> scheduled writes -> verified result.

Everything that can be wrong with the input (the plan, the secrets file, the options) is found
before the first write, so bad input exits 2 with nothing written to ARM or to disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.azure import ArmConnection, AzureRequestError
from engine.errors import InputError
from engine.evaluate import ScanRequest
from engine.inventory import Fleet
from remediation.apply.arm import ArmGateway
from remediation.apply.derive import TemplateSecrets
from remediation.apply.execute import ExecuteOptions, OperationExecutor
from remediation.apply.interrupt import Interruption
from remediation.apply.journal import Journal, JournalEntry
from remediation.apply.models import ApplyResult, OperationResult, OpState, Verification, count_states
from remediation.apply.pacing import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    DEFAULT_READ_BURST,
    DEFAULT_READ_RATE,
    REMAINING_READS_HEADER,
    WritePacer,
)
from remediation.apply.scheduler import Schedule, Scheduler
from remediation.apply.secrets import Secrets
from remediation.apply.verify import read_fleet, touched_clusters, verify_clusters
from remediation.plan.io import check_plan, plan_fingerprint
from remediation.plan.models import Operation, OperationStatus, Plan

PLAN_STATES = {OperationStatus.SKIPPED: OpState.SKIPPED, OperationStatus.DEFERRED: OpState.DEFERRED}


@dataclass(frozen=True)
class ApplyOptions:
    parallel: int = 64
    failure_threshold: float = 0.1
    wave: int | None = None  # apply waves 0..wave only
    wait: bool = False
    resume: bool = False
    write_burst: int = DEFAULT_BURST
    write_rate: float = DEFAULT_RATE
    read_burst: int = DEFAULT_READ_BURST  # ARM's read bucket per subscription
    read_rate: float = DEFAULT_READ_RATE
    timeout: float = 1800.0
    verify: bool = True

    def validated(self) -> ApplyOptions:
        if self.parallel < 1:
            raise InputError("--parallel", "must be at least 1", value=self.parallel)
        if not 0 <= self.failure_threshold <= 1:
            raise InputError("--failure-threshold", "must be a fraction between 0 and 1", value=self.failure_threshold)
        if self.write_burst < 1 or self.write_rate <= 0:
            raise InputError("--write-limit", "burst and rate must be positive",
                             value=f"{self.write_burst}/{self.write_rate}")
        return self


def default_journal_path(plan_path: Path) -> Path:
    return plan_path.with_name(plan_path.name + ".journal.sqlite")


def _result(operation: Operation, state: OpState, message: str | None, writes: int = 0) -> OperationResult:
    return OperationResult(id=operation.id, action=operation.action.value, resource_id=operation.resource_id,
                           state=state, message=message, writes=writes)


def _check_secrets(secrets: Secrets, templates: TemplateSecrets, selected: list[Operation]) -> None:
    """Every assignment parameter a selected operation needs is in --secrets, and every definition
    whose template holds a secret is among --policy: checked before any write."""
    for operation in selected:
        for source in operation.secret_sources:
            if source.kind == "parameter" and source.parameter \
                    and secrets.value(source.policy_assignment_id, source.parameter) is None:
                raise InputError("--secrets",
                                 f"operation {operation.id} needs assignment parameter {source.parameter!r} "
                                 f"for {source.path}", value=source.policy_assignment_id)
            if source.kind == "template":
                templates.check(operation, source)


def known_results(plan: Plan, options: ApplyOptions,
                  previous: dict[str, JournalEntry]) -> dict[str, OperationResult]:
    """Operations whose outcome is settled before anything runs: by the plan, --wave or the journal."""
    known: dict[str, OperationResult] = {}
    for operation in plan.operations:
        why = "; ".join(reason.why for reason in operation.reasons if reason.why) or None
        entry = previous.get(operation.id)
        if operation.status in PLAN_STATES:
            known[operation.id] = _result(operation, PLAN_STATES[operation.status], why)
        elif entry is not None and entry.state.kept_on_resume:
            known[operation.id] = _result(operation, entry.state, entry.message, entry.writes)
        elif options.wave is not None and (operation.wave or 0) > options.wave:
            known[operation.id] = _result(operation, OpState.NOT_ATTEMPTED, f"wave {operation.wave} is after --wave "
                                                                           f"{options.wave}")
    return known


def apply_plan(plan: Plan, connection: ArmConnection, options: ApplyOptions, *, journal_path: Path,
               secrets: Secrets | None = None,
               policies: ScanRequest | None = None,
               on_result: Callable[[OperationResult], None] = lambda _: None,
               pacer: WritePacer | None = None, interruption: Interruption | None = None,
               on_start: Callable[[int], None] = lambda _: None) -> ApplyResult:
    """Apply ``plan`` against ARM; returns every operation's final state and a verification.

    With ``policies`` (a prepared scan), the touched clusters are evaluated before and after, and
    secrets written in a definition's template are re-derived from its definitions. Once
    ``interruption`` is requested (a signal), nothing more starts and the result says what was in
    flight (:mod:`remediation.apply.interrupt`); the run is then not verified. ``on_start`` hears how many
    operations were settled before any work (skipped by the plan, kept from the journal).
    """
    interruption = interruption or Interruption()
    options = options.validated()
    connection = connection.validated()
    check_plan(plan)
    secrets = secrets or Secrets()
    started_at = datetime.now(UTC)
    fingerprint = plan_fingerprint(plan)
    # every input check comes before the journal is opened: bad input leaves the disk as it was
    previous = Journal.resumable(journal_path, fingerprint) if options.resume else {}
    known = known_results(plan, options, previous)
    selected = [operation for operation in plan.operations if operation.id not in known]
    templates = TemplateSecrets(policies, secrets)
    _check_secrets(secrets, templates, selected)
    if selected:
        connection.check_token()  # a credential that yields no token: one line, before the journal or a write
    pacer = pacer or WritePacer(options.write_burst, options.write_rate, time.monotonic, interruption.sleep)
    read_pacer = WritePacer(options.read_burst, options.read_rate, pacer.clock, pacer.sleep, REMAINING_READS_HEADER)
    gateway = ArmGateway(connection, pacer, read_pacer=read_pacer, pool_size=options.parallel)
    clusters = touched_clusters(selected)
    try:
        # before any write or journal change: ARM failing here (exit 4) leaves everything as it was
        before = read_fleet(gateway, clusters) if policies is not None and options.verify else None
        journal = Journal(journal_path, fingerprint)
        try:
            if not options.resume:
                journal.reset()
            executor = OperationExecutor(gateway, journal, secrets,
                                         ExecuteOptions(options.wait, options.timeout, interruption), templates)
            scheduler = Scheduler(Schedule(plan.operations, known),
                                  lambda operation: executor.run(operation, previous.get(operation.id)),
                                  parallel=options.parallel, failure_threshold=options.failure_threshold,
                                  on_result=on_result, interruption=interruption, on_start=on_start)
            results = scheduler.run()
        finally:
            journal.close()
        verify = options.verify and not interruption.requested  # an interrupted run says where it stopped instead
        verification = _verify(gateway, clusters, before, policies, secrets) if verify else None
    finally:
        gateway.close()
    return ApplyResult(plan_fingerprint=fingerprint, started_at=started_at, finished_at=datetime.now(UTC),
                       stopped_by_failure_threshold=scheduler.stopped, interrupted=interruption.reason,
                       counts=count_states([result.state for result in results]),
                       writes=gateway.stats.writes, throttled=gateway.stats.throttled,
                       operations=results, verification=verification)


def _verify(gateway: ArmGateway, clusters: list[str], before: Fleet | None, policies: ScanRequest | None,
            secrets: Secrets) -> Verification:
    """The verification, or why it could not be made: a failed re-read never loses the apply's result."""
    try:
        return verify_clusters(gateway, clusters, before=before, request=policies)
    except AzureRequestError as error:
        return Verification(clusters=len(clusters),
                            error=secrets.scrub(f"re-reading the touched clusters failed: {error}"))
