"""Values a deployment generates when it runs: ``utcNow()`` and ``newGuid()``.

ARM allows both only in a parameter's ``defaultValue`` (template-functions-date, "utcNow";
template-functions-string, "newGuid"); offline, the plan picks the value once and records it
(:class:`~remediation.plan.models.GeneratedValue`, per operation) so reviewers see what apply
writes. ``utcNow`` is the expansion's clock; ``newGuid`` is a version-5 UUID of the deployment
name and the call's position, so re-expanding the same deployment (apply re-derives template
secrets that way) names the same resources.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from engine.expressions import EvaluationError
from engine.expressions.arm_hashes import ARM_NAMESPACE
from remediation.plan.models import GeneratedValue

# .NET standard formats ARM accepts for utcNow(), and the custom-format tokens, as strftime.
STANDARD_FORMATS = {None: "%Y%m%dT%H%M%SZ", "u": "%Y-%m-%d %H:%M:%SZ", "s": "%Y-%m-%dT%H:%M:%S",
                    "o": "%Y-%m-%dT%H:%M:%S.%f0Z", "d": "{month}/{day}/%Y"}
CUSTOM_TOKENS = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "hh": "%I", "mm": "%M",
                 "ss": "%S", "fff": "{milliseconds}", "tt": "%p"}
_TOKEN = re.compile("|".join(sorted(CUSTOM_TOKENS, key=len, reverse=True)) + r"|[A-Za-z]")


def strftime_of(format_: str | None) -> str:
    """The strftime pattern of a .NET date format ARM's utcNow() accepts; EvaluationError otherwise."""
    if format_ in STANDARD_FORMATS:
        return STANDARD_FORMATS[format_]
    assert format_ is not None

    def token(match: re.Match[str]) -> str:
        if match.group(0) in CUSTOM_TOKENS:
            return CUSTOM_TOKENS[match.group(0)]
        if match.group(0) in "TZ":
            return match.group(0)
        raise EvaluationError(f"utcNow(): unsupported format '{format_}'")

    return _TOKEN.sub(token, format_.replace("%", "%%"))


@dataclass(slots=True)
class GeneratedValues:
    """What one expansion generated, in order; each entry names the parameter whose default asked."""

    now: datetime
    deployment_name: str
    values: list[GeneratedValue] = field(default_factory=list)

    def utc_now(self, format_: str | None) -> str:
        moment = self.now
        text = moment.strftime(strftime_of(format_)).format(
            month=moment.month, day=moment.day, milliseconds=f"{moment.microsecond // 1000:03d}")
        return self._record("utcNow", text)

    def new_guid(self) -> str:
        return self._record("newGuid", str(uuid.uuid5(ARM_NAMESPACE, f"{self.deployment_name}/newGuid/"
                                                                      f"{len(self.values)}")))

    def _record(self, function: str, value: str) -> str:
        self.values.append(GeneratedValue(function=function, value=value, deployment=self.deployment_name))
        return value

    def name_parameter(self, since: int, parameter: str) -> None:
        """Say which parameter's default generated the values recorded from position ``since`` on."""
        for position in range(since, len(self.values)):
            self.values[position] = self.values[position].model_copy(update={"parameter": parameter})
