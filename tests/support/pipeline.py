"""Test wiring for the event pipeline: a recording handler, outbox writers, waiting helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from shared.consumer import ConsumerRunner, Handler
from shared.context import Tx
from shared.db import migrate
from shared.events.listing import ListingCreated, ListingSnapshot
from shared.kafka import ensure_topics, new_producer
from shared.outbox import OutboxRelay, OutboxWriter
from shared.settings import CommonSettings

# Every application of an event leaves a row, duplicates included, so tests can count effects.
APPLIED_TABLE = """
CREATE TABLE IF NOT EXISTS applied (
    n          bigserial PRIMARY KEY,
    consumer   text NOT NULL,
    event_id   text NOT NULL,
    listing_id uuid NOT NULL,
    title      text NOT NULL
)"""


async def prepare(url: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
    async with pool.acquire() as conn:
        await migrate(conn)
        await conn.execute(APPLIED_TABLE)
    return pool


def recorder(consumer: str) -> Handler:
    async def handle(tx: Tx, event: ListingCreated) -> None:
        assert tx.envelope is not None
        await tx.conn.execute(
            "INSERT INTO applied (consumer, event_id, listing_id, title) VALUES ($1, $2, $3, $4)",
            consumer, tx.envelope.id, event.listing_id, event.listing.title,
        )

    return handle


def listing_event(listing_id: uuid.UUID, step: int) -> ListingCreated:
    """An event whose title records its place in its aggregate's sequence."""
    return ListingCreated(
        listing_id=listing_id, region="230102", occurred_at=datetime.now(UTC),
        seller_id="seller-1", listing=snapshot(f"step-{step:05d}"),
    )


def snapshot(title: str) -> ListingSnapshot:
    return ListingSnapshot(title=title, field="new_materials", ip_type="patent_invention",
                           trl=5, transfer_mode="transfer", pricing_route="auction")


async def write_interleaved(
    pool: asyncpg.Pool, aggregates: list[uuid.UUID], per_aggregate: int, batch: int = 50
) -> int:
    """Write events for many aggregates interleaved, ``batch`` per transaction."""
    writer = OutboxWriter("listing")
    events = [listing_event(a, step) for step in range(per_aggregate) for a in aggregates]
    for i in range(0, len(events), batch):
        async with pool.acquire() as conn, conn.transaction():
            await writer.add(conn, events[i : i + batch])
    return len(events)


async def topics_for(common: CommonSettings) -> list[str]:
    topic = common.topic("listing")
    await ensure_topics(common.kafka_bootstrap_servers, [topic, topic + ".dlq"],
                        common.topic_partitions)
    return [topic]


def relay_for(common: CommonSettings, url: str, pool: asyncpg.Pool, producer, **kw) -> OutboxRelay:
    return OutboxRelay(service="listing", database_url=url, pool=pool, producer=producer,
                       topic_for=common.topic, **kw)


def runner_for(
    common: CommonSettings, pool: asyncpg.Pool, producer, name: str = "test-consumer",
    handler: Handler | None = None, **kw,
) -> ConsumerRunner:
    return ConsumerRunner(
        name=name, bootstrap=common.kafka_bootstrap_servers, pool=pool, producer=producer,
        topics=[common.topic("listing")], handlers={ListingCreated: handler or recorder(name)},
        group_id=common.group(name), **kw,
    )


async def started_producer(common: CommonSettings):
    producer = new_producer(common.kafka_bootstrap_servers)
    await producer.start()
    return producer


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float = 60, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def applied_count(pool: asyncpg.Pool, distinct: bool = False) -> int:
    what = "count(DISTINCT event_id)" if distinct else "count(*)"
    return await pool.fetchval(f"SELECT {what} FROM applied")


async def assert_in_order_once(pool: asyncpg.Pool, aggregates: int, per_aggregate: int) -> None:
    """Every event applied exactly once, and each aggregate's events in the order written."""
    total = await applied_count(pool)
    assert total == aggregates * per_aggregate
    assert await applied_count(pool, distinct=True) == total
    rows = await pool.fetch("SELECT listing_id, title FROM applied ORDER BY n")
    by_aggregate: dict[uuid.UUID, list[str]] = {}
    for r in rows:
        by_aggregate.setdefault(r["listing_id"], []).append(r["title"])
    assert len(by_aggregate) == aggregates
    for titles in by_aggregate.values():
        assert titles == [f"step-{i:05d}" for i in range(per_aggregate)]
