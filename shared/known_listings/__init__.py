"""The known-listings read model: a listing as a service learnt it from the listing service's
events, in one module — its table (``MIGRATIONS``, listed in the service's ``ServiceSpec``), its
writer (:func:`record_listing`, and :func:`on_listing_created` for the consumer's table) and its
route (``GET /listings/{id}``, for operators and for tracing an event's arrival).

The auction, settlement and registry services keep it; a service adds columns of its own in its
migrations and passes their values to :func:`record_listing`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from shared.auth import Principal, Role, require
from shared.context import Tx
from shared.events.listing import ListingCreated
from shared.problems import PROBLEM_RESPONSES, not_found

MIGRATIONS = Path(__file__).parent / "migrations"
"""The read model's table; a service that keeps it lists this before its own migrations."""


class KnownListing(BaseModel):
    listing_id: uuid.UUID
    title: str
    region: str
    seller_id: str
    created_at: datetime
    events_applied: int


def known_listings_router(service: str) -> APIRouter:
    router = APIRouter(tags=["listings"], responses=PROBLEM_RESPONSES)

    @router.get("/listings/{listing_id}", response_model=KnownListing)
    async def get_listing(
        listing_id: uuid.UUID,
        request: Request,
        _: Annotated[Principal, Depends(require(*Role))],
    ) -> KnownListing:
        """A listing as this service learnt it from the listing service's events."""
        row = await request.app.state.runtime.pool.fetchrow(
            "SELECT listing_id, title, region, seller_id, created_at, events_applied"
            " FROM listings WHERE listing_id = $1", listing_id)
        if row is None:
            raise not_found(f"No listing {listing_id} has reached the {service} service.")
        return KnownListing(**dict(row))

    return router


async def record_listing(conn: asyncpg.Connection, event: ListingCreated,
                         **columns: Any) -> None:
    """Record the created listing (a redelivery only counts); ``columns`` are the service's
    own columns of the table, written with it."""
    names = ["listing_id", "title", "region", "seller_id", "created_at", *columns]
    values = [event.listing_id, event.listing.title, event.region, event.seller_id,
              event.occurred_at, *columns.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(
        f"INSERT INTO listings ({', '.join(names)}) VALUES ({placeholders})"
        " ON CONFLICT (listing_id) DO UPDATE SET events_applied = listings.events_applied + 1",
        *values)


async def on_listing_created(tx: Tx, event: ListingCreated) -> None:
    """The consumer's handler for a service that keeps only the shared columns."""
    await record_listing(tx.conn, event)
