"""Planning's stages on stderr, like the scan's progress: a live bar per stage on a terminal; off
one (CI logs, pipes) a line when a stage ends and every few seconds while a long one runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

PLAIN_INTERVAL_SECONDS = 5.0
UNITS = {"scan": "clusters", "expansion": "records", "graph": "wanted writes", "waves": "operations",
         "writing": "files"}


class StageDisplay:
    """A :data:`remediation.plan.stages.StageProgress` callback that shows each stage."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic):
        self._console = console
        self._clock = clock
        self._started: dict[str, float] = {}
        self._last_line = clock()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> StageDisplay:
        if self._console.is_terminal:
            self._progress = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=self._console, transient=True)
            self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock()
        started = self._started.setdefault(stage, now)
        if self._progress is not None:
            if stage not in self._tasks:
                self._tasks[stage] = self._progress.add_task(stage, total=total)
            self._progress.update(self._tasks[stage], completed=done, total=total)
            return
        finished = done >= total
        if finished or now - self._last_line >= PLAIN_INTERVAL_SECONDS:
            self._last_line = now
            state = f"done in {now - started:.1f}s" if finished else f"{now - started:.0f}s so far"
            self._console.print(f"plan: {stage} {done}/{total} {UNITS.get(stage, '')} {state}", markup=False,
                                highlight=False, soft_wrap=True)
