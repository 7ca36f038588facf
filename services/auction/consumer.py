"""The events the auction service reacts to: listings becoming auctionable, and deposits."""

from __future__ import annotations

from services.auction import handlers
from shared.events.listing import (
    ListingCreated,
    ListingExpired,
    ListingPublished,
    ListingWithdrawn,
)
from shared.events.settlement import DealDefaulted, DepositConfirmed

HANDLERS = {
    ListingCreated: handlers.on_listing_created,
    ListingPublished: handlers.on_listing_published,
    ListingWithdrawn: handlers.on_listing_gone,
    ListingExpired: handlers.on_listing_gone,
    DepositConfirmed: handlers.on_deposit_confirmed,
    DealDefaulted: handlers.on_deal_defaulted,
}
