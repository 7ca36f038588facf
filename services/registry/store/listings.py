"""What the registry knows of the listings (the ``listings`` read model, from ``ListingCreated``):
the subject a settled deal's draft is pre-filled with."""

from __future__ import annotations

import json
import uuid

import asyncpg

from services.registry.domain.contract import Listed
from shared import known_listings
from shared.events.listing import ListingCreated


async def record_listing(conn: asyncpg.Connection, event: ListingCreated) -> None:
    """The shared known listing with the registry's own columns (what a draft is filled with)."""
    snap = event.listing
    await known_listings.record_listing(
        conn, event, tech_field=snap.field, ip_type=snap.ip_type,
        ip_numbers=list(snap.ip_numbers),
        holders=json.dumps([h.model_dump() for h in snap.holders], ensure_ascii=False))


async def listing_for_draft(conn: asyncpg.Connection, listing_id: uuid.UUID | None
                            ) -> Listed | None:
    if listing_id is None:
        return None
    row = await conn.fetchrow(
        "SELECT title, seller_id, tech_field, ip_type, ip_numbers, holders"
        " FROM listings WHERE listing_id = $1", listing_id)
    if row is None:
        return None
    holders = row["holders"]
    return Listed(title=row["title"], seller_id=row["seller_id"], tech_field=row["tech_field"],
                  ip_type=row["ip_type"], ip_numbers=tuple(row["ip_numbers"]),
                  holders=tuple(json.loads(holders) if isinstance(holders, str) else holders))
