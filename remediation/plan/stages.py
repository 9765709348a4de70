"""The stages of planning, reported as they advance: the CLI shows them, the plan bench times them.

``arcpolicy plan`` runs for tens of seconds on 10,000 clusters; a stage callback
``progress(stage, done, total)`` is called when a stage starts (``done`` 0), as it advances and
when it ends (``done == total``).
"""

from __future__ import annotations

from collections.abc import Callable

PLAN_STAGES = ("scan", "expansion", "graph", "waves", "writing")
StageProgress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: nobody is watching."""
