"""The two ways every procedure ends: a deal, or a failure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from shared.events.auction import AuctionClosed, AuctionFailed, DealConcluded

__all__ = ["deal_events", "deal_id_for", "failure_event"]

Route = Literal["auction", "listing", "negotiated"]


def deal_id_for(procedure_id: uuid.UUID) -> uuid.UUID:
    """The deal's id, derived from the procedure's so that replaying a close yields the same."""
    return uuid.uuid5(procedure_id, "deal")


def deal_events(*, procedure_id: uuid.UUID, listing_id: uuid.UUID, route: Route, region: str,
                seller_id: str, buyer_id: str, price_fen: int, at: datetime,
                accepted_bids: int = 0, reserve_fen: int | None = None
                ) -> tuple[AuctionClosed, DealConcluded]:
    """The procedure's own record of the close, then the contract settlement and registry read."""
    deal_id = deal_id_for(procedure_id)
    closed = AuctionClosed(
        procedure_id=procedure_id, region=region, occurred_at=at, actor="auction",
        listing_id=listing_id, route=route, deal_id=deal_id, winner_id=buyer_id,
        hammer_price_fen=price_fen, reserve_fen=reserve_fen, accepted_bids=accepted_bids)
    deal = DealConcluded(
        deal_id=deal_id, procedure_id=procedure_id, listing_id=listing_id, route=route,
        region=region, seller_id=seller_id, buyer_id=buyer_id, price_fen=price_fen,
        concluded_at=at)
    return closed, deal


def failure_event(*, procedure_id: uuid.UUID, listing_id: uuid.UUID, region: str, reason: str,
                  at: datetime) -> AuctionFailed:
    return AuctionFailed(procedure_id=procedure_id, listing_id=listing_id, region=region,
                         reason=reason, failed_at=at)
