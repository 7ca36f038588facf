"""Builders shared by the pricing-route tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.auction.domain.auction import Auction, AuctionRules, AuctionTerms

LISTING = uuid.UUID("3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06")
SELLER = "hit-university"
REGION = "230102"
ANNOUNCED = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
STARTS = ANNOUNCED + timedelta(days=7)
ENDS = STARTS + timedelta(hours=24)
START_PRICE = 1_000_000
INCREMENT = 50_000


def terms(**overrides: Any) -> AuctionTerms:
    fields: dict[str, Any] = {
        "start_price_fen": START_PRICE, "increment_fen": INCREMENT,
        "deposit_ratio": Decimal("0.10"), "announce_at": ANNOUNCED, "starts_at": STARTS,
        "ends_at": ENDS,
    }
    return AuctionTerms(**(fields | overrides))


def announced(**overrides: Any) -> Auction:
    auction, _ = Auction.announce(terms(**overrides), listing_id=LISTING, seller_id=SELLER,
                                  region=REGION)
    return auction


def with_bidders(auction: Auction, *bidders: str, qualify: bool = True) -> Auction:
    at = auction.terms.announce_at
    for bidder in bidders:
        auction, _ = auction.register(bidder, at)
        if qualify:
            result = auction.qualify(bidder, at)
            assert result is not None
            auction = result[0]
    return auction


def short_rules() -> AuctionRules:
    """Rules for property tests: a 30-minute auction the next day."""
    return AuctionRules(min_notice_days=0, min_duration=timedelta(minutes=30))
