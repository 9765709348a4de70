"""Dependency-aware, wave-ordered, failure-bounded scheduling of operations on a thread pool.

An operation starts once everything it depends on is in effect and every earlier wave has
finished; when one ends without effect its dependents are blocked, not attempted. Once the
canary wave is done, a failed fraction above the threshold stops new starts (like an Azure
remediation task), and so does a request to stop (:mod:`remediation.apply.interrupt`); what was
never started is reported as not attempted.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from remediation.apply.interrupt import ABANDON_AFTER_GRACE_SECONDS, SLICE_SECONDS, Interruption
from remediation.apply.models import ATTEMPTED_STATES, OperationResult, OpState
from remediation.plan.models import Operation

CANARY_WITHOUT_WAVES = 10  # operations that must finish before the threshold applies to a plan without waves


@dataclass
class Schedule:
    """The operations to run, the results already known, and the wave each may start in."""

    operations: list[Operation]
    known: dict[str, OperationResult] = field(default_factory=dict)

    def effective_waves(self) -> dict[str, int]:
        """An operation's wave, moved no earlier than the waves of what it depends on."""
        by_id = {operation.id: operation for operation in self.operations}
        waves: dict[str, int] = {}

        def wave_of(operation_id: str, trail: frozenset[str]) -> int:
            if operation_id in waves:
                return waves[operation_id]
            operation = by_id[operation_id]
            deps = [dep for dep in operation.depends_on if dep in by_id and dep not in trail]
            own = operation.wave or 0
            waves[operation_id] = max([own, *(wave_of(dep, trail | {operation_id}) for dep in deps)])
            return waves[operation_id]

        for operation in self.operations:
            wave_of(operation.id, frozenset())
        return waves


