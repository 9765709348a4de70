"""Retrying transient Azure failures and pacing to the service's advertised quota.

ARM and Resource Graph answer overload with 429 (or 5xx) and a Retry-After; Resource Graph also
tells every caller how many queries remain in its window. Following those headers keeps a scan
from ever being throttled and recovers from the failures that still happen.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from engine.errors import ServiceError

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
QUOTA_REMAINING = "x-ms-user-quota-remaining"
QUOTA_RESETS_AFTER = "x-ms-user-quota-resets-after"


class AzureRequestError(ServiceError):
    """A request Azure refused or kept failing; the message carries ARM's code and message only."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, overridden by the service's Retry-After."""

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


DEFAULT_RETRY = RetryPolicy()


def retry_after(error: HttpResponseError) -> float | None:
    response = error.response
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def describe(error: Exception) -> str:
    """A one-line description of an Azure failure (status, ARM error code and message)."""
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:  # no token, no request
        first = str(error.message or error).splitlines()[0]
        return (f"cannot get an Azure access token: {first} (--credential cli uses an Azure CLI login, "
                "sandbox a local sandbox)")
    if isinstance(error, HttpResponseError):
        code = getattr(error.error, "code", None) if error.error else None
        message = getattr(error.error, "message", None) if error.error else None
        return f"HTTP {error.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return unreachable(error)
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


SYSTEM_MODULES = ("builtins", "socket", "ssl", "http.client")  # their errors' words are the system's, not a library's


def unreachable(error: BaseException) -> str:
    """A request that got no answer, in one line: the server (host and port) and the system's cause (``Connection
    refused``, ``Name or service not known``, ``timed out``), without the HTTP libraries' class names."""
    server = cause = None
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:  # the chain azure-core -> requests -> urllib3 -> socket, depth first: the deepest cause wins
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        connection = vars(item).get("pool") or vars(item).get("conn")  # urllib3's, by its attributes
        if server is None and getattr(connection, "host", None):
            server = f"{connection.host}:{connection.port}"
        if "timeout" in type(item).__name__.lower() or isinstance(item, TimeoutError):
            cause = "timed out"
        elif isinstance(item, OSError) and item.strerror:
            cause = item.strerror
        elif type(item).__module__ in SYSTEM_MODULES and str(item):
            cause = str(item).splitlines()[0]
        pending.extend(getattr(item, name, None) for name in ("__context__", "__cause__", "reason", "inner_exception"))
    if cause is None:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"no answer{f' from {server}' if server else ''}: {first}"
    return f"cannot reach {server or 'the server'}: {cause}"


def with_retries(operation: Callable[[], T], policy: RetryPolicy = DEFAULT_RETRY, *,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[Exception, float], None] | None = None) -> T:
    """Run ``operation``, retrying 429/5xx and connection errors; other errors raise at once."""
    for attempt in range(policy.max_attempts):
        last = attempt + 1 == policy.max_attempts
        try:
            return operation()
        except HttpResponseError as error:
            if error.status_code not in RETRYABLE_STATUS or last:
                raise AzureRequestError(describe(error)) from None
            failure: Exception = error
            hinted = retry_after(error)
            delay = policy.backoff(attempt) if hinted is None else hinted
        except (ServiceRequestError, ServiceResponseError) as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):  # not transient: retrying only delays the answer
                raise AzureRequestError("the server's TLS certificate is not trusted (for a sandbox, give its "
                                        "ca.pem as --ca-bundle): " + describe(error)) from None
            if last:
                raise AzureRequestError(describe(error)) from None
            failure, delay = error, policy.backoff(attempt)
        if on_retry is not None:
            on_retry(failure, delay)
        sleep(delay)
    raise AssertionError("unreachable: the last attempt raises")


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$")


def parse_timespan(value: str) -> float:
    """Seconds in a .NET TimeSpan string (``00:00:04.25``, ``1.00:00:00``) as the quota headers use."""
    match = _TIMESPAN.match(value.strip())
    if not match:
        raise ValueError(f"not a timespan: {value!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass
class QuotaPacer:
    """Waits before a query when the last response said the caller's quota is used up."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _ready_at: float = field(default=0.0, init=False)

    def wait(self) -> None:
        delay = self._ready_at - self.clock()
        if delay > 0:
            self.sleep(delay)

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining, resets_after = headers.get(QUOTA_REMAINING), headers.get(QUOTA_RESETS_AFTER)
        if remaining is None or resets_after is None:
            return
        try:
            exhausted = int(remaining) <= 0
            window_left = parse_timespan(resets_after)
        except ValueError:
            return
        self._ready_at = self.clock() + window_left if exhausted else 0.0
