"""Date functions (templates/template-functions-date) that need no deployment: ``dateTimeFromEpoch``
and ``dateTimeToEpoch`` (``utcNow`` reads the clock of the stage that evaluates)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.expressions.functions.values import text
from engine.expressions.registry import COMMON_FUNCTIONS as F
from engine.expressions.registry import EvaluationError


# ARM's date functions (template-functions-date): dateTimeFromEpoch(1683040573) is
# '2023-05-02T15:16:13Z' and dateTimeToEpoch reverses it (whole seconds since 1970-01-01 UTC).
@F.function("dateTimeToEpoch", 1, 1)
def _date_time_to_epoch(value: Any) -> int:
    moment_text = text(value, "dateTimeToEpoch")
    try:
        moment = datetime.fromisoformat(moment_text.replace("Z", "+00:00"))
    except ValueError:
        raise EvaluationError(f"dateTimeToEpoch(): not an ISO 8601 date and time: {json.dumps(moment_text)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


@F.function("dateTimeFromEpoch", 1, 1)
def _date_time_from_epoch(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvaluationError(f"dateTimeFromEpoch() expects an integer, got {json.dumps(value)}")
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise EvaluationError(f"dateTimeFromEpoch(): {value} is out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
