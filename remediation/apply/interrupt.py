"""Stopping an apply on request (SIGINT, SIGTERM) without losing track of anything.

Once asked, apply starts no more operations; those in flight may settle for :data:`GRACE_SECONDS`
(their polls and waits give up then, their journal entries, ``started`` or ``lro-started``, stay as
they were, so ``--resume`` re-reads or re-polls them); the scheduler stops waiting for any still
busy :data:`ABANDON_AFTER_GRACE_SECONDS` later (a request already on the wire). The result then says
what is done, what was in flight and what never started.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from engine.azure import AzureRequestError

GRACE_SECONDS = 30.0  # operations in flight may settle this long after the request to stop
ABANDON_AFTER_GRACE_SECONDS = 10.0  # then a request still on the wire gets this long to come back
SLICE_SECONDS = 0.25  # how often a wait looks at the request to stop


class Interrupted(AzureRequestError):
    """An operation in flight stopped waiting: the apply was asked to stop and the grace period ended."""


class Interruption:
    """Set once by a signal handler (or a test); read by the scheduler and every wait of an operation."""

    def __init__(self, grace: float = GRACE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.grace = grace
        self.reason: str | None = None  # e.g. "SIGINT"
        self._clock = clock
        self._deadline = math.inf
        self._event = threading.Event()

    def request(self, reason: str) -> None:
        """Ask the apply to stop (a second request changes nothing)."""
        if not self._event.is_set():
            self.reason = reason
            self._deadline = self._clock() + self.grace
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def expired(self, after: float = 0.0) -> bool:
        """Whether the grace period (and ``after`` seconds more) is over."""
        return self._event.is_set() and self._clock() > self._deadline + after

    def check(self) -> None:
        if self.expired():
            raise Interrupted(f"apply was interrupted ({self.reason}) and this operation did not settle within "
                              f"{self.grace:g}s: --resume re-reads it")

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that ends early, raising :class:`Interrupted`, once the grace period is over."""
        end = self._clock() + max(0.0, seconds)
        while True:
            self.check()
            left = end - self._clock()
            if left <= 0:
                return
            time.sleep(min(left, SLICE_SECONDS))
