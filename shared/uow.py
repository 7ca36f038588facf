"""Unit of work: one asyncpg transaction that also carries the aggregate's new events out."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg
from fastapi.responses import Response

from shared import idempotency
from shared.events import Event
from shared.idempotency import Answer, Once, Replayed
from shared.outbox import OutboxWriter
from shared.problems import Problem


class UnitOfWork:
    """``async with UnitOfWork(pool, outbox, region) as uow: ... uow.publish(event)``.

    The events published inside the block are written to the outbox in the same transaction as
    the state change, just before commit; on an exception nothing is written at all.

    With ``once`` (a keyed request, see :mod:`shared.idempotency`) the key is claimed first:
    if it was answered before, entering raises :class:`~shared.idempotency.Replayed` and the
    block does not run. The block ends with ``return uow.answer(status, body)``, which is
    stored with the effect; a definite refusal raised in the block rolls back what the block
    wrote (its events included), is stored in their place and raised on. Without ``once``,
    ``uow.answer`` just builds the response.
    """

    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, region: str,
                 once: Once | None = None) -> None:
        self.pool = pool
        self.outbox = outbox
        self.region = region
        self.once = once
        self.events: list[Event] = []
        self.conn: asyncpg.Connection
        self._answer: Answer | None = None
        self._after_claim: Any = None
        self._kept: Problem | None = None

    async def __aenter__(self) -> UnitOfWork:
        self._acquire = self.pool.acquire()
        self.conn = await self._acquire.__aenter__()
        started = False
        try:
            self._tx = self.conn.transaction()
            await self._tx.start()
            started = True
            if self.once is not None:
                replay = await idempotency.claim(self.conn, self.once)
                if replay is not None:
                    raise Replayed(replay)
                self._after_claim = self.conn.transaction()
                await self._after_claim.start()
        except BaseException as exc:
            if started:
                await self._tx.rollback()
            await self._acquire.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def publish(self, *events: Event) -> None:
        self.events.extend(events)

    def answer(self, status: int, body: Any = None,
               headers: dict[str, str] | None = None) -> Response:
        """The command's answer (a pydantic model or JSON data), stored with a keyed request."""
        self._answer = Answer.json(status, body, headers)
        return self._answer.response()

    def refuse(self, problem: Problem) -> Problem:
        """``raise uow.refuse(problem)``: a refusal that keeps what the block wrote (e.g. the
        record of a rejected bid): committed with it, and stored as the keyed answer."""
        self._kept = problem
        return problem

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None or (exc is self._kept and self._kept is not None):
                try:
                    if self.once is not None:
                        answer = self._answer if exc is None else self.once.refusal(self._kept)
                        if answer is None:
                            raise RuntimeError("a keyed command must end with uow.answer(...)")
                        await idempotency.remember(self.conn, self.once, answer)
                    await self.outbox.add(self.conn, self.events, region=self.region)
                except BaseException:
                    await self._tx.rollback()
                    raise
                await self._tx.commit()
            elif self.once is not None and idempotency.is_definite(exc):
                await self._store_refusal(exc)
            else:
                await self._tx.rollback()
        finally:
            await self._acquire.__aexit__(exc_type, exc, tb)

    async def _store_refusal(self, exc: BaseException) -> None:
        assert self.once is not None and isinstance(exc, Problem)
        try:
            await self._after_claim.rollback()
            self.events.clear()
            await idempotency.remember(self.conn, self.once, self.once.refusal(exc))
        except BaseException:
            await self._tx.rollback()
            raise
        await self._tx.commit()
