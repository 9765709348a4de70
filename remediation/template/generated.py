"""Values a deployment generates when it runs: ``utcNow()`` and ``newGuid()``.

ARM allows both only in a parameter's ``defaultValue`` (template-functions-date, "utcNow";
template-functions-string, "newGuid"); offline, the plan picks the value once and records it
(:class:`~remediation.plan.models.GeneratedValue`, per operation) so reviewers see what apply
writes. ``utcNow`` is the expansion's clock; ``newGuid`` is a version-5 UUID of the deployment
name and the call's position, so re-expanding the same deployment (apply re-derives template
secrets that way) names the same resources.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.expressions.arm_hashes import ARM_NAMESPACE
from engine.expressions.dotnet import format_datetime
from remediation.plan.models import GeneratedValue

UTC_NOW_DEFAULT = "yyyyMMdd'T'HHmmss'Z'"  # utcNow() without a format (template-functions-date#utcnow)


@dataclass(slots=True)
class GeneratedValues:
    """What one expansion generated, in order; each entry names the parameter whose default asked."""

    now: datetime
    deployment_name: str
    values: list[GeneratedValue] = field(default_factory=list)

    def utc_now(self, format_: str | None) -> str:
        """The expansion's clock in UTC, written with a .NET date and time format (``'u'``, ``'M d'`` ...)."""
        moment = self.now.astimezone(UTC)
        return self._record("utcNow", format_datetime(moment, UTC_NOW_DEFAULT if format_ is None else format_,
                                                      "utcNow"))

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
