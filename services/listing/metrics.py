"""The listing service's own metrics and the job that keeps the listings gauge current."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.listing.store import achievements
from shared.service import Runtime

LISTINGS = Gauge("techex_listing_listings", "Listings by status and province",
                 ["status", "province"])
COMMANDS = Counter("techex_listing_commands_total",
                   "Listing commands accepted (submissions, reviews, …) by province",
                   ["command", "province"])
EXPIRED = Counter("techex_listing_expired_total",
                  "Listings expired at the end of their period (the listing-expiry deadline)")

SEARCH_SECONDS = Histogram(
    "techex_listing_search_seconds", "Time to answer a search or matching request",
    ["kind"], buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def count_command(name: str, region: str) -> None:
    """Count an accepted (committed) command in the province of the region it touched."""
    COMMANDS.labels(name, region[:2] + "0000").inc()


async def refresh_gauges(runtime: Runtime) -> None:
    for row in await achievements.count_by_status_and_province(runtime.pool):
        LISTINGS.labels(row["status"], row["province"]).set(row["n"])

NOTIFICATIONS = Counter("techex_listing_notifications_total",
                        "Notifications made, by kind", ["kind"])
WEBHOOKS = Counter("techex_listing_webhook_deliveries_total",
                   "Webhook delivery attempts by outcome: delivered, failed (one attempt), "
                   "dead (given up after the last attempt)", ["outcome"])
