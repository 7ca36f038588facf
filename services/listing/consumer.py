"""The events the listing service follows: the procedures other services run on a listing,
what its accounts are told of (interest matches, watched listings, bids, objections), and the
partners' public catalog."""

from __future__ import annotations

from services.listing import handlers
from shared.consumer import Handler
from shared.events import Event
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionExtended,
    AuctionFailed,
    AuctionTermsPublished,
    BidAccepted,
    DealConcluded,
    ListingBiddingStarted,
    ObjectionFiled,
    ObjectionResolved,
)
from shared.events.listing import ListingInterestMatched
from shared.events.public.catalog import (
    CatalogListingInTransaction,
    CatalogListingPublished,
    CatalogListingTraded,
    CatalogListingWithdrawn,
)
from shared.events.registry import ContractRegistered

HANDLERS: dict[type[Event], Handler] = {
    AuctionAnnounced: handlers.on_announced,
    AuctionFailed: handlers.on_failed,
    DealConcluded: handlers.on_deal,
    ContractRegistered: handlers.on_registered,
    ListingInterestMatched: handlers.on_interest_matched,
    AuctionTermsPublished: handlers.on_terms_published,
    ListingBiddingStarted: handlers.on_bidding_started,
    AuctionExtended: handlers.on_extended,
    BidAccepted: handlers.on_bid_accepted,
    AuctionClosed: handlers.on_closed,
    ObjectionFiled: handlers.on_objection_filed,
    ObjectionResolved: handlers.on_objection_resolved,
    # Partners' public catalog (their mirrored <alias>.techex.public.catalog).
    CatalogListingPublished: handlers.on_partner_published,
    CatalogListingInTransaction: handlers.on_partner_status,
    CatalogListingWithdrawn: handlers.on_partner_status,
    CatalogListingTraded: handlers.on_partner_status,
}
