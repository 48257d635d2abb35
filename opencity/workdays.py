"""Working days in Ukraine: weekends and public holidays (the `holidays` package) excluded."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=32)
def _ukrainian_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.Ukraine(years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _ukrainian_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (the start day itself is not counted).

    add_working_days(Friday, 1) is the next Monday unless that Monday is a holiday.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day
