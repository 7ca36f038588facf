"""Working days of the official Chinese calendar (法定节假日 and adjusted working weekends 调休).

Business days are Asia/Shanghai days. A period of *n* working days that starts on day *d* does
not count *d* itself (民法典 art. 201: the starting day is not counted) and ends when its last
working day ends, i.e. at the following midnight in Shanghai. Deadlines are returned as UTC
instants and are exclusive: an action at that instant is already too late.

The calendar comes from the ``chinesecalendar`` package, which only knows the years the State
Council has published (each autumn for the next year). A year it does not know yet can be added
from the State Council's notice with :func:`publish_year` (the auction service reads such years
from its ``AUCTION_CALENDAR_FILE``). Outside the known years :class:`CalendarNotCovered` is
raised rather than guessing from weekdays.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    "covered_years",
    "end_of_day",
    "is_working_day",
    "local_date",
    "publish_year",
    "working_period_end",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
CALENDAR_YEARS: Final = range(
    min(_published_holidays).year, max(_published_holidays).year + 1)
"""The years whose official calendar the installed ``chinesecalendar`` knows."""

_DAY: Final = timedelta(days=1)

_published: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
"""Years added by :func:`publish_year`: (holidays, adjusted working weekend days)."""


def publish_year(year: int, holidays: Iterable[date], workdays: Iterable[date]) -> None:
    """Add (or replace) a year's official calendar as the State Council's notice gives it: the
    public-holiday days off (weekdays among them) and the weekend days worked instead (调休)."""
    days = frozenset(holidays), frozenset(workdays)
    stray = sorted(d.isoformat() for d in days[0] | days[1] if d.year != year)
    if stray:
        raise ValueError(f"days outside {year}: {', '.join(stray)}")
    if days[0] & days[1]:
        raise ValueError("a day cannot be both a holiday and a working day")
    if any(d.weekday() < 5 for d in days[1]):
        raise ValueError("adjusted working days are weekend days")
    _published[year] = days


def covered_years() -> list[int]:
    """Every year whose official calendar is known here."""
    return sorted(set(CALENDAR_YEARS) | set(_published))


def is_working_day(day: date) -> bool:
    """Whether ``day`` is an official working day (adjusted weekends count, holidays do not)."""
    if day.year in _published:
        holidays, workdays = _published[day.year]
        return day in workdays or (day.weekday() < 5 and day not in holidays)
    if day.year not in CALENDAR_YEARS:
        years = covered_years()
        raise CalendarNotCovered(
            f"The official working-day calendar is known for {years[0]}–{years[-1]} only, not "
            f"for {day.isoformat()}; add that year (AUCTION_CALENDAR_FILE) or upgrade the "
            "chinesecalendar package once the State Council has published it.",
            day=day.isoformat(), covered=[years[0], years[-1]])
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
