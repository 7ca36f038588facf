"""The listing service's own metrics and the jobs that keep them (and expiries) current."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter, Gauge

from services.listing import handlers, repository
from shared.service import Runtime

log = logging.getLogger(__name__)

LISTINGS = Gauge("techex_listing_listings", "Listings by status and province",
                 ["status", "province"])
COMMANDS = Counter("techex_listing_commands_total",
                   "Listing commands accepted (submissions, reviews, …) by province",
                   ["command", "province"])
EXPIRED = Counter("techex_listing_expired_total", "Listings expired by the sweep")


async def refresh_gauges(runtime: Runtime) -> None:
    while True:
        try:
            seen = set()
            for row in await repository.count_by_status_and_province(runtime.pool):
                LISTINGS.labels(row["status"], row["province"]).set(row["n"])
                seen.add((row["status"], row["province"]))
        except Exception:
            log.exception("refreshing listing gauges failed")
        await asyncio.sleep(runtime.settings.gauge_refresh_seconds)


async def sweep_expired(runtime: Runtime) -> None:
    """Expire published listings whose period has ended (deadline in the database)."""
    while True:
        try:
            n = await handlers.expire_due(runtime.pool, runtime.outbox, runtime.clock.now())
            EXPIRED.inc(n)
        except Exception:
            log.exception("expiry sweep failed")
        await asyncio.sleep(runtime.settings.expiry_sweep_seconds)
