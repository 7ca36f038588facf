"""The listing service's own metrics and the jobs that keep them (and expiries) current."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.listing import handlers, repository
from shared.service import Runtime

LISTINGS = Gauge("techex_listing_listings", "Listings by status and province",
                 ["status", "province"])
COMMANDS = Counter("techex_listing_commands_total",
                   "Listing commands accepted (submissions, reviews, …) by province",
                   ["command", "province"])
EXPIRED = Counter("techex_listing_expired_total", "Listings expired by the sweep")


async def refresh_gauges(runtime: Runtime) -> None:
    for row in await repository.count_by_status_and_province(runtime.pool):
        LISTINGS.labels(row["status"], row["province"]).set(row["n"])


async def sweep_expired(runtime: Runtime) -> None:
    """Expire published listings whose period has ended (deadline in the database)."""
    EXPIRED.inc(await handlers.expire_due(runtime.pool, runtime.outbox, runtime.clock.now()))
