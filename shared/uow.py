"""Unit of work: one asyncpg transaction that also carries the aggregate's new events out."""

from __future__ import annotations

from types import TracebackType

import asyncpg

from shared.events import Event
from shared.outbox import OutboxWriter


class UnitOfWork:
    """``async with UnitOfWork(pool, outbox, region) as uow: ... uow.publish(event)``.

    The events published inside the block are written to the outbox in the same transaction as
    the state change, just before commit; on an exception nothing is written at all.
    """

    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, region: str) -> None:
        self.pool = pool
        self.outbox = outbox
        self.region = region
        self.events: list[Event] = []
        self.conn: asyncpg.Connection

    async def __aenter__(self) -> UnitOfWork:
        self._acquire = self.pool.acquire()
        self.conn = await self._acquire.__aenter__()
        self._tx = self.conn.transaction()
        await self._tx.start()
        return self

    def publish(self, *events: Event) -> None:
        self.events.extend(events)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                try:
                    await self.outbox.add(self.conn, self.events, region=self.region)
                except BaseException:
                    await self._tx.rollback()
                    raise
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            await self._acquire.__aexit__(exc_type, exc, tb)
