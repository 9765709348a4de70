"""Functions of Azure Policy rules that ARM templates lack and that read no evaluation context
(policy/concepts/definition-structure-policy-rule, "Policy functions"): ``addDays`` and
``ipRangeContains``. :data:`POLICY_RULE_FUNCTIONS` holds them; the policy stage extends it with the
context functions (``field``, ``current``, ``policy``, ``requestContext`` ...)."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from engine.expressions.registry import COMMON_FUNCTIONS, INTEGER, TEXT, EvaluationError

POLICY_RULE_FUNCTIONS = COMMON_FUNCTIONS.extend()
P = POLICY_RULE_FUNCTIONS


@P.function("addDays", 2, 2, takes=(TEXT, INTEGER))
def _add_days(date_time: str, days: int) -> str:
    """``addDays(dateTime, numberOfDays)``: an ISO 8601 date plus (or minus) whole days."""
    try:
        moment = datetime.fromisoformat(str(date_time).replace("Z", "+00:00"))
    except ValueError:
        raise EvaluationError(f"addDays(): not an ISO 8601 date: {date_time!r}") from None
    shifted = moment + timedelta(days=int(days))
    text = shifted.isoformat()
    return text.replace("+00:00", "Z") if str(date_time).endswith("Z") else text


@P.function("ipRangeContains", 2, 2, takes=(TEXT,))
def _ip_range_contains(range_: str, target: str) -> bool:
    try:
        network = ipaddress.ip_network(range_, strict=False)
        if "/" in target or "-" in target:
            inner = ipaddress.ip_network(target, strict=False)
            return network.version == inner.version and inner.subnet_of(network)  # type: ignore[arg-type]
        address = ipaddress.ip_address(target)
    except ValueError as error:
        raise EvaluationError(f"ipRangeContains(): {error}") from None
    return address.version == network.version and address in network
