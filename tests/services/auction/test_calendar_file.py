"""AUCTION_CALENDAR_FILE: the State Council's notice of a year the package does not know yet."""

from __future__ import annotations

import json
from datetime import date

import pytest

from services.auction.config import CalendarFileError, load_calendar_file
from services.auction.domain import workdays


@pytest.fixture
def year():
    saved = dict(workdays._published)
    yield workdays.CALENDAR_YEARS.stop
    workdays._published.clear()
    workdays._published.update(saved)


def test_the_file_publishes_its_years(tmp_path, year):
    path = tmp_path / "calendar.json"
    saturday = next(date(year, 2, d) for d in range(1, 8) if date(year, 2, d).weekday() == 5)
    path.write_text(json.dumps({str(year): {"holidays": [f"{year}-01-01"],
                                            "workdays": [saturday.isoformat()]}}))
    assert load_calendar_file(path) == [year]
    assert workdays.is_working_day(saturday)
    assert not workdays.is_working_day(date(year, 1, 1))


@pytest.mark.parametrize("content", [
    "not json", "[]", '{"2027": {"holidays": ["2027-13-01"], "workdays": []}}',
    '{"2027": {"holidays": []}}', '{"x": {"holidays": [], "workdays": []}}',
    '{"2027": {"holidays": ["2028-01-01"], "workdays": []}}',
])
def test_a_malformed_file_is_refused_whole(tmp_path, year, content):
    path = tmp_path / "calendar.json"
    path.write_text(content)
    with pytest.raises(CalendarFileError, match=r"calendar\.json"):
        load_calendar_file(path)
    assert workdays.covered_years() == list(workdays.CALENDAR_YEARS)
