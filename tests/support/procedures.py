"""Builders for tests of the auction service's pricing procedures over its real database."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.auction import handlers
from services.auction.store import listings
from shared.events import examples_of
from shared.events.listing import ListingPublished
from shared.events.settlement import DepositConfirmed
from tests.support.handlers import deliver

SELLER = examples_of(ListingPublished)[0]["seller_id"]
REGION = examples_of(ListingPublished)[0]["region"]


async def published_listing(url: str, route: str = "auction") -> uuid.UUID:
    """A listing of :data:`SELLER` in :data:`REGION` published for ``route``, as the
    listing service's event records it."""
    example = examples_of(ListingPublished)[0]
    listing_id = uuid.uuid4()
    event = ListingPublished.model_validate(
        example | {"listing_id": str(listing_id),
                   "listing": example["listing"] | {"pricing_route": route}})
    conn = await asyncpg.connect(url)
    try:
        await listings.listing_published(conn, event)
    finally:
        await conn.close()
    return listing_id


async def confirm_deposit(url: str, procedure_id: str | uuid.UUID, bidder: str, at: datetime,
                          amount_fen: int = 100_000) -> None:
    """What the consumer does with the settlement service's DepositConfirmed."""
    await deliver(url, "auction", handlers.on_deposit_confirmed, DepositConfirmed(
        deposit_id=uuid.uuid4(), procedure_id=uuid.UUID(str(procedure_id)),
        bidder_id=bidder, amount_fen=amount_fen, region=REGION, confirmed_at=at))


async def sql(url: str, query: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()
