"""Per-subscription pacing matched to ARM's token buckets, so that throttling stays rare.

ARM meters writes per subscription with a bucket of ``burst`` tokens refilled at ``rate`` per
second (200, 10/s), reads with another (250, 25/s), and answers 429 + Retry-After once one is
empty. Spending our own copy of each bucket before each request keeps us under the limit; the
``x-ms-ratelimit-remaining-subscription-writes`` / ``-reads`` headers and Retry-After pull our copy
down when someone else shares the subscription.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_BURST = 200
DEFAULT_RATE = 10.0
DEFAULT_READ_BURST = 250
DEFAULT_READ_RATE = 25.0
EPSILON = 1e-9  # refill arithmetic in floats must not leave a token at 0.99999...
REMAINING_WRITES_HEADER = "x-ms-ratelimit-remaining-subscription-writes"
REMAINING_READS_HEADER = "x-ms-ratelimit-remaining-subscription-reads"


@dataclass
class TokenBucket:
    """``burst`` tokens refilled continuously at ``rate`` per second; not thread-safe alone."""

    burst: float
    rate: float
    now: float
    tokens: float = field(init=False)
    stamp: float = field(init=False)
    blocked_until: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.tokens, self.stamp = self.burst, self.now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def try_take(self, now: float) -> float:
        """Spend a token and return 0, or return the seconds until one will be available."""
        self._refill(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.tokens >= 1 - EPSILON:
            self.tokens = max(0.0, self.tokens - 1)
            return 0.0
        return (1 - self.tokens) / self.rate

    def observe_remaining(self, remaining: int, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.tokens, float(remaining))

    def hold(self, seconds: float, now: float) -> None:
        """The service said it is empty for ``seconds`` (Retry-After)."""
        self._refill(now)
        self.tokens = 0.0
        self.blocked_until = max(self.blocked_until, now + seconds)


@dataclass
class WritePacer:
    """One :class:`TokenBucket` per subscription, shared by every worker thread; ``header`` is ARM's count of
    what remains of the bucket (a read pacer follows ``x-ms-ratelimit-remaining-subscription-reads``)."""

    burst: float = DEFAULT_BURST
    rate: float = DEFAULT_RATE
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    header: str = REMAINING_WRITES_HEADER
    _buckets: dict[str, TokenBucket] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def _bucket(self, subscription: str) -> TokenBucket:
        key = subscription.lower()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.burst, self.rate, self.clock())
        return bucket

    def try_take(self, subscription: str) -> float:
        """Take a write token without waiting: 0 if taken, else the seconds to wait."""
        with self._lock:
            return self._bucket(subscription).try_take(self.clock())

    def take(self, subscription: str) -> None:
        """Take a token, sleeping until one is available."""
        while (delay := self.try_take(subscription)) > 0:
            self.sleep(delay)

    def observe(self, subscription: str, headers: Mapping[str, str]) -> None:
        """Follow ARM's count of what remains when it is lower than ours."""
        value = headers.get(self.header)
        if value is None or not value.strip().isdigit():
            return
        with self._lock:
            self._bucket(subscription).observe_remaining(int(value), self.clock())

    def hold(self, subscription: str, seconds: float) -> None:
        with self._lock:
            self._bucket(subscription).hold(seconds, self.clock())
