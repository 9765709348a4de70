"""ARM's and Resource Graph's limits, and the failures the control API injects.

Resource Graph gives each caller Q queries per W-second window and tells it how many remain;
ARM meters reads, writes and deletes per subscription (or per tenant, for requests outside a
subscription) with a token bucket each, and says how many remain in
``x-ms-ratelimit-remaining-subscription-reads`` / ``-writes`` / ``-deletes`` (request-limits-and-throttling
in the ARM docs). Both answer 429 + Retry-After when exceeded, so clients are exercised against the
same back-pressure as in a real tenant.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, Field


def parse_ratio(text: str) -> tuple[int, float]:
    """``Q/Ws`` (``15/5s``: queries per window) or ``B/R`` (``200/10``: bucket, refill per second)."""
    amount, _, per = text.partition("/")
    try:
        count, value = int(amount.strip()), float(per.strip().removesuffix("s"))
    except ValueError:
        raise ValueError(f"expected NUMBER/NUMBER, got {text!r}") from None
    if count < 1 or value <= 0:
        raise ValueError(f"both numbers must be positive, got {text!r}")
    return count, value


def timespan(seconds: float) -> str:
    """A .NET TimeSpan string, the format of ``x-ms-user-quota-resets-after``."""
    whole = int(seconds)
    fraction = f"{seconds - whole:.3f}"[1:]
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}{fraction}"


@dataclass
class QueryQuota:
    """A fixed window of ``limit`` queries per ``window_seconds`` for each caller."""

    limit: int
    window_seconds: float
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, caller: str) -> tuple[bool, dict[str, str]]:
        """Spend one query of ``caller``'s window: (allowed, the quota headers to send)."""
        with self._lock:
            now = self.clock()
            start, used = self._windows.get(caller, (now, 0))
            if now >= start + self.window_seconds:
                start, used = now, 0
            allowed = used < self.limit
            used += allowed
            self._windows[caller] = (start, used)
        resets_after = max(0.0, start + self.window_seconds - now)
        headers = {"x-ms-user-quota-remaining": str(self.limit - used),
                   "x-ms-user-quota-resets-after": timespan(resets_after)}
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(resets_after)))
        return allowed, headers


@dataclass
class TokenBuckets:
    """A token bucket per key: ``capacity`` tokens, refilled continuously at ``refill_per_second``."""

    capacity: int
    refill_per_second: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> tuple[bool, int, int]:
        """Spend a token of ``key``'s bucket: (allowed, tokens left, seconds until one is back)."""
        with self._lock:
            now = self.clock()
            tokens, stamp = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - stamp) * self.refill_per_second)
            allowed = tokens >= 1
            tokens -= allowed
            self._buckets[key] = (tokens, now)
        return allowed, int(tokens), max(1, math.ceil((1 - tokens) / self.refill_per_second))


class RequestKind(StrEnum):
    """ARM's buckets: GET and HEAD are reads, DELETE deletes, PUT, PATCH and POST writes."""

    reads = "reads"
    writes = "writes"
    deletes = "deletes"

    @classmethod
    def of(cls, method: str) -> RequestKind:
        return {"GET": cls.reads, "HEAD": cls.reads, "DELETE": cls.deletes}.get(method, cls.writes)


@dataclass
class ArmBuckets:
    """ARM's read, write and delete buckets, per subscription (tenant-level requests: one more key)."""

    buckets: dict[RequestKind, TokenBuckets]

    @classmethod
    def of(cls, *, reads: tuple[int, float], writes: tuple[int, float], deletes: tuple[int, float]) -> ArmBuckets:
        return cls({RequestKind.reads: TokenBuckets(*reads), RequestKind.writes: TokenBuckets(*writes),
                    RequestKind.deletes: TokenBuckets(*deletes)})

    def take(self, kind: RequestKind, subscription: str) -> tuple[bool, dict[str, str]]:
        """Spend one request of ``kind``: (allowed, the ``x-ms-ratelimit-remaining-*`` and Retry-After headers)."""
        allowed, remaining, retry_after = self.buckets[kind].take(subscription)
        scope = "subscription" if subscription else "tenant"
        headers = {f"x-ms-ratelimit-remaining-{scope}-{kind.value}": str(remaining)}
        if not allowed:
            headers["Retry-After"] = str(retry_after)
        return allowed, headers


class FaultTarget(StrEnum):
    all = "all"
    graph = "graph"
    arm = "arm"
    write = "write"  # ARM writes only (PUT, PATCH, DELETE, POST)


class FaultRule(BaseModel):
    """One injected failure: an error status, a delay, or a dropped connection.

    With ``afterProcessing`` the request is carried out first and only its answer is lost (replaced by the
    status, or the connection dropped): a write that landed although its client saw it fail."""

    status: int | None = Field(None, ge=400, le=599)
    retry_after: int | None = Field(None, alias="retryAfter", ge=0)
    delay_seconds: float = Field(0.0, alias="delaySeconds", ge=0, le=120)
    drop: bool = False
    probability: float = Field(1.0, ge=0, le=1)
    count: int | None = Field(None, ge=1, description="Fire this many times, then retire; None = forever.")
    target: FaultTarget = FaultTarget.all
    after_processing: bool = Field(False, alias="afterProcessing")

    model_config = {"populate_by_name": True}


class Faults:
    """The active fault rules; each request draws at most one."""

    def __init__(self, seed: int = 0):
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def draw(self, targets: frozenset[FaultTarget]) -> FaultRule | None:
        """The rule this request meets, if any (``targets``: what the request is, ``all`` included)."""
        with self._lock:
            for rule in self._rules:
                if rule.target not in targets or self._random.random() >= rule.probability:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count == 0:
                        self._rules.remove(rule)
                return rule
        return None
