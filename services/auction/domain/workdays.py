"""Working days of the official Chinese calendar (法定节假日 and adjusted working weekends 调休).

Business days are Asia/Shanghai days. A period of *n* working days that starts on day *d* does
not count *d* itself (民法典 art. 201: the starting day is not counted) and ends when its last
working day ends, i.e. at the following midnight in Shanghai. Deadlines are returned as UTC
instants and are exclusive: an action at that instant is already too late.

The calendar comes from the ``chinesecalendar`` package, which only knows the years the State
Council has published (each autumn for the next year). Outside them :class:`CalendarNotCovered`
is raised rather than guessing from weekdays; upgrade the package when a new year is published.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar.constants import holidays as _published_holidays

from services.auction.domain.errors import CalendarNotCovered

__all__ = [
    "CALENDAR_YEARS",
    "SHANGHAI",
    "add_working_days",
    "end_of_day",
    "is_working_day",
    "local_date",
    "working_period_end",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
CALENDAR_YEARS: Final = range(
    min(_published_holidays).year, max(_published_holidays).year + 1)
"""The years whose official calendar the installed ``chinesecalendar`` knows."""

_DAY: Final = timedelta(days=1)


def is_working_day(day: date) -> bool:
    """Whether ``day`` is an official working day (adjusted weekends count, holidays do not)."""
    if day.year not in CALENDAR_YEARS:
        raise CalendarNotCovered(
            f"The official working-day calendar is known for {CALENDAR_YEARS.start}–"
            f"{CALENDAR_YEARS.stop - 1} only, not for {day.isoformat()}; upgrade the "
            "chinesecalendar package once the State Council has published that year.",
            day=day.isoformat(), covered=[CALENDAR_YEARS.start, CALENDAR_YEARS.stop - 1])
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted); ``start`` if 0."""
    if n < 0:
        raise ValueError("the number of working days must not be negative")
    day = start
    while n:
        day += _DAY
        if is_working_day(day):
            n -= 1
    return day


def local_date(at: datetime) -> date:
    """The Shanghai calendar day of an aware instant."""
    if at.tzinfo is None:
        raise ValueError("a business time must be timezone-aware")
    return at.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """The UTC instant at which ``day`` ends in Shanghai (the next local midnight)."""
    return datetime.combine(day + _DAY, time(), SHANGHAI).astimezone(UTC)


def working_period_end(start: datetime, n: int) -> datetime:
    """When a period of ``n`` working days announced at ``start`` ends (exclusive, UTC)."""
    return end_of_day(add_working_days(local_date(start), n))
