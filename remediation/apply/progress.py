"""Progress of an apply: a live rich display on a terminal, plain periodic lines otherwise.

Both show the count per state, the rate of finished operations and the time left at that rate.
Off a terminal a line is written at least every ``interval`` seconds (5), also while nothing
finishes (``--wait`` following extensions, a long poll): a log never goes silent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from remediation.apply.models import OperationResult

PLAIN_INTERVAL_SECONDS = 5.0


class ApplyProgress:
    """Receives each finished operation (from worker threads) and shows where the apply stands."""

    def __init__(self, total: int, stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 interval: float = PLAIN_INTERVAL_SECONDS):
        self._total = total
        self._interval = interval
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._live = stream.isatty()
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> ApplyProgress:
        if self._live:
            self._progress = Progress(TextColumn("apply"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[states]}"), TextColumn("{task.fields[rate]}"),
                                      TimeRemainingColumn(), console=Console(file=self._stream), transient=False)
            self._progress.start()
            self._task = self._progress.add_task("apply", total=self._total, states="", rate="")
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

    def line(self) -> str:
        done = sum(self._counts.values())
        elapsed = max(1e-9, self._clock() - self._started)
        rate = done / elapsed
        left = (self._total - done) / rate if rate > 0 else None
        eta = f"ETA {left:.0f}s" if left is not None and done < self._total else ""
        states = f" ({self._states()})" if self._counts else ""  # none finished yet: no empty "()"
        return f"apply: {done}/{self._total} done{states} {rate:.1f}/s {eta}".rstrip()

    def _states(self) -> str:
        return ", ".join(f"{state} {count}" for state, count in sorted(self._counts.items()))

    def __call__(self, result: OperationResult) -> None:
        with self._lock:
            self._counts[result.state.value] += 1
            if self._progress is not None and self._task is not None:
                done = sum(self._counts.values())
                rate = done / max(1e-9, self._clock() - self._started)
                self._progress.update(self._task, completed=done, states=self._states(), rate=f"{rate:.1f}/s")
                return
            self._line_if_due()

    def _line_if_due(self) -> None:
        now = self._clock()
        if now - self._last_line >= self._interval:
            self._last_line = now
            self._stream.write(self.line() + "\n")
            self._stream.flush()
