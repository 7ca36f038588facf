"""The events the settlement service reacts to: registrations (what deposits are owed), deals
(open a settlement) and failed procedures (release the deposits)."""

from __future__ import annotations

from collections.abc import Mapping

from services.settlement import repository, settling, store
from services.settlement.books import Books
from shared.consumer import Handler
from shared.context import Tx
from shared.events.auction import AuctionFailed, BidderRegistered, DealConcluded
from shared.events.listing import ListingCreated


async def on_listing_created(tx: Tx, event: ListingCreated) -> None:
    await repository.record_listing(tx.conn, event)


def handlers(books: Books) -> Mapping[type, Handler]:
    """The handlers, bound to the service's policies and clock."""

    async def on_bidder_registered(tx: Tx, event: BidderRegistered) -> None:
        await store.record_registration(tx.conn, event)

    async def on_deal_concluded(tx: Tx, event: DealConcluded) -> None:
        out = await settling.open_deal(tx.conn, books, event)
        tx.publish(*out.events)
        out.count()

    async def on_auction_failed(tx: Tx, event: AuctionFailed) -> None:
        out = await settling.release_deposits(tx.conn, books, event.procedure_id,
                                              "procedure-failed")
        tx.publish(*out.events)

    return {
        ListingCreated: on_listing_created,
        BidderRegistered: on_bidder_registered,
        DealConcluded: on_deal_concluded,
        AuctionFailed: on_auction_failed,
    }