class Scheduler:
    """Runs ``execute`` on each operation of a :class:`Schedule` with at most ``parallel`` at once."""

    def __init__(self, schedule: Schedule, execute: Callable[[Operation], OperationResult], *, parallel: int,
                 failure_threshold: float, on_result: Callable[[OperationResult], None] = lambda _: None,
                 interruption: Interruption | None = None, on_start: Callable[[int], None] = lambda _: None):
        self._schedule = schedule
        self._on_start = on_start
        self._interruption = interruption or Interruption()
        self._execute = execute
        self._parallel = max(1, parallel)
        self._threshold = failure_threshold
        self._on_result = on_result
        self._by_id = {operation.id: operation for operation in schedule.operations}
        self._waves = schedule.effective_waves()
        self._results: dict[str, OperationResult] = {}
        self._dependents: dict[str, list[str]] = defaultdict(list)
        self._waiting_on: dict[str, int] = {}
        self._in_flight: dict[Future[OperationResult], Operation] = {}
        self._in_flight_by_subscription: dict[str, int] = defaultdict(int)
        self._remaining_by_wave = Counter(self._waves.values())
        self._canary_wave = min(self._waves.values(), default=0)
        self._has_waves = len(self._remaining_by_wave) > 1
        self._attempted = self._failed = 0
        self.stopped = False

    def run(self) -> list[OperationResult]:
        for operation in self._schedule.operations:
            unknown = [dep for dep in operation.depends_on if dep not in self._by_id]
            if unknown:
                self._finish(OperationResult(id=operation.id, action=operation.action.value,
                                             resource_id=operation.resource_id, state=OpState.BLOCKED,
                                             message=f"depends on unknown operation {unknown[0]}"))
        for operation in self._schedule.operations:
            if operation.id in self._results:
                continue
            pending = [dep for dep in operation.depends_on if dep not in self._results]
            for dep in pending:
                self._dependents[dep].append(operation.id)
            self._waiting_on[operation.id] = len(pending)
        for result in list(self._schedule.known.values()):
            self._finish(result)
        for result in list(self._results.values()):
            self._release(result)
        self._on_start(len(self._results))  # settled before any work: by the plan, the journal, --wave
        pool = ThreadPoolExecutor(max_workers=self._parallel, thread_name_prefix="apply")
        abandoned = False
        try:
            while True:
                self._start_ready(pool)
                if not self._in_flight:
                    break
                if self._interruption.expired(after=ABANDON_AFTER_GRACE_SECONDS):
                    self._abandon_in_flight()
                    abandoned = True
                    break
                done, _ = wait(self._in_flight, timeout=SLICE_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    operation = self._in_flight.pop(future)
                    self._in_flight_by_subscription[operation.subscription_id or ""] -= 1
                    self._finish(future.result())
                    self._release(self._results[operation.id])
        finally:  # operations abandoned on the wire are not waited for: their journal entries stand
            pool.shutdown(wait=not abandoned, cancel_futures=True)
        for operation in self._schedule.operations:
            if operation.id not in self._results:
                self._finish(OperationResult(
                    id=operation.id, action=operation.action.value, resource_id=operation.resource_id,
                    state=OpState.NOT_ATTEMPTED, message=self._why_not_started()))
        return [self._results[operation.id] for operation in self._schedule.operations]

    def _why_not_started(self) -> str | None:
        if self._interruption.requested:
            return f"not started: apply was interrupted ({self._interruption.reason})"
        return "not started: the failure threshold was exceeded" if self.stopped else None

    def _abandon_in_flight(self) -> None:
        """The grace period and its margin are over: what is still on the wire is reported in flight."""
        for operation in self._in_flight.values():
            self._finish(OperationResult(
                id=operation.id, action=operation.action.value, resource_id=operation.resource_id,
                state=OpState.INTERRUPTED, message=f"in flight when apply was interrupted "
                                                   f"({self._interruption.reason}); its request had not come "
                                                   "back: --resume re-reads the target"))
        self._in_flight.clear()

    # ---- bookkeeping ------------------------------------------------------------------------
    def _finish(self, result: OperationResult) -> None:
        if result.id in self._results:
            return
        self._results[result.id] = result
        if result.id in self._waves:
            self._remaining_by_wave[self._waves[result.id]] -= 1
        self._attempted += result.state in ATTEMPTED_STATES
        self._failed += result.state is OpState.FAILED
        self._on_result(result)
        self._check_threshold()

    def _release(self, result: OperationResult) -> None:
        """Let dependents of a finished operation go ahead, or block them (transitively)."""
        queue = deque([result])
        while queue:
            finished = queue.popleft()
            for dependent in self._dependents.pop(finished.id, []):
                if dependent in self._results:
                    continue
                if finished.state.done_ok:
                    self._waiting_on[dependent] -= 1
                    continue
                if self._interruption.requested:  # not blocked by a failure: not started, said once at the end
                    continue
                operation = self._by_id[dependent]
                blocked = OperationResult(id=dependent, action=operation.action.value,
                                          resource_id=operation.resource_id, state=OpState.BLOCKED,
                                          message=f"prerequisite {finished.id} is {finished.state.value}")
                self._finish(blocked)
                queue.append(blocked)

    def _ready(self) -> list[Operation]:
        current = min((wave for wave, left in self._remaining_by_wave.items() if left > 0), default=0)
        running = {operation.id for operation in self._in_flight.values()}
        return [operation for operation in self._schedule.operations
                if operation.id not in self._results and operation.id not in running
                and self._waves[operation.id] == current and self._waiting_on.get(operation.id, 0) == 0]

    def _start_ready(self, pool: ThreadPoolExecutor) -> None:
        if self.stopped or self._interruption.requested:
            return
        free = self._parallel - len(self._in_flight)
        if free <= 0:
            return
        queues: dict[str, deque[Operation]] = defaultdict(deque)
        for operation in self._ready():
            queues[operation.subscription_id or ""].append(operation)
        while free > 0 and queues:
            # the subscription with the fewest writes in flight goes next: every write limit stays busy
            subscription = min(queues, key=lambda name: self._in_flight_by_subscription[name])
            operation = queues[subscription].popleft()
            if not queues[subscription]:
                del queues[subscription]
            self._in_flight[pool.submit(self._execute, operation)] = operation
            self._in_flight_by_subscription[subscription] += 1
            free -= 1

    def _check_threshold(self) -> None:
        if self.stopped or not self._attempted:
            return
        if self._has_waves:
            canary_done = self._remaining_by_wave[self._canary_wave] == 0
        else:
            canary_done = self._attempted >= min(CANARY_WITHOUT_WAVES, len(self._schedule.operations))
        if canary_done and self._failed / self._attempted > self._threshold:
            self.stopped = True
