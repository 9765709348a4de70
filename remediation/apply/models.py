"""The apply result (result.json): every operation's final state, and the run's counts.

The states are also the journal's: an operation moves pending -> started -> lro-started ->
one of the final states, and only final states survive a ``--resume`` unchanged.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from engine.errors import EXIT_FINDINGS, EXIT_OK
from engine.models.contract import ContractModel


class OpState(StrEnum):
    PENDING = "pending"
    STARTED = "started"  # the write may have reached ARM: re-read before writing again
    LRO_STARTED = "lro-started"  # ARM accepted the write; the polling URL is journaled
    RECREATING = "recreating"  # an extension's re-creation began (delete, then create); its body is journaled
    SUCCEEDED = "succeeded"  # written (or re-read and found written) and settled
    SATISFIED = "satisfied"  # the live resource already matched the plan: nothing written
    WAITING = "waiting"  # takes effect later: its cluster reconnects, or an operation in progress settles
    FAILED = "failed"
    BLOCKED = "blocked"  # a prerequisite did not succeed: not attempted
    STALE = "stale"  # the cluster changed since the plan in a way that matters: not written
    SKIPPED = "skipped"  # the plan skips it (e.g. arm64-only cluster)
    DEFERRED = "deferred"  # the plan defers it (e.g. protected settings on a disconnected cluster)
    NOT_ATTEMPTED = "not-attempted"  # the failure threshold or an interruption stopped the run, or outside --wave
    INTERRUPTED = "interrupted"  # in flight when the apply was interrupted: its journal entry lets --resume go on

    @property
    def kept_on_resume(self) -> bool:
        """A resumed apply keeps this journaled outcome; other operations are run again."""
        return self.done_ok or self in (OpState.STALE, OpState.SKIPPED, OpState.DEFERRED)

    @property
    def done_ok(self) -> bool:
        """Dependents may start after this state."""
        return self in (OpState.SUCCEEDED, OpState.SATISFIED, OpState.WAITING)


ATTEMPTED_STATES = frozenset({OpState.SUCCEEDED, OpState.SATISFIED, OpState.WAITING, OpState.FAILED})

# States that make the exit status 1: the plan is not fully in effect.
UNFINISHED_STATES = frozenset({OpState.FAILED, OpState.BLOCKED, OpState.STALE, OpState.DEFERRED,
                               OpState.NOT_ATTEMPTED, OpState.PENDING, OpState.STARTED, OpState.LRO_STARTED,
                               OpState.RECREATING, OpState.INTERRUPTED})
# States a run leaves in the journal as they were: the operation's last journaled state is the truth.
NOT_JOURNALED_STATES = frozenset({OpState.NOT_ATTEMPTED, OpState.INTERRUPTED})



class OperationResult(ContractModel):
    id: str
    action: str
    resource_id: str
    state: OpState
    writes: int = 0  # write requests sent in this run (retries included)
    message: str | None = None  # the error, or why it was skipped / blocked / stale
    provisioning_state: str | None = None


class PolicyCompliance(ContractModel):
    policy_assignment_id: str
    policy_definition_id: str | None = None
    policy_definition_reference_id: str | None = None
    before_non_compliant: int
    after_non_compliant: int
    after_compliant: int


class Verification(ContractModel):
    """What a re-read of the touched clusters shows after the apply."""

    clusters: int
    extensions_by_state: dict[str, int] = Field(default_factory=dict)
    duplicate_instances: list[str] = Field(default_factory=list)  # clusters with two of one cluster-scoped type
    policies: list[PolicyCompliance] | None = None  # None when no assignments were given to re-evaluate
    error: str | None = None  # the re-read failed (ARM kept refusing it): the counts above are empty


class ApplyResult(ContractModel):
    plan_fingerprint: str
    started_at: datetime
    finished_at: datetime
    stopped_by_failure_threshold: bool = False
    interrupted: str | None = None  # the signal that stopped the run (SIGINT, SIGTERM)
    counts: dict[str, int]
    writes: int  # write requests sent (PUT, PATCH, DELETE, and POSTs such as listKeys: ARM meters them as writes)
    throttled: int  # 429 answers met (and retried)
    operations: list[OperationResult]
    verification: Verification | None = None

    @property
    def exit_status(self) -> int:
        """0 when every operation is in effect (or intentionally skipped), else 1."""
        unfinished = any(operation.state in UNFINISHED_STATES for operation in self.operations)
        return EXIT_FINDINGS if unfinished else EXIT_OK


def count_states(states: list[OpState]) -> dict[str, int]:
    return dict(sorted(Counter(state.value for state in states).items()))
