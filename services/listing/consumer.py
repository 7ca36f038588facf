"""The events the listing service follows: the procedures other services run on a listing."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from services.listing import repository
from services.listing.domain.achievement import Achievement
from shared.envelope import Envelope
from shared.events import Event
from shared.events.procedures import (
    AuctionAnnounced,
    AuctionFailed,
    ContractRegistered,
    DealConcluded,
)
from shared.outbox import OutboxWriter

_OUTBOX = OutboxWriter("listing")


async def _apply(conn: asyncpg.Connection, listing_id: UUID | None, change) -> None:
    """Lock the listing, apply ``change``; a listing unknown here is someone else's."""
    if listing_id is None:
        return
    a = await repository.lock_achievement(conn, listing_id)
    if a is None:
        return
    result = change(a, datetime.now(UTC))
    if result is None:
        return  # already in that state: a redelivered or reordered event
    updated, event = result
    await repository.save_achievement(conn, updated)
    await _OUTBOX.add(conn, [event], region=updated.region)


async def on_announced(conn: asyncpg.Connection, e: AuctionAnnounced, env: Envelope) -> None:
    await _apply(conn, e.listing_id, lambda a, now: Achievement.enter_transaction(
        a, procedure_id=str(e.procedure_id), cause=env.type, now=now))


async def on_failed(conn: asyncpg.Connection, e: AuctionFailed, env: Envelope) -> None:
    await _apply(conn, e.listing_id, lambda a, now: a.return_from_transaction(
        procedure_id=str(e.procedure_id), cause=env.type, now=now))


async def on_deal(conn: asyncpg.Connection, e: DealConcluded, env: Envelope) -> None:
    # A negotiated deal may conclude without an announcement having been seen first.
    await _apply(conn, e.listing_id, lambda a, now: None if a.status.value in (
        "in_transaction", "traded") else a.enter_transaction(
            procedure_id=str(e.procedure_id), cause=env.type, now=now))


async def on_registered(conn: asyncpg.Connection, e: ContractRegistered, env: Envelope) -> None:
    await _apply(conn, e.listing_id, lambda a, now: a.trade(
        procedure_id=str(e.deal_id or e.contract_id), cause=env.type, now=now))


HANDLERS: dict[type[Event], object] = {
    AuctionAnnounced: on_announced,
    AuctionFailed: on_failed,
    DealConcluded: on_deal,
    ContractRegistered: on_registered,
}
