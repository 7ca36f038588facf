"""SQL of the listings this service knows (its read model of the listing service's events),
and of the procedures running for one of them."""

from __future__ import annotations

import uuid

import asyncpg

from shared.events.listing import ListingPublished


async def listing_published(conn: asyncpg.Connection, event: ListingPublished) -> None:
    """Record a published listing (the listing may have been created before we subscribed)."""
    await conn.execute(
        "INSERT INTO listings (listing_id, title, region, seller_id, created_at, status,"
        " pricing_route, reference_price_fen, field)"
        " VALUES ($1, $2, $3, $4, $5, 'published', $6, $7, $8)"
        " ON CONFLICT (listing_id) DO UPDATE SET status = 'published',"
        " pricing_route = excluded.pricing_route,"
        " reference_price_fen = excluded.reference_price_fen, title = excluded.title,"
        " field = excluded.field, events_applied = listings.events_applied + 1",
        event.listing_id, event.listing.title, event.region, event.seller_id, event.occurred_at,
        event.listing.pricing_route, event.listing.reference_price_fen, event.listing.field,
    )


async def listing_status(conn: asyncpg.Connection, listing_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE listings SET status = $2 WHERE listing_id = $1",
                       listing_id, status)


async def lock(conn: asyncpg.Connection, listing_id: uuid.UUID) -> asyncpg.Record | None:
    """The listing as this service knows it, locked: the lock serialises two announcements of
    one listing (the partial unique indexes on the running procedures are only the backstop)."""
    return await conn.fetchrow(
        "SELECT listing_id, title, region, seller_id, status, pricing_route"
        " FROM listings WHERE listing_id = $1 FOR UPDATE", listing_id)


async def running_procedure(conn: asyncpg.Connection, listing_id: uuid.UUID
                            ) -> asyncpg.Record | None:
    """A procedure of any route still running for the listing (its ``route`` and ``id``)."""
    return await conn.fetchrow(
        "SELECT 'auction' AS route, id FROM auctions"
        "  WHERE listing_id = $1 AND status NOT IN ('closed', 'failed')"
        " UNION ALL SELECT 'listing', id FROM listing_trades"
        "  WHERE listing_id = $1 AND status IN ('announced', 'bidding')"
        " UNION ALL SELECT 'negotiated', id FROM notices"
        "  WHERE listing_id = $1 AND status = 'published'"
        " LIMIT 1", listing_id)
