"""The events the auction service reacts to: listings becoming auctionable, and deposits."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from services.auction import repository, store, trade_routes
from shared.envelope import Envelope
from shared.events.auction import BidderQualified
from shared.events.listing import (
    ListingCreated,
    ListingExpired,
    ListingPublished,
    ListingWithdrawn,
)
from shared.events.procedures import DepositConfirmed
from shared.outbox import OutboxWriter

_OUTBOX = OutboxWriter("auction")


async def on_listing_created(conn: asyncpg.Connection, event: ListingCreated,
                             envelope: Envelope) -> None:
    await repository.record_listing(conn, event)


async def on_listing_published(conn: asyncpg.Connection, event: ListingPublished,
                               envelope: Envelope) -> None:
    await repository.listing_published(conn, event)


async def on_listing_gone(conn: asyncpg.Connection, event: ListingWithdrawn | ListingExpired,
                          envelope: Envelope) -> None:
    await repository.listing_status(conn, event.listing_id, event.name)


async def on_deposit_confirmed(conn: asyncpg.Connection, event: DepositConfirmed,
                               envelope: Envelope) -> None:
    """The bidder qualifies. The auction's writer learns it from the row when the bidder
    first bids (see engine), so this works in whichever process consumes the event. A deposit
    for a listing trade qualifies its buyer there (see trade_routes.qualify_by_deposit)."""
    exists = await conn.fetchval("SELECT region FROM auctions WHERE id = $1",
                                 event.procedure_id)
    if exists is None:
        trade = await trade_routes.qualify_by_deposit(conn, event)
        if trade is not None:
            region, events = trade
            await _OUTBOX.add(conn, events, region=region)
        return  # otherwise a deposit for another kind of procedure
    first = await store.confirm_deposit(conn, event.procedure_id, event.bidder_id,
                                        event.confirmed_at)
    if first:
        await _OUTBOX.add(conn, [BidderQualified(
            procedure_id=event.procedure_id, region=exists, occurred_at=datetime.now(UTC),
            actor="settlement", bidder_id=event.bidder_id)], region=exists)


HANDLERS = {
    ListingCreated: on_listing_created,
    ListingPublished: on_listing_published,
    ListingWithdrawn: on_listing_gone,
    ListingExpired: on_listing_gone,
    DepositConfirmed: on_deposit_confirmed,
}
