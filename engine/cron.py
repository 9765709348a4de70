"""Cron expressions as ``schedule`` reads them: five fields, or six with the seconds field first.

Five fields are classic cron (minute hour day-of-month month day-of-week). The six-field form puts the
seconds first, as Quartz, Spring and node-cron do (``*/30 * * * * *``: every 30 seconds); croniter's
own default would read a sixth field as seconds *last*, turning that example into "every second of
minutes 0 and 30". An expression that never fires (``0 0 30 2 *``: 30 February) is refused up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from croniter import CroniterBadDateError, croniter

FIELD_COUNTS = (5, 6)
NAMES = "minute hour day-of-month month day-of-week, optionally preceded by a seconds field"


@dataclass(frozen=True)
class CronSchedule:
    expression: str

    @classmethod
    def parse(cls, expression: str, now: datetime) -> CronSchedule:
        """The schedule of ``expression``; ValueError (a user's message) when it is malformed or never fires."""
        fields = expression.split()
        macro = len(fields) == 1 and expression.strip().startswith("@")
        if not macro and len(fields) not in FIELD_COUNTS:
            raise ValueError(f"a cron expression has five or six fields ({NAMES}); this one has {len(fields)}")
        if not croniter.is_valid(expression, second_at_beginning=True):
            raise ValueError(f"not a cron expression (five fields: {NAMES})")
        schedule = cls(expression)
        try:
            schedule.next_after(now)
        except CroniterBadDateError:
            raise ValueError("this cron expression never fires (no such date, e.g. 30 February)") from None
        return schedule

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``."""
        return croniter(self.expression, moment, second_at_beginning=True).get_next(datetime)
