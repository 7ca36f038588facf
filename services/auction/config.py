"""The auction service's settings (``AUCTION_*``), and the working-day calendar file they may name.

Official working-day calendars of years the ``chinesecalendar`` package does not know yet are
read from the file named by ``AUCTION_CALENDAR_FILE``. The State Council publishes next year's
holiday arrangement (节假日安排) each autumn; until the package catches up, an operator copies
it into a JSON file so that listing trades whose periods run into that year can be announced
and extended::

    {"2027": {"holidays": ["2027-01-01", "..."], "workdays": ["2027-02-07", "..."]}}

``holidays`` are the days off of public holidays, ``workdays`` the weekend days worked instead.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.auction.domain.workdays import publish_year
from shared.settings import ServiceSettings


class AuctionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUCTION_", extra="ignore")

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_auction"
    port: int = 8002
    lease_seconds: float = 10.0
    """How long a process owns an auction without renewing; a takeover waits this long."""
    max_batch: int = 1024
    """Most commands of one auction applied and written as one batch."""
    idle_seconds: float = 60.0
    """How long an auction's writer stays in memory without a command; evicted, it gives its
    lease back and is rebuilt from the rows on the next command."""
    commit_lanes: int = 2
    """Group-commit transactions open at once (each writes the batches of many auctions)."""
    calendar_file: Path | None = None
    """Official working-day calendars of years the chinesecalendar package does not know yet
    (see :func:`load_calendar_file`)."""
    advertised_url: str | None = None
    """Where the other auction-service processes reach this one, e.g. ``http://10.0.3.7:8002``
    (in Kubernetes, the pod's IP). A request for an auction that another process writes is
    forwarded to that process's URL. Unset: ``http://<host>:<port>`` when ``host`` is a
    concrete address; empty: never forward (answer 409 auction-owned-elsewhere)."""

    def own_url(self) -> str | None:
        if self.advertised_url is not None:
            return self.advertised_url.rstrip("/") or None
        if self.host in ("0.0.0.0", "::", ""):
            return None
        return f"http://{self.host}:{self.port}"


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
