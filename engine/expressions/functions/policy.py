"""Azure Policy's own functions that read no evaluation context, and the template functions policy
rules do not have (policy/concepts/definition-structure-policy-rule, "Policy functions").

"All Resource Manager template functions are available to use within a policy rule, except the
following functions and user-defined functions": those are refused here with that sentence, so a
rule using one fails when compiled, naming why, except the three date functions the list names
(``dateTimeAdd``, ``dateTimeFromEpoch``, ``dateTimeToEpoch``: see :mod:`.dates`). ``addDays`` and ``ipRangeContains`` are "only
available in policy rules"; the policy stage adds the context functions (``field``, ``current``,
``policy``, ``requestContext``, ``utcNow`` ...) on a child of :data:`POLICY_RULE_FUNCTIONS`.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, timedelta

from engine.expressions.dotnet import format_datetime, parse_datetime
from engine.expressions.registry import INTEGER, POLICY_RULE_FUNCTIONS, TEXT, EvaluationError

P = POLICY_RULE_FUNCTIONS
NOT_IN_POLICY_RULES = ("the Azure Policy docs exclude it from policy rules (definition-structure-policy-rule, "
                       "'Policy functions'); it is available in a deployIfNotExists deployment template")
EXCLUDED_TEMPLATE_FUNCTIONS = (
    "copyIndex", "deployment", "environment",
    "extensionResourceId", "lambda", "lambdaVariables", "listAccountSas", "listKeys", "listSecrets",
    "managementGroup", "newGuid", "pickZones", "providers", "reference", "resourceId", "subscriptionResourceId",
    "tenantResourceId", "tenant", "variables",
    # the lambda functions: without lambda() they cannot be called
    "filter", "map", "reduce", "sort", "toObject", "groupBy", "mapValues",
)
for _name in EXCLUDED_TEMPLATE_FUNCTIONS:
    P.refuse(_name, NOT_IN_POLICY_RULES)
P.refuse("list", NOT_IN_POLICY_RULES, family=True)
# Newer than the docs' list of exclusions, and of the kind it excludes (a deliberate difference,
# docs/expressions.md): ids for deployments like resourceId(), a deployment's own resources.
P.refuse("managementGroupResourceId", "like resourceId() and tenantResourceId(), which the Azure Policy docs exclude "
                                      "from policy rules, it builds resource ids for deployments")
P.refuse("references", "it reads the resources of the deployment template it is written in; a policy rule has none")

UNIVERSAL_ISO = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFF'Z'"  # the docs' "yyyy-MM-ddTHH:mm:ss.FFFFFFFZ"


@P.function("addDays", 2, 2, takes=(TEXT, INTEGER))
def _add_days(date_time: str, days: int) -> str:
    """``addDays(dateTime, numberOfDaysToAdd)``: the date and time (universal ISO 8601, ``yyyy-MM-ddTHH:mm:ss.FFFFFFFZ``)
    that many days later (earlier when negative), in the same format."""
    moment = parse_datetime(date_time, "addDays").moment
    try:
        shifted = (moment.astimezone(UTC) if moment.tzinfo else moment) + timedelta(days=days)
    except OverflowError:
        raise EvaluationError("addDays(): the result is outside the dates .NET represents") from None
    return format_datetime(shifted, UNIVERSAL_ISO, "addDays")


IpRange = tuple[int, int, int]  # IP version, first address, last address


def _ip_range(value: str) -> IpRange:
    """A single address, a CIDR range or a ``first-last`` range, as the docs list the supported formats."""
    text = value.strip()
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            return network.version, int(network.network_address), int(network.broadcast_address)
        first, _, last = text.partition("-")
        start = ipaddress.ip_address(first.strip())
        end = ipaddress.ip_address(last.strip()) if last else start
    except ValueError as error:
        raise EvaluationError(f"ipRangeContains(): {error}") from None
    if start.version != end.version:
        raise EvaluationError(f"ipRangeContains(): '{text[:80]}' mixes IPv4 and IPv6")
    if int(start) > int(end):
        raise EvaluationError(f"ipRangeContains(): '{text[:80]}' is an empty range")
    return start.version, int(start), int(end)


@P.function("ipRangeContains", 2, 2, takes=(TEXT,))
def _ip_range_contains(range_: str, target: str) -> bool:
    """Whether ``target`` lies within ``range_``: "Empty ranges, or mixing between IP families isn't allowed
    and results in evaluation failure"."""
    outer, inner = _ip_range(range_), _ip_range(target)
    if outer[0] != inner[0]:
        raise EvaluationError("ipRangeContains(): mixing IPv4 and IPv6 isn't allowed")
    return outer[1] <= inner[1] and inner[2] <= outer[2]
