"""Sweeping what is only kept for a while: idempotency keys and consumer inbox rows.

An inbox row must outlive every redelivery of its event, so its retention must exceed the
topics' (Kafka's default is 7 days); an idempotency key must outlive every retry a client may
still send. Both are measured on the database's clock, the one that stamps the rows: redelivery
and retries happen in real time, also when the services run on a simulation clock moved ahead
(a sweep on that clock would forget events Kafka can still redeliver).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

log = logging.getLogger(__name__)

_TABLES = {"idempotency_keys": "created_at", "inbox": "received_at"}


async def sweep_table(pool: asyncpg.Pool, table: str, keep: timedelta, batch: int = 5000
                      ) -> int:
    """Delete ``table``'s rows older than ``keep``, ``batch`` rows per transaction (short
    locks, short WAL bursts); returns how many went."""
    column = _TABLES[table]
    total = 0
    while True:
        deleted = await pool.fetchval(
            f"WITH gone AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table} WHERE {column} < now() - $1::interval LIMIT $2))"
            " RETURNING 1) SELECT count(*) FROM gone", keep, batch)
        total += deleted
        if deleted < batch:
            return total


async def sweep(pool: asyncpg.Pool, *, idempotency_keys: timedelta, inbox: timedelta
                ) -> dict[str, int]:
    return {"idempotency_keys": await sweep_table(pool, "idempotency_keys", idempotency_keys),
            "inbox": await sweep_table(pool, "inbox", inbox)}


async def keep_sweeping(pool: asyncpg.Pool, *, idempotency_keys: timedelta, inbox: timedelta,
                        every: timedelta) -> None:
    """Sweep now and then every ``every``, until cancelled. Every process of a service may
    run it: concurrent sweeps delete disjoint rows or skip the ones already gone."""
    while True:
        try:
            gone = await sweep(pool, idempotency_keys=idempotency_keys, inbox=inbox)
            if any(gone.values()):
                log.info("retention sweep removed %d idempotency keys and %d inbox rows",
                         gone["idempotency_keys"], gone["inbox"])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention sweep failed; trying again later")
        await asyncio.sleep(every.total_seconds())
