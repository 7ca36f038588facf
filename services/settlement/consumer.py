"""The events the settlement service reacts to."""

from __future__ import annotations

import asyncpg
from shared.events.listing import ListingCreated

from services.settlement import repository
from shared.envelope import Envelope


async def on_listing_created(
    conn: asyncpg.Connection, event: ListingCreated, envelope: Envelope
) -> None:
    await repository.record_listing(conn, event)


HANDLERS = {ListingCreated: on_listing_created}
