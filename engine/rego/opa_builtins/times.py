"""OPA's ``time.parse_rfc3339_ns``: Go's ``time.Parse(time.RFC3339, ...)``, which regorus parses more leniently
(a lower-case ``t`` or ``z``, a space for ``T``): ``YYYY-MM-DDThh:mm:ss``, an optional fraction of a second after
``.`` or ``,`` (digits past the ninth dropped), then ``Z`` or ``+hh:mm`` / ``-hh:mm``; each field in its range (Go's: an offset up to 24:60)."""

from __future__ import annotations

import calendar
import re
from typing import Any

from engine.rego.opa_builtins import BuiltinError, builtin, operand

_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
                      r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))")
_NANOSECONDS = 1_000_000_000


@builtin("time.parse_rfc3339_ns", 1)
def parse_rfc3339_ns(text: Any) -> int:
    text = operand("time.parse_rfc3339_ns", 1, text, str)
    found = _RFC3339.fullmatch(text)
    if found is None:
        raise BuiltinError(f'time.parse_rfc3339_ns: parsing time "{text}" as "2006-01-02T15:04:05Z07:00": '
                           "cannot parse")
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    fraction, utc, sign, zone_hours, zone_minutes = found.groups()[6:]
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year or 2000, month)[1] and hour < 24
            and minute < 60 and second < 60 and (utc or (int(zone_hours) <= 24 and int(zone_minutes) <= 60))):
        raise BuiltinError(f'time.parse_rfc3339_ns: parsing time "{text}": a field out of range')
    offset = 0 if utc else (1 if sign == "+" else -1) * (int(zone_hours) * 3600 + int(zone_minutes) * 60)
    days = _days_from_civil(year, month, day)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    nanoseconds = seconds * _NANOSECONDS + int((fraction or "0")[:9].ljust(9, "0"))
    if not -(2**63) <= nanoseconds < 2**63:
        raise BuiltinError("time.parse_rfc3339_ns: time outside of valid range")
    return nanoseconds


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (year 0 included, as Go counts)."""
    year -= month <= 2
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    of_era_days = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    return era * 146097 + of_era_days - 719468
