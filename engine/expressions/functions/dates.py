"""Date functions of ARM templates (templates/template-functions-date) that need no deployment:
``dateTimeAdd``, ``dateTimeFromEpoch``, ``dateTimeToEpoch``. The Azure Policy docs list all three among
the template functions a policy rule cannot use (policy/concepts/definition-structure-policy-rule, "Policy
functions"): Azure refuses to create such a rule. Microsoft's conformance cases evaluate them in rules, and
evaluating a rule Azure would not accept changes no verdict on one it does, so they are common to rules and
templates (a deliberate difference, docs/azure-policy-conformance.md); ``utcNow`` reads the clock of the stage
that evaluates."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.expressions.dotnet import add_duration, format_datetime, parse_datetime
from engine.expressions.registry import COMMON_FUNCTIONS as C
from engine.expressions.registry import INTEGER, TEXT, EvaluationError


@C.function("dateTimeAdd", 2, 3, takes=(TEXT,))
def _date_time_add(base: str, duration: str, format_: str | None = None) -> str:
    """``base`` plus an ISO 8601 ``duration``, written in ``format_`` (a .NET standard or custom date and
    time format) or, without one, the way ``base`` is written."""
    written = parse_datetime(base, "dateTimeAdd")
    moment = add_duration(written.moment, duration, "dateTimeAdd")
    return format_datetime(moment, written.format if format_ is None else format_, "dateTimeAdd")


@C.function("dateTimeToEpoch", 1, 1, takes=(TEXT,))
def _date_time_to_epoch(value: str) -> int:
    """Whole seconds since 1970-01-01 UTC (``dateTimeToEpoch('2023-05-02T15:16:13Z')`` is 1683040573); a
    date and time without an offset is UTC."""
    moment = parse_datetime(value, "dateTimeToEpoch").moment
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


@C.function("dateTimeFromEpoch", 1, 1, takes=(INTEGER,))
def _date_time_from_epoch(value: int) -> str:
    """``dateTimeFromEpoch(1683040573)`` is ``2023-05-02T15:16:13Z``."""
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise EvaluationError(f"dateTimeFromEpoch(): {value} is out of range") from None
    return format_datetime(moment, "yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", "dateTimeFromEpoch")
