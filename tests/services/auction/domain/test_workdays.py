"""Working days of the official calendar, on the real 2025 and 2026 holiday schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auction.domain.errors import CalendarNotCovered
from services.auction.domain.workdays import (
    CALENDAR_YEARS,
    add_working_days,
    end_of_day,
    is_working_day,
    local_date,
    working_period_end,
)


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 1, 1), False),   # New Year's Day (Thursday)
    (date(2026, 1, 2), False),   # New Year bridge (Friday)
    (date(2026, 1, 4), True),    # Sunday, worked to make up for 2 January
    (date(2026, 2, 13), True),   # Friday before the Spring Festival
    (date(2026, 2, 14), True),   # Saturday, adjusted working day
    (date(2026, 2, 15), False),  # Spring Festival holiday 15–23 February …
    (date(2026, 2, 17), False),  # … 春节 (初一) …
    (date(2026, 2, 23), False),  # … to Monday 23 February
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),   # Saturday, adjusted working day
    (date(2026, 5, 9), True),    # Saturday after Labour Day, worked
    (date(2026, 9, 20), True),   # Sunday before National Day, worked
    (date(2026, 10, 7), False),  # National Day holiday 1–7 October
    (date(2026, 10, 10), True),  # Saturday after National Day, worked
    (date(2025, 1, 26), True),   # Sunday before the 2025 Spring Festival, worked
    (date(2025, 2, 4), False),   # 2025 Spring Festival holiday 28 January – 4 February
    (date(2025, 9, 28), True),   # Sunday before the 2025 National Day, worked
    (date(2025, 10, 8), False),  # 2025 National Day + Mid-Autumn 1–8 October
    (date(2025, 10, 11), True),  # Saturday, worked
    (date(2025, 10, 12), False),  # an ordinary Sunday
])
def test_official_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(("start", "n", "expected"), [
    (date(2026, 2, 12), 1, date(2026, 2, 13)),
    (date(2026, 2, 13), 1, date(2026, 2, 14)),   # the adjusted Saturday counts
    (date(2026, 2, 14), 1, date(2026, 2, 24)),   # the whole Spring Festival is skipped
    (date(2026, 2, 13), 5, date(2026, 2, 27)),
    (date(2026, 2, 13), 6, date(2026, 2, 28)),   # … and so does the second adjusted Saturday
    (date(2026, 1, 30), 20, date(2026, 3, 5)),   # a 20-day listing period across the festival
    (date(2026, 9, 30), 1, date(2026, 10, 8)),   # National Day
    (date(2026, 10, 9), 1, date(2026, 10, 10)),
    (date(2025, 9, 30), 1, date(2025, 10, 9)),
    (date(2025, 9, 26), 1, date(2025, 9, 28)),   # Sunday, worked
    (date(2026, 2, 15), 0, date(2026, 2, 15)),   # zero days: the start itself
])
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert add_working_days(start, n) == expected


# Starts late enough in 2026 run past the known calendar (2027 is not published in the package).
@given(start=st.dates(date(2025, 1, 1), date(2026, 11, 20)), n=st.integers(0, 25))
def test_the_result_is_the_nth_working_day_after_the_start(start: date, n: int) -> None:
    end = add_working_days(start, n)
    between = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(map(is_working_day, between)) == n
    assert n == 0 or is_working_day(end)


def test_days_and_ends_of_days_are_shanghai_ones() -> None:
    assert local_date(datetime(2026, 2, 13, 15, 59, tzinfo=UTC)) == date(2026, 2, 13)
    assert local_date(datetime(2026, 2, 13, 16, 0, tzinfo=UTC)) == date(2026, 2, 14)
    assert end_of_day(date(2026, 2, 13)) == datetime(2026, 2, 13, 16, 0, tzinfo=UTC)
    # Announced late on a Friday evening in Shanghai (already Saturday 14 February there).
    late_friday = datetime(2026, 2, 13, 16, 30, tzinfo=UTC)
    assert working_period_end(late_friday, 1) == end_of_day(date(2026, 2, 24))
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2026, 2, 13, 12, 0))


def test_years_without_published_data_raise_instead_of_guessing() -> None:
    assert CALENDAR_YEARS.start <= 2025 and CALENDAR_YEARS.stop > 2026
    first_unknown = date(CALENDAR_YEARS.stop, 1, 5)
    with pytest.raises(CalendarNotCovered) as e:
        is_working_day(first_unknown)
    assert e.value.status == 422 and str(CALENDAR_YEARS.stop) in (e.value.detail or "")
    with pytest.raises(CalendarNotCovered):
        add_working_days(date(CALENDAR_YEARS.stop - 1, 12, 28), 5)  # runs into the next year
    with pytest.raises(CalendarNotCovered):
        is_working_day(date(CALENDAR_YEARS.start - 1, 6, 1))
    with pytest.raises(ValueError):
        add_working_days(date(2026, 3, 2), -1)


@pytest.fixture
def next_year():
    """The first year the package does not know, published here for one test."""
    from services.auction.domain import workdays

    saved = dict(workdays._published)
    yield CALENDAR_YEARS.stop
    workdays._published.clear()
    workdays._published.update(saved)


def _first(year: int, month: int, wanted) -> date:
    return next(d for d in (date(year, month, n) for n in range(1, 8)) if wanted(d))


def test_a_year_published_from_the_notice_extends_the_calendar(next_year) -> None:
    from services.auction.domain.workdays import covered_years, publish_year

    new_year = date(next_year, 1, 1)
    saturday = _first(next_year, 2, lambda d: d.weekday() == 5)
    weekday = _first(next_year, 3, lambda d: d.weekday() < 5)
    publish_year(next_year, holidays=[new_year, weekday], workdays=[saturday])
    assert next_year in covered_years()
    assert is_working_day(saturday) is True          # an adjusted working weekend
    assert is_working_day(weekday) is False          # a holiday on a weekday
    assert is_working_day(saturday + timedelta(days=1)) is False  # an ordinary Sunday
    # A period announced at the end of the known year now runs into the published one.
    end = add_working_days(date(next_year - 1, 12, 28), 5)
    assert end.year == next_year and is_working_day(end)
    with pytest.raises(CalendarNotCovered):
        is_working_day(date(next_year + 1, 3, 1))


def test_a_notice_is_checked_before_it_is_published(next_year) -> None:
    from services.auction.domain.workdays import covered_years, publish_year

    sunday = _first(next_year, 2, lambda d: d.weekday() == 6)
    monday = sunday + timedelta(days=1)
    for holidays, workdays in (([date(next_year + 1, 1, 1)], []),  # another year's day
                               ([sunday], [sunday]),                # both at once
                               ([], [monday])):                     # a weekday "worked instead"
        with pytest.raises(ValueError):
            publish_year(next_year, holidays, workdays)
    assert next_year not in covered_years()
