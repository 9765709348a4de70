"""Run a job on a cron schedule in one long-running process.

Runs never overlap: the loop runs the job itself and computes the next slot after it returns
(slots missed meanwhile are logged and skipped), and an optional lock file keeps a second
scheduler on the same lock from starting a run at the same time. A failed run is logged and the
next slot comes as usual. SIGTERM/SIGINT stop the loop after the current run. The health file
says what the scheduler is doing, for liveness probes and humans.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from engine.atomic import atomic_writer, own_file, private_file
from engine.cron import CronSchedule
from engine.errors import ArcPolicyError
from engine.output.context import new_scan_id
from engine.structured_logging import redact, scan_context

log = logging.getLogger(__name__)

Result = TypeVar("Result")
HEALTH_FILE_MAX = 64 * 1024  # bytes of an existing health file read to recognise it


class Clock(Protocol):
    def now(self) -> datetime: ...

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds`` or until ``stop`` is set, whichever comes first."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(seconds, 0.0))


@dataclass
class SchedulerStatus:
    """What the health file shows."""

    state: str = "starting"  # starting, waiting, running, stopped
    runs: int = 0
    failures: int = 0
    skipped_slots: int = 0
    next_run: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_scan_id: str | None = None
    last_error: str | None = None
    pid: int = field(default_factory=os.getpid)

    def to_json(self) -> dict[str, object]:
        return {key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in vars(self).items()}


def liveness_problem(health: dict[str, Any], now: datetime, grace: timedelta,
                     max_run: timedelta | None = None) -> str | None:
    """Why the scheduler whose health file reads ``health`` is not alive, or None when it is (``arcpolicy
    health``, a liveness probe). The file is written only when the state changes, so its age says nothing; its
    times do: a scheduler waiting more than ``grace`` past the run it announced has a loop that no longer runs, and
    one running longer than ``max_run`` holds a scan that hangs. A stopped one is not alive either."""
    state = health.get("state")
    if state == "waiting":
        due = _health_time(health, "next_run")
        if now - due > grace:
            return f"waiting for the run due at {due.isoformat()}, {_ago(now - due)} ago (grace {_ago(grace)})"
        return None
    if state == "running":
        started = _health_time(health, "last_started")
        if max_run is not None and now - started > max_run:
            return f"running since {started.isoformat()}, {_ago(now - started)} (longer than {_ago(max_run)})"
        return None
    if state == "stopped":
        return "stopped"
    raise ValueError(f"state: not a scheduler state (got {state!r})")


def _health_time(health: dict[str, Any], key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(health[key])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{key}: not an ISO 8601 time (got {health.get(key)!r})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ago(duration: timedelta) -> str:
    return str(timedelta(seconds=round(duration.total_seconds())))


class Scheduler(Generic[Result]):
    """Runs ``job`` (called with the run's scan id) on the slots of ``cron``; without a cron, only
    :meth:`run_now` runs it (``schedule --once``)."""

    def __init__(self, job: Callable[[str], Result], cron: str | None, *, clock: Clock | None = None, jitter: timedelta = timedelta(0),
                 health_file: Path | None = None, lock_file: Path | None = None, max_runs: int | None = None,
                 rng: random.Random | None = None):
        self.job = job
        self.cron = cron
        self.clock = clock or SystemClock()
        self.schedule = CronSchedule.parse(cron, self.clock.now()) if cron is not None else None
        self.jitter = jitter
        self.health_file = health_file
        self.lock_file = lock_file
        if health_file is not None:  # replaced at every update: never another program's file, never through a link
            own_file(health_file, "scheduler health file", _not_a_health_file, option="--health-file")
        if lock_file is not None:
            os.close(_claim_lock_file(lock_file))
        self.max_runs = max_runs
        self.rng = rng or random.Random()
        self.stop_requested = threading.Event()
        self.status = SchedulerStatus()

    def stop(self) -> None:
        self.stop_requested.set()

    @contextmanager
    def stopping_on_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT ask the loop to stop after the current run (main thread only)."""
        previous = {number: signal.signal(number, lambda *_: self.stop()) for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def next_slot(self, after: datetime) -> datetime:
        if self.schedule is None:
            raise ValueError("a scheduler without a cron expression only runs on demand")
        return self.schedule.next_after(after)

    def run(self) -> SchedulerStatus:
        """Loop until stopped (or ``max_runs`` runs); returns the final status."""
        slot = self.next_slot(self.clock.now())
        log.info("scheduler started (cron %r); next run at %s", self.cron, slot.isoformat(),
                 extra={"cron": self.cron, "jitter_seconds": self.jitter.total_seconds(),
                        "nextRun": slot.isoformat()})
        while not self.stop_requested.is_set() and (self.max_runs is None or self.status.runs < self.max_runs):
            due = slot + timedelta(seconds=self.rng.uniform(0, self.jitter.total_seconds()))
            self._update(state="waiting", next_run=due)
            self.clock.wait((due - self.clock.now()).total_seconds(), self.stop_requested)
            if self.stop_requested.is_set():
                break
            self._run_once()
            slot = self._next_slot_after_run(slot)
        self._update(state="stopped", next_run=None)
        log.info("scheduler stopped", extra={"runs": self.status.runs, "failures": self.status.failures})
        return self.status

    def run_now(self) -> Result:
        """One run right away (``schedule --once``), recorded in the health file like a scheduled one;
        the job's result is returned and its errors propagate."""
        scan_id = new_scan_id(self.clock.now())
        with scan_context(scan_id):
            try:
                return self._run_job(scan_id)
            finally:
                self._update(state="stopped", next_run=None)

    def _next_slot_after_run(self, slot: datetime) -> datetime:
        """The first slot after now; slots that passed while the job ran are skipped, never queued."""
        now = self.clock.now()
        following = self.next_slot(slot)
        skipped = 0
        while following <= now:
            skipped += 1
            following = self.next_slot(following)
        if skipped:
            self.status.skipped_slots += skipped
            log.warning("run overlapped %d later slot(s); they were skipped", skipped)
        return following

    def _run_once(self) -> None:
        scan_id = new_scan_id(self.clock.now())
        with scan_context(scan_id), self._exclusive() as acquired:
            if not acquired:
                self.status.skipped_slots += 1
                log.warning("another run holds %s; slot skipped", self.lock_file)
                return
            try:
                self._run_job(scan_id)
            except ArcPolicyError as error:  # bad input, a server down: one line with the cause, as every command
                log.error("scheduled run failed: %s; retrying at the next slot", error)
            except Exception as error:  # a failed scan must not kill the scheduler; an arcpolicy bug is one line too
                log.error("scheduled run failed: internal error: %s: %s (set ARCPOLICY_DEBUG=1 for a traceback); "
                          "retrying at the next slot", type(error).__name__, error,
                          exc_info=bool(os.environ.get("ARCPOLICY_DEBUG")))

    def _run_job(self, scan_id: str) -> Result:
        """Run the job once, counting it (and its failure) in the status and the health file."""
        self._update(state="running", last_started=self.clock.now(), last_scan_id=scan_id)
        log.info("scheduled run started")
        try:
            result = self.job(scan_id)
        except Exception as error:
            self.status.failures += 1
            self.status.last_error = redact(f"{type(error).__name__}: {error}")
            raise
        else:
            self.status.last_error = None
            log.info("scheduled run finished")
            return result
        finally:
            self.status.runs += 1
            self._update(last_finished=self.clock.now())

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        if self.lock_file is None:
            yield True
            return
        descriptor = _claim_lock_file(self.lock_file)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def _update(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.status, key, value)
        if self.health_file is not None:
            with atomic_writer(self.health_file) as out:
                json.dump(self.status.to_json() | {"updated": self.clock.now().isoformat()}, out, indent=2)


def _claim_lock_file(path: Path) -> int:
    """A descriptor of the lock file (created empty, the owner's only), never opened through a link; schedulers
    sharing it only lock it, so an existing one must be empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private_file(path, "scheduler lock file", lambda _: "not empty, as a lock file is", option="--lock-file")
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)


def _not_a_health_file(path: Path) -> str | None:
    """Why ``path`` is no health file a scheduler wrote (a JSON object with its state and pid), None if it is one."""
    try:
        with path.open("rb") as handle:
            document = json.loads(handle.read(HEALTH_FILE_MAX))
    except (OSError, ValueError):
        document = None
    return None if isinstance(document, dict) and {"state", "pid"} <= document.keys() else \
        "not the JSON status a scheduler writes"
