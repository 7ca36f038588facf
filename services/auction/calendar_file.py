"""Official working-day calendars of years the ``chinesecalendar`` package does not know yet,
read from the file named by ``AUCTION_CALENDAR_FILE``.

The State Council publishes next year's holiday arrangement (节假日安排) each autumn; until the
package catches up, an operator copies it into a JSON file so that listing trades whose periods
run into that year can be announced and extended::

    {"2027": {"holidays": ["2027-01-01", "..."], "workdays": ["2027-02-07", "..."]}}

``holidays`` are the days off of public holidays, ``workdays`` the weekend days worked instead.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from services.auction.domain.workdays import publish_year


class CalendarFileError(ValueError):
    pass


def load_calendar_file(path: Path) -> list[int]:
    """Publish every year the file holds; returns them. A malformed file is refused whole."""
    try:
        data = json.loads(path.read_text())
        years = {int(year): ([date.fromisoformat(d) for d in days["holidays"]],
                             [date.fromisoformat(d) for d in days["workdays"]])
                 for year, days in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CalendarFileError(f"{path}: not a working-day calendar file ({exc})") from exc
    for year, (holidays, workdays) in sorted(years.items()):
        try:
            publish_year(year, holidays, workdays)
        except ValueError as exc:
            raise CalendarFileError(f"{path}: {year}: {exc}") from exc
    return sorted(years)
