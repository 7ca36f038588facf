"""The events the settlement service reacts to and their handlers (in ``handlers.py``):
listings it may settle, registrations (what deposits are owed), deals (open a settlement) and
failed procedures (release the deposits)."""

from __future__ import annotations

from collections.abc import Mapping

from services.settlement import handlers
from services.settlement.domain.books import Books
from shared import known_listings
from shared.consumer import Handler
from shared.events import Event
from shared.events.auction import AuctionFailed, BidderRegistered, DealConcluded
from shared.events.listing import ListingCreated


def table(books: Books) -> Mapping[type[Event], Handler]:
    """The event -> handler table; opening a deal needs the service's books."""
    return {
        ListingCreated: known_listings.on_listing_created,
        BidderRegistered: handlers.on_bidder_registered,
        DealConcluded: lambda tx, event: handlers.on_deal_concluded(tx, event, books),
        AuctionFailed: handlers.on_auction_failed,
    }
