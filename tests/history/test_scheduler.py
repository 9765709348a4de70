"""The scheduler with a fast (virtual) clock: slots, no overlap, failure isolation, jitter, SIGTERM, lock."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.scheduler import Scheduler, liveness_problem
from engine.structured_logging import current_scan_id

START = datetime(2025, 5, 1, 0, 0, tzinfo=UTC)


class FakeClock:
    """Virtual time: waiting advances it instantly; a job advances it to take time."""

    def __init__(self, on_wait=None):
        self.moment = START
        self.waits = 0
        self.on_wait = on_wait

    def now(self) -> datetime:
        return self.moment

    def wait(self, seconds: float, stop: threading.Event) -> None:
        self.waits += 1
        if self.on_wait:
            self.on_wait(self.waits)
        if not stop.is_set():
            self.moment += timedelta(seconds=max(seconds, 0))

    def advance(self, **duration: float) -> None:
        self.moment += timedelta(**duration)


class RecordingJob:
    def __init__(self, clock: FakeClock, takes: timedelta = timedelta(minutes=5), fail_on: tuple[int, ...] = ()):
        self.clock, self.takes, self.fail_on = clock, takes, fail_on
        self.runs: list[tuple[datetime, datetime, str | None]] = []

    def __call__(self, scan_id: str) -> None:
        started = self.clock.now()
        self.clock.moment += self.takes
        self.runs.append((started, self.clock.now(), current_scan_id.get()))
        assert scan_id == current_scan_id.get()
        if len(self.runs) in self.fail_on:
            raise RuntimeError("inventory unreachable: postgresql://u:pw@db/x")


def test_runs_on_the_cron_slots_with_a_scan_id_each(tmp_path: Path):
    clock = FakeClock()
    job = RecordingJob(clock)
    status = Scheduler(job, "0 */6 * * *", clock=clock, max_runs=3, health_file=tmp_path / "health.json").run()
    assert [run[0] for run in job.runs] == [START + timedelta(hours=hours) for hours in (6, 12, 18)]
    assert len({run[2] for run in job.runs}) == 3 and all(run[2].startswith("20250501T") for run in job.runs)
    assert (status.runs, status.failures, status.skipped_slots, status.state) == (3, 0, 0, "stopped")
    health = json.loads((tmp_path / "health.json").read_text())
    assert health["state"] == "stopped" and health["runs"] == 3
    assert health["last_scan_id"] == job.runs[-1][2]


def test_the_health_file_tells_a_live_scheduler_from_an_overdue_a_hung_and_a_stopped_one(tmp_path: Path):
    """What ``arcpolicy health`` (the resident scheduler's liveness probe) judges, on the health file the scheduler
    writes: read while waiting, in the middle of a run and after it stopped, at moments the virtual clock sets."""
    health_file, judged = tmp_path / "health.json", []
    grace, max_run = timedelta(minutes=5), timedelta(minutes=90)

    def judge(at: datetime) -> str | None:
        return liveness_problem(json.loads(health_file.read_text()), at, grace, max_run)

    def on_wait(waits: int) -> None:
        if waits == 1:  # waiting for the 06:00 run
            judged.extend([judge(START), judge(START + timedelta(hours=6, minutes=4)),
                           judge(START + timedelta(hours=6, minutes=6))])

    clock = FakeClock(on_wait)

    def scan(_: str) -> None:
        started = clock.now()
        judged.extend([judge(started + timedelta(minutes=89)), judge(started + timedelta(minutes=91)),
                       liveness_problem(json.loads(health_file.read_text()), started + timedelta(days=9), grace)])

    Scheduler(scan, "0 */6 * * *", clock=clock, max_runs=1, health_file=health_file).run()
    alive, still_in_grace, overdue, running, hung, without_a_limit = judged
    assert alive is None and still_in_grace is None
    assert overdue == "waiting for the run due at 2025-05-01T06:00:00+00:00, 0:06:00 ago (grace 0:05:00)"
    assert running is None and without_a_limit is None
    assert hung == "running since 2025-05-01T06:00:00+00:00, 1:31:00 (longer than 1:30:00)"
    assert judge(clock.now()) == "stopped"


def test_a_long_run_never_overlaps_the_next_slot():
    clock = FakeClock()
    job = RecordingJob(clock, takes=timedelta(hours=13))
    status = Scheduler(job, "0 */6 * * *", clock=clock, max_runs=2).run()
    (first_start, first_end, _), (second_start, _, _) = job.runs
    assert first_start == START + timedelta(hours=6) and first_end == START + timedelta(hours=19)
    assert second_start == START + timedelta(hours=24)  # the 12:00 and 18:00 slots were skipped
    assert second_start >= first_end
    assert status.skipped_slots == 2 + 2


def test_a_failed_run_is_logged_and_the_next_slot_still_runs(tmp_path: Path, caplog):
    clock = FakeClock()
    job = RecordingJob(clock, fail_on=(1,))
    health = tmp_path / "health.json"
    with caplog.at_level(logging.INFO, logger="engine.scheduler"):
        status = Scheduler(job, "*/30 * * * *", clock=clock, max_runs=3, health_file=health).run()
    assert len(job.runs) == 3 and status.failures == 1 and status.runs == 3
    failed = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(failed) == 1 and "retrying at the next slot" in failed[0].getMessage()
    assert status.last_error is None  # the later runs succeeded


def test_the_last_error_in_the_health_file_hides_passwords(tmp_path: Path):
    clock = FakeClock()
    health = tmp_path / "health.json"
    Scheduler(RecordingJob(clock, fail_on=(1,)), "*/30 * * * *", clock=clock, max_runs=1, health_file=health).run()
    recorded = json.loads(health.read_text())["last_error"]
    assert "inventory unreachable" in recorded and "pw@" not in recorded


def test_jitter_delays_each_run_within_the_window():
    clock = FakeClock()
    job = RecordingJob(clock, takes=timedelta(0))
    Scheduler(job, "0 * * * *", clock=clock, jitter=timedelta(minutes=10), max_runs=6, rng=random.Random(7)).run()
    offsets = [run[0] - run[0].replace(minute=0, second=0, microsecond=0) for run in job.runs]
    assert all(timedelta(0) <= offset <= timedelta(minutes=10) for offset in offsets)
    assert len(set(offsets)) > 1
    assert [run[0].hour for run in job.runs] == [1, 2, 3, 4, 5, 6]


def test_sigterm_stops_after_the_current_run(tmp_path: Path):
    clock = FakeClock()
    job = RecordingJob(clock)

    def terminate_on_second_run(scan_id: str) -> None:
        job(scan_id)
        if len(job.runs) == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    scheduler = Scheduler(terminate_on_second_run, "*/5 * * * *", clock=clock, health_file=tmp_path / "h.json")
    before = signal.getsignal(signal.SIGTERM)
    with scheduler.stopping_on_signals():
        status = scheduler.run()
    assert signal.getsignal(signal.SIGTERM) is before
    assert status.runs == 2 and status.state == "stopped"
    assert json.loads((tmp_path / "h.json").read_text())["state"] == "stopped"


def test_a_held_lock_skips_the_slot_instead_of_running_twice(tmp_path: Path):
    lock = tmp_path / "scan.lock"
    clock = FakeClock()
    job = RecordingJob(clock)
    scheduler = Scheduler(job, "*/5 * * * *", clock=clock, lock_file=lock)
    clock.on_wait = lambda waits: scheduler.stop() if waits > 3 else None
    with open(lock, "a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status = scheduler.run()
    assert job.runs == [] and status.skipped_slots == 3 and status.runs == 0


def test_sigterm_stops_a_waiting_scheduler_process(tmp_path: Path):
    health = tmp_path / "health.json"
    script = textwrap.dedent(f"""
        from pathlib import Path
        from engine.scheduler import Scheduler, liveness_problem
        scheduler = Scheduler(lambda scan_id: None, "0 0 1 1 *", health_file=Path({str(health)!r}))
        with scheduler.stopping_on_signals():
            scheduler.run()
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(200):
            if health.exists() and json.loads(health.read_text())["state"] == "waiting":
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
    assert json.loads(health.read_text())["state"] == "stopped"
