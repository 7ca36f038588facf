"""Apply one event handler the way the consumer does: in a transaction context whose published
events join the service's outbox before the commit."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.clock import Clock, SystemClock
from shared.context import Tx
from shared.events import Event
from shared.outbox import OutboxWriter


async def deliver(url: str, service: str, handler: Any, event: Event,
                  clock: Clock | None = None) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            tx = Tx(conn, clock or SystemClock())
            await handler(tx, event)
            await tx.flush(OutboxWriter(service))
    finally:
        await conn.close()
