"""Reactions to the settlement service's events, for whichever procedure they concern."""

from __future__ import annotations

from services.auction.domain import deals
from services.auction.handlers.trades import qualify_by_deposit
from services.auction.store import auctions, procedures
from shared.context import Tx
from shared.events.auction import BidderQualified
from shared.events.settlement import DealDefaulted, DepositConfirmed

WINNER_DEFAULTED = "winner-defaulted"


async def on_deposit_confirmed(tx: Tx, event: DepositConfirmed) -> None:
    """The bidder qualifies. The auction's writer learns it from the row when the bidder
    first bids (see the engine), so this works in whichever process consumes the event. A
    deposit for a listing trade qualifies its buyer there (:func:`qualify_by_deposit`)."""
    region = await auctions.region(tx.conn, event.procedure_id)
    if region is None:
        await qualify_by_deposit(tx, event)
        return  # a listing trade, or a deposit for another kind of procedure
    first = await auctions.confirm_deposit(tx.conn, event.procedure_id, event.bidder_id,
                                           event.confirmed_at)
    if first:
        tx.publish(BidderQualified(
            procedure_id=event.procedure_id, region=region, occurred_at=tx.now(),
            actor="settlement", bidder_id=event.bidder_id))


async def on_deal_defaulted(tx: Tx, event: DealDefaulted) -> None:
    """The winner did not pay: the procedure ends failed (so the lot can be offered again)
    and ``AuctionFailed`` tells the listing service the listing is no longer in transaction.
    A redelivery finds the procedure failed already and does nothing."""
    row = await procedures.fail_defaulted(tx.conn, event.procedure_id, WINNER_DEFAULTED,
                                          event.defaulted_at)
    if row is None:
        return
    tx.publish(deals.failure_event(
        procedure_id=event.procedure_id, listing_id=row["listing_id"], region=row["region"],
        reason=WINNER_DEFAULTED, at=event.defaulted_at))
