"""The events the settlement service reacts to: registrations (what deposits are owed), deals
(open a settlement) and failed procedures (release the deposits)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from services.settlement import repository, settling, store
from services.settlement.books import Books
from shared.consumer import Handler
from shared.envelope import Envelope
from shared.events.auction import BidderRegistered
from shared.events.listing import ListingCreated
from shared.events.procedures import AuctionFailed, DealConcluded
from shared.outbox import OutboxWriter

OUTBOX = OutboxWriter("settlement")


async def on_listing_created(
    conn: asyncpg.Connection, event: ListingCreated, envelope: Envelope
) -> None:
    await repository.record_listing(conn, event)


def handlers(books: Books) -> Mapping[type, Handler]:
    """The handlers, bound to the service's policies and clock."""

    async def on_bidder_registered(conn: asyncpg.Connection, event: BidderRegistered,
                                   envelope: Envelope) -> None:
        await store.record_registration(conn, event)

    async def on_deal_concluded(conn: asyncpg.Connection, event: DealConcluded,
                                envelope: Envelope) -> None:
        out = await settling.open_deal(conn, books, event)
        await OUTBOX.add(conn, out.events, region=event.region)
        out.count()

    async def on_auction_failed(conn: asyncpg.Connection, event: AuctionFailed,
                                envelope: Envelope) -> None:
        out = await settling.release_deposits(conn, books, event.procedure_id,
                                              "procedure-failed")
        await OUTBOX.add(conn, out.events, region=event.region)

    return {
        ListingCreated: on_listing_created,
        BidderRegistered: on_bidder_registered,
        DealConcluded: on_deal_concluded,
        AuctionFailed: on_auction_failed,
    }
