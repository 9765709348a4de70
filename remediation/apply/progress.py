"""Progress of an apply: a live rich display on a terminal, plain periodic lines otherwise.

Both show the count per state, the rate of operations this run finished and the time left. Off a
terminal a line is written at least every ``interval`` seconds (5), also while nothing finishes
(``--wait`` following extensions, a long poll): a log never goes silent.

The time left is honest on a resume too: operations settled before the run started (kept from the
journal, skipped by the plan) do not count towards the rate, which is measured over what this run
finished once :data:`MEASURED_AFTER` operations did; and it is never below what the write pacing allows
(each subscription's operations beyond its bucket, at its refill rate). Until the rate is measured the
line says only that floor (``ETA >= 40s``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from engine.untrusted_text import terminal_text
from remediation.apply.models import OperationResult
from remediation.apply.pacing import DEFAULT_BURST, DEFAULT_RATE
from remediation.plan.models import Operation

PLAIN_INTERVAL_SECONDS = 5.0
MEASURED_AFTER = 5  # operations this run finished before its rate is trusted


class ApplyProgress:
    """Receives each finished operation (from worker threads) and shows where the apply stands."""

    def __init__(self, operations: Sequence[Operation], stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 interval: float = PLAIN_INTERVAL_SECONDS, write_rate: float = DEFAULT_RATE,
                 write_burst: int = DEFAULT_BURST):
        self._total = len(operations)
        self._subscription = {operation.id: (operation.subscription_id or "").lower() for operation in operations}
        self._left_by_subscription = Counter(self._subscription.values())
        self._write_rate = write_rate
        self._write_burst = write_burst
        self._interval = interval
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._carried = 0  # settled before this run started working
        self._last_line = self._started
        self._counts: Counter[str] = Counter()
        self._lock = threading.RLock()  # a signal handler may say something while the main thread holds it
        self._live = stream.isatty()
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> ApplyProgress:
        if self._live:
            self._progress = Progress(TextColumn("apply"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[states]}"), TextColumn("{task.fields[rate]}"),
                                      TextColumn("{task.fields[eta]}"), console=Console(file=self._stream),
                                      transient=False)
            self._progress.start()
            self._task = self._progress.add_task("apply", total=self._total, states="", rate="", eta="")
        else:
            self._ticker = threading.Thread(target=self._tick, name="apply-progress", daemon=True)
            self._ticker.start()
        return self

    def _tick(self) -> None:
        """Off a terminal: a line whenever ``interval`` seconds passed without one."""
        while not self._stopped.wait(self._interval / 5):
            with self._lock:
                self._line_if_due()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._progress is not None:
            self._progress.stop()
        elif error_type is None:  # an apply refused (bad input) says only why
            self._stream.write(self.line() + "\n")
            self._stream.flush()

    def started(self, settled: int) -> None:
        """The run starts working; ``settled`` operations were known before it (journal, plan)."""
        with self._lock:
            self._carried = settled
            self._started = self._clock()

    def say(self, text: str) -> None:
        """A line of its own among the progress (an interruption, what happens next); names in it are shown,
        their control characters never sent."""
        text = terminal_text(text)
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(text, markup=False, highlight=False)
            else:
                self._stream.write(text + "\n")
                self._stream.flush()

    def _done(self) -> int:
        return sum(self._counts.values())

    def _rate(self) -> float | None:
        """Operations per second this run finished, once enough did."""
        worked = self._done() - self._carried
        elapsed = self._clock() - self._started
        return worked / elapsed if worked >= MEASURED_AFTER and elapsed > 0 else None

    def _eta(self) -> str:
        left = self._total - self._done()
        if left <= 0:
            return ""
        paced = max((max(0, count - self._write_burst) for count in self._left_by_subscription.values()), default=0)
        floor = paced / self._write_rate
        rate = self._rate()
        if rate is None:
            return f"ETA >= {floor:.0f}s" if floor >= 1 else ""
        return f"ETA {max(left / rate, floor):.0f}s"

    def line(self) -> str:
        rate = self._rate()
        states = f" ({self._states()})" if self._counts else ""  # none finished yet: no empty "()"
        shown_rate = f" {rate:.1f}/s" if rate is not None else ""
        return f"apply: {self._done()}/{self._total} done{states}{shown_rate} {self._eta()}".rstrip()

    def _states(self) -> str:
        return ", ".join(f"{state} {count}" for state, count in sorted(self._counts.items()))

    def __call__(self, result: OperationResult) -> None:
        with self._lock:
            self._counts[result.state.value] += 1
            subscription = self._subscription.get(result.id)
            if subscription is not None:
                self._left_by_subscription[subscription] -= 1
            if self._progress is not None and self._task is not None:
                rate = self._rate()
                self._progress.update(self._task, completed=self._done(), states=self._states(),
                                      rate=f"{rate:.1f}/s" if rate is not None else "", eta=self._eta())
                return
            self._line_if_due()

    def _line_if_due(self) -> None:
        now = self._clock()
        if now - self._last_line >= self._interval:
            self._last_line = now
            self._stream.write(self.line() + "\n")
            self._stream.flush()
