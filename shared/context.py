"""The one transaction context every entry point of a service works in.

An HTTP command, a consumed event, a fired deadline and the bid engine's batch all get a
:class:`Tx`: the connection of the open transaction, the service clock and ``publish``. Whoever
opened the transaction writes what was published to the outbox just before it commits, so the
state change and its events commit together (never a dual write); each event carries its own
region, which the outbox records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import asyncpg
from fastapi.responses import Response

from shared import idempotency
from shared.clock import Clock
from shared.envelope import Envelope
from shared.events import Event
from shared.idempotency import Answer, Once, Replayed
from shared.outbox import OutboxWriter
from shared.problems import Problem

__all__ = ["Command", "Received", "Tx"]


@dataclass(frozen=True, slots=True)
class Received:
    """The Kafka position a consumed event was read at."""

    topic: str
    partition: int
    offset: int


class Tx:
    """The connection (inside an open transaction), the service clock and ``publish``."""

    __slots__ = ("clock", "conn", "envelope", "events", "origin", "received")

    def __init__(self, conn: asyncpg.Connection, clock: Clock,
                 envelope: Envelope | None = None, origin: str | None = None,
                 received: Received | None = None) -> None:
        self.conn = conn
        self.clock = clock
        self.envelope = envelope
        """The consumed event's envelope in an event handler; None elsewhere."""
        self.origin = origin
        """The alias of the partner deployment a consumed event came from (it arrived on a
        mirrored topic); None for this deployment's own events and outside handlers."""
        self.received = received
        """Where a consumed event was read (topic, partition, offset); None elsewhere."""
        self.events: list[Event] = []

    def now(self) -> datetime:
        """The service clock's now (the simulation clock's in a shifted deployment)."""
        return self.clock.now()

    def publish(self, *events: Event) -> None:
        """Send ``events`` with this transaction: written to the outbox just before it commits."""
        self.events.extend(events)

    async def flush(self, outbox: OutboxWriter) -> None:
        """Write what was published to the outbox, in this transaction (by whoever opened it)."""
        if self.events:
            await outbox.add(self.conn, self.events)
            self.events.clear()


class Command(Tx):
    """An HTTP command's transaction: ``async with runtime.transaction(once) as tx:``.

    With ``once`` (a keyed request, see :mod:`shared.idempotency`) the key is claimed first:
    if it was answered before, entering raises :class:`~shared.idempotency.Replayed` and the
    block does not run. The block ends with ``return tx.answer(status, body)``, which is
    stored with the effect; a definite refusal raised in the block rolls back what the block
    wrote (its events included), is stored in their place and raised on. Without ``once``,
    ``tx.answer`` just builds the response.
    """

    __slots__ = ("_acquire", "_after_claim", "_answer", "_kept", "_tx", "once", "outbox", "pool")

    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, clock: Clock,
                 once: Once | None = None) -> None:
        super().__init__(None, clock)  # type: ignore[arg-type]  # set on entering
        self.pool = pool
        self.outbox = outbox
        self.once = once
        self._answer: Answer | None = None
        self._after_claim: Any = None
        self._kept: Problem | None = None

    async def __aenter__(self) -> Command:
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

    def answer(self, status: int, body: Any = None,
               headers: dict[str, str] | None = None) -> Response:
        """The command's answer (a pydantic model or JSON data), stored with a keyed request."""
        self._answer = Answer.json(status, body, headers)
        return self._answer.response()

    def refuse(self, problem: Problem) -> Problem:
        """``raise tx.refuse(problem)``: a refusal that keeps what the block wrote (e.g. the
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
                            raise RuntimeError("a keyed command must end with tx.answer(...)")
                        await idempotency.remember(self.conn, self.once, answer)
                    await self.flush(self.outbox)
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
