"""The events the listing service follows: the procedures other services run on a listing."""

from __future__ import annotations

from uuid import UUID

from services.listing import repository
from services.listing.domain.achievement import Achievement
from shared.context import Tx
from shared.events import Event
from shared.events.auction import AuctionAnnounced, AuctionFailed, DealConcluded
from shared.events.registry import ContractRegistered


async def _apply(tx: Tx, listing_id: UUID | None, change) -> None:
    """Lock the listing, apply ``change``; a listing unknown here is someone else's."""
    if listing_id is None:
        return
    a = await repository.lock_achievement(tx.conn, listing_id)
    if a is None:
        return
    result = change(a, tx.now())
    if result is None:
        return  # already in that state: a redelivered or reordered event
    updated, event = result
    await repository.save_achievement(tx.conn, updated)
    tx.publish(event)


async def on_announced(tx: Tx, e: AuctionAnnounced) -> None:
    await _apply(tx, e.listing_id, lambda a, now: Achievement.enter_transaction(
        a, procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_failed(tx: Tx, e: AuctionFailed) -> None:
    await _apply(tx, e.listing_id, lambda a, now: a.return_from_transaction(
        procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_deal(tx: Tx, e: DealConcluded) -> None:
    # A negotiated deal may conclude without an announcement having been seen first.
    await _apply(tx, e.listing_id, lambda a, now: None if a.status.value in (
        "in_transaction", "traded") else a.enter_transaction(
            procedure_id=str(e.procedure_id), cause=e.ce_type(), now=now))


async def on_registered(tx: Tx, e: ContractRegistered) -> None:
    await _apply(tx, e.listing_id, lambda a, now: a.trade(
        procedure_id=str(e.deal_id or e.contract_id), cause=e.ce_type(), now=now))


HANDLERS: dict[type[Event], object] = {
    AuctionAnnounced: on_announced,
    AuctionFailed: on_failed,
    DealConcluded: on_deal,
    ContractRegistered: on_registered,
}
