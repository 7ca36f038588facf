"""Transactional outbox: events written with the state change, relayed to Kafka in order.

Producing side of "never a dual write". ``OutboxWriter.add`` runs inside the caller's
transaction. ``OutboxRelay`` is the one process per service (an advisory lock decides which)
that reads committed rows in ``seq`` order, sends them with an idempotent producer and deletes
them once the broker has acknowledged them. A relay killed between send and delete sends those
rows again after restart; consumers drop the duplicates through their inbox.

Ordering per aggregate holds because a command locks its aggregate before it inserts the
aggregate's outbox rows, so their ``seq`` follows the order of the state changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from shared.envelope import Envelope
from shared.events import Event
from shared.kafka import KeyPartitioner
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, RELAY_ACTIVE
from shared.tracing import current_traceparent

log = logging.getLogger(__name__)

CHANNEL = "outbox"

_INSERT = """
INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, region, source, traceparent,
                    created_at, occurred_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[],
                     $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
"""


Derive = Callable[[asyncpg.Connection, Sequence[Event]], Awaitable[Sequence[Event]]]
"""Events made from a transaction's own (e.g. the public catalog's from the listing's), on its
connection after its changes: they join the same outbox write, so they commit together."""


class OutboxWriter:
    """Adds events to the outbox inside the caller's transaction.

    Each row keeps the event's own time (``Event.time()``, from the service clock, so the
    simulation clock's too), which the relay sends as ``ce_time``; ``created_at`` is the wall
    clock of the write and only measures how long rows wait. With ``derive``, the events it
    makes from those added follow them (see :data:`Derive`).
    """

    def __init__(self, service: str, derive: Derive | None = None) -> None:
        self.service = service
        self.derive = derive

    async def add(self, conn: asyncpg.Connection, events: Sequence[Event]) -> list[uuid.UUID]:
        """Insert ``events`` (and what ``derive`` makes of them) in the caller's transaction;
        each row gets its event's region."""
        if not events:
            return []
        if self.derive is not None:
            events = [*events, *await self.derive(conn, events)]
        now = datetime.now(UTC)
        ids = [uuid.uuid4() for _ in events]
        trace = current_traceparent()
        await conn.execute(
            _INSERT,
            ids,
            [e.aggregate for e in events],
            [e.subject() for e in events],
            [e.ce_type() for e in events],
            [e.model_dump_json() for e in events],
            [e.region for e in events],
            [f"/{self.service}/{e.region}" for e in events],
            [trace] * len(events),
            [now] * len(events),
            [e.time() for e in events],
        )
        return ids


def advisory_key(name: str) -> int:
    """A stable 63-bit advisory lock key for a name."""
    return zlib.crc32(name.encode()) | (0x7EC5 << 32)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        database_url: str,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topic_for: Callable[[str], str],
        batch_size: int = 1000,
        poll_interval: float = 1.0,
    ) -> None:
        self.service = service
        self.database_url = database_url
        self.pool = pool
        self.producer = producer
        self.topic_for = topic_for
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lock_key = advisory_key(f"outbox-relay:{service}")
        self._partitioner = KeyPartitioner()
        self.active = asyncio.Event()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Relay until cancelled; reconnects and retries after failures."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay of %s failed; retrying", self.service)
                await asyncio.sleep(1.0)
            finally:
                self.active.clear()
                RELAY_ACTIVE.labels(self.service).set(0)

    async def _run_once(self) -> None:
        # A dedicated connection holds the session advisory lock and LISTENs; if it dies, the
        # lock is released and another relay of the service can take over.
        conn = await asyncpg.connect(self.database_url)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                await asyncio.sleep(self.poll_interval)
            await conn.add_listener(CHANNEL, self._notified)
            self.active.set()
            RELAY_ACTIVE.labels(self.service).set(1)
            log.info("outbox relay of %s is active", self.service)
            last_gauge = 0.0
            while True:
                if conn.is_closed():
                    raise ConnectionError("relay lock connection closed")
                self._wake.clear()
                sent = await self.relay_batch()
                if time.monotonic() - last_gauge > 2.0:
                    await self.update_gauges()
                    last_gauge = time.monotonic()
                if sent < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def relay_batch(self) -> int:
        """Send one batch in seq order and delete it after the broker's acks; returns its size."""
        rows = await self.fetch_batch()
        if rows:
            await self.send(rows)
            await self.delete(rows)
        return len(rows)

    async def fetch_batch(self) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT seq, id, aggregatetype, aggregateid, type, payload, region, source,"
            " traceparent, created_at, occurred_at FROM outbox ORDER BY seq LIMIT $1",
            self.batch_size,
        )

    async def send(self, rows: Sequence[asyncpg.Record]) -> None:
        """Hand rows to Kafka in order and wait until the broker acknowledged all of them.

        Records are packed into one batch per partition (the key picks the partition as the
        producer's own partitioner would), which costs a fraction of a ``send()`` per record;
        the idempotent producer keeps one batch in flight per partition, so order holds.
        """
        open_batches: dict[tuple[str, int], BatchBuilder] = {}
        partitions: dict[str, list[int]] = {}
        futures = []
        for i, row in enumerate(rows):
            if i % 100 == 99:  # a thousand records are milliseconds of work: let requests in
                await asyncio.sleep(0)
            topic = self.topic_for(row["aggregatetype"])
            if topic not in partitions:
                partitions[topic] = sorted(await self.producer.partitions_for(topic))
            key, value, headers = Envelope(
                id=str(row["id"]),
                type=row["type"],
                source=row["source"],
                subject=row["aggregateid"],
                time=row["occurred_at"] or row["created_at"],
                region=row["region"],
                data=row["payload"].encode(),
                traceparent=row["traceparent"],
            ).to_record()
            slot = (topic, self._partitioner(key, partitions[topic], partitions[topic]))
            batch = open_batches.get(slot)
            if batch is None:
                batch = open_batches[slot] = self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(await self.producer.send_batch(batch, slot[0], partition=slot[1]))
                batch = open_batches[slot] = self.producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        for (topic, partition), batch in open_batches.items():
            futures.append(await self.producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        for kind, n in Counter(row["type"] for row in rows).items():
            EVENTS_PUBLISHED.labels(self.service, kind).inc(n)

    async def delete(self, rows: Sequence[asyncpg.Record]) -> None:
        await self.pool.execute(
            "DELETE FROM outbox WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows]
        )

    async def update_gauges(self) -> None:
        count, oldest = await self.pool.fetchrow(
            "SELECT count(*), min(created_at) FROM outbox"
        )
        OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
