"""Transition alias of :class:`shared.context.Command` (removed once every caller moved)."""

from __future__ import annotations

import asyncpg

from shared.clock import SystemClock
from shared.context import Command
from shared.idempotency import Once
from shared.outbox import OutboxWriter


def UnitOfWork(pool: asyncpg.Pool, outbox: OutboxWriter, region: str,
               once: Once | None = None) -> Command:
    return Command(pool, outbox, SystemClock(), once)
