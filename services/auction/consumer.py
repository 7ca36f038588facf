"""The events the auction service reacts to: listings becoming auctionable, and deposits."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.auction import repository, store, trade_routes
from services.auction.domain import deals
from shared.context import Tx
from shared.events.auction import BidderQualified
from shared.events.listing import (
    ListingCreated,
    ListingExpired,
    ListingPublished,
    ListingWithdrawn,
)
from shared.events.settlement import DealDefaulted, DepositConfirmed


async def on_listing_created(tx: Tx, event: ListingCreated) -> None:
    await repository.record_listing(tx.conn, event)


async def on_listing_published(tx: Tx, event: ListingPublished) -> None:
    await repository.listing_published(tx.conn, event)


async def on_listing_gone(tx: Tx, event: ListingWithdrawn | ListingExpired) -> None:
    await repository.listing_status(tx.conn, event.listing_id, event.name)


async def on_deposit_confirmed(tx: Tx, event: DepositConfirmed) -> None:
    """The bidder qualifies. The auction's writer learns it from the row when the bidder
    first bids (see engine), so this works in whichever process consumes the event. A deposit
    for a listing trade qualifies its buyer there (see trade_routes.qualify_by_deposit)."""
    conn = tx.conn
    exists = await conn.fetchval("SELECT region FROM auctions WHERE id = $1",
                                 event.procedure_id)
    if exists is None:
        trade = await trade_routes.qualify_by_deposit(conn, event)
        if trade is not None:
            _region, events = trade
            tx.publish(*events)
        return  # otherwise a deposit for another kind of procedure
    first = await store.confirm_deposit(conn, event.procedure_id, event.bidder_id,
                                        event.confirmed_at)
    if first:
        tx.publish(BidderQualified(
            procedure_id=event.procedure_id, region=exists, occurred_at=tx.now(),
            actor="settlement", bidder_id=event.bidder_id))


WINNER_DEFAULTED = "winner-defaulted"

# The procedure a defaulted deal came from, whichever route it took: closed (or concluded) →
# failed, once. Auctions and listing trades keep the reason; a re-auction then starts from it.
# An auction's writer may still hold it in memory as closed: the new epoch makes it lose its
# lease at the next renewal, and whoever reads it next loads it from these rows.
_FAIL_DEFAULTED = """
WITH a AS (
    UPDATE auctions SET status = 'failed', failure = $2, closed_at = $3,
                        owner_epoch = owner_epoch + 1  -- fences out a writer holding it closed
    WHERE id = $1 AND status = 'closed' RETURNING listing_id, region),
t AS (
    UPDATE listing_trades SET status = 'failed', failure = $2, closed_at = $3
    WHERE id = $1 AND status = 'closed' RETURNING listing_id, region),
n AS (
    UPDATE notices SET status = 'failed', closed_at = $3
    WHERE id = $1 AND status = 'concluded' RETURNING listing_id, region)
SELECT * FROM a UNION ALL SELECT * FROM t UNION ALL SELECT * FROM n
"""


async def fail_defaulted(conn: asyncpg.Connection, procedure_id, at: datetime
                         ) -> asyncpg.Record | None:
    """Mark the procedure failed because its winner defaulted; None if it already was (or is
    unknown here)."""
    return await conn.fetchrow(_FAIL_DEFAULTED, procedure_id, WINNER_DEFAULTED, at)


async def on_deal_defaulted(tx: Tx, event: DealDefaulted) -> None:
    """The winner did not pay: the procedure ends failed (so the lot can be offered again)
    and ``AuctionFailed`` tells the listing service the listing is no longer in transaction.
    A redelivery finds the procedure failed already and does nothing."""
    row = await fail_defaulted(tx.conn, event.procedure_id, event.defaulted_at)
    if row is None:
        return
    tx.publish(deals.failure_event(
        procedure_id=event.procedure_id, listing_id=row["listing_id"], region=row["region"],
        reason=WINNER_DEFAULTED, at=event.defaulted_at))


HANDLERS = {
    ListingCreated: on_listing_created,
    ListingPublished: on_listing_published,
    ListingWithdrawn: on_listing_gone,
    ListingExpired: on_listing_gone,
    DepositConfirmed: on_deposit_confirmed,
    DealDefaulted: on_deal_defaulted,
}
