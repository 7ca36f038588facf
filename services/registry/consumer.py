"""The events the registry service reacts to."""

from __future__ import annotations

import asyncpg

from services.registry import repository
from services.registry.domain.contract import Contract
from shared.envelope import Envelope
from shared.events.listing import ListingCreated
from shared.events.settlement import SettlementCompleted
from shared.outbox import OutboxWriter

OUTBOX = OutboxWriter("registry")


async def on_listing_created(
    conn: asyncpg.Connection, event: ListingCreated, envelope: Envelope
) -> None:
    await repository.record_listing(conn, event)


async def on_settlement_completed(
    conn: asyncpg.Connection, event: SettlementCompleted, envelope: Envelope
) -> None:
    """A pre-filled draft for the seller, once per deal (the deal id is the natural key)."""
    listing = await repository.listing_for_draft(conn, event.listing_id)
    contract, drafted = Contract.draft(event, listing)
    if await repository.save_contract(conn, None, contract, event.completed_at):
        await OUTBOX.add(conn, [drafted], region=event.region)


HANDLERS = {ListingCreated: on_listing_created, SettlementCompleted: on_settlement_completed}
