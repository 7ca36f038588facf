"""SQL of the known listings (the read model the listing service's events keep)."""

from __future__ import annotations

import asyncpg

from shared.events.listing import ListingCreated


async def record_listing(conn: asyncpg.Connection, event: ListingCreated) -> None:
    await conn.execute(
        "INSERT INTO listings (listing_id, title, region, seller_id, created_at)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (listing_id) DO UPDATE SET events_applied = listings.events_applied + 1",
        event.listing_id, event.listing.title, event.region, event.seller_id, event.occurred_at,
    )

