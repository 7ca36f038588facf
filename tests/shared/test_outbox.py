"""Outbox → Kafka → inbox, against the real broker and database."""

from __future__ import annotations

import asyncio
import sys
import uuid

from shared.settings import CommonSettings
from tests.support.pipeline import (
    applied_count,
    assert_in_order_once,
    prepare,
    relay_for,
    runner_for,
    started_producer,
    topics_for,
    wait_for,
    write_interleaved,
)

AGGREGATES, PER_AGGREGATE = 50, 20


async def _cancel(*tasks: asyncio.Task) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _topic_message_count(common: CommonSettings) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = common.topic("listing")
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap_servers)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not parts:
            await consumer._client.force_metadata_update()  # first look-up of a new topic
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = await consumer.end_offsets(parts)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def test_thousand_events_over_fifty_aggregates_arrive_in_order(database_url, common):
    pool = await prepare(database_url)
    await topics_for(common)
    aggregates = [uuid.uuid4() for _ in range(AGGREGATES)]
    await write_interleaved(pool, aggregates, PER_AGGREGATE)
    producer = await started_producer(common)
    tasks = [
        asyncio.create_task(relay_for(common, database_url, pool, producer, batch_size=200).run()),
        asyncio.create_task(runner_for(common, pool, producer).run()),
    ]
    try:
        total = AGGREGATES * PER_AGGREGATE
        await wait_for(lambda: _ge(applied_count(pool), total), what="1,000 applied events")
        await asyncio.sleep(0.5)  # a duplicate, if any, would land now
        await assert_in_order_once(pool, AGGREGATES, PER_AGGREGATE)
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
        assert await _topic_message_count(common) == total
    finally:
        await _cancel(*tasks)
        await producer.stop()
        await pool.close()


async def _ge(count_coro, n: int) -> bool:
    return (await count_coro) >= n


async def test_relay_dying_between_send_and_delete_loses_nothing_and_applies_once(
    database_url, common
):
    pool = await prepare(database_url)
    await topics_for(common)
    aggregates = [uuid.uuid4() for _ in range(AGGREGATES)]
    await write_interleaved(pool, aggregates, PER_AGGREGATE)
    producer = await started_producer(common)
    # The first relay sends 400 rows of its batch, then "dies": acknowledged, never deleted.
    first = relay_for(common, database_url, pool, producer, batch_size=1000)
    await first.send((await first.fetch_batch())[:400])
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1000
    tasks = [
        asyncio.create_task(relay_for(common, database_url, pool, producer).run()),
        asyncio.create_task(runner_for(common, pool, producer).run()),
    ]
    try:
        await wait_for(lambda: _ge(applied_count(pool), 1000), what="all events applied")
        await asyncio.sleep(0.5)
        assert await _topic_message_count(common) == 1400  # the 400 really went out twice
        await assert_in_order_once(pool, AGGREGATES, PER_AGGREGATE)
        duplicates = await pool.fetchval("SELECT count(*) FROM inbox")
        assert duplicates == 1000
    finally:
        await _cancel(*tasks)
        await producer.stop()
        await pool.close()


async def test_relay_process_killed_mid_stream_then_restarted(database_url, common):
    pool = await prepare(database_url)
    await topics_for(common)
    aggregates = [uuid.uuid4() for _ in range(AGGREGATES)]
    await write_interleaved(pool, aggregates, PER_AGGREGATE * 4)  # 4,000 events
    total = AGGREGATES * PER_AGGREGATE * 4
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.relay_main", database_url,
         common.kafka_bootstrap_servers, common.topic_prefix, "100",
    )
    try:
        async def some_sent() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox") < total - 300
        await wait_for(some_sent, what="the relay process to send some events")
        proc.kill()  # SIGKILL: no chance to clean up
    finally:
        await proc.wait()
    left = await pool.fetchval("SELECT count(*) FROM outbox")
    assert 0 < left < total, "the kill should land mid-stream"
    producer = await started_producer(common)
    tasks = [
        asyncio.create_task(relay_for(common, database_url, pool, producer).run()),
        asyncio.create_task(runner_for(common, pool, producer).run()),
    ]
    try:
        await wait_for(lambda: _ge(applied_count(pool), total), what="all events applied")
        await asyncio.sleep(0.5)
        await assert_in_order_once(pool, AGGREGATES, PER_AGGREGATE * 4)
    finally:
        await _cancel(*tasks)
        await producer.stop()
        await pool.close()


async def test_only_one_relay_per_service_is_active_and_the_other_takes_over(
    database_url, common
):
    pool = await prepare(database_url)
    await topics_for(common)
    producer = await started_producer(common)
    a = relay_for(common, database_url, pool, producer, poll_interval=0.2)
    b = relay_for(common, database_url, pool, producer, poll_interval=0.2)
    task_a = asyncio.create_task(a.run())
    await asyncio.wait_for(a.active.wait(), 10)
    task_b = asyncio.create_task(b.run())
    try:
        await asyncio.sleep(1.0)
        assert a.active.is_set() and not b.active.is_set()
        await _cancel(task_a)
        await asyncio.wait_for(b.active.wait(), 10)
        await write_interleaved(pool, [uuid.uuid4()], 5)
        await wait_for(lambda: _eq(pool.fetchval("SELECT count(*) FROM outbox"), 0),
                       what="the second relay to drain the outbox")
    finally:
        await _cancel(task_a, task_b)
        await producer.stop()
        await pool.close()


async def _eq(coro, value) -> bool:
    return (await coro) == value


async def test_relay_wakes_on_notify_without_waiting_for_the_poll(database_url, common):
    pool = await prepare(database_url)
    await topics_for(common)
    producer = await started_producer(common)
    relay = relay_for(common, database_url, pool, producer, poll_interval=60)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.active.wait(), 10)
        await asyncio.sleep(0.3)  # the relay is now idle, waiting
        await write_interleaved(pool, [uuid.uuid4()], 1)
        await wait_for(lambda: _eq(pool.fetchval("SELECT count(*) FROM outbox"), 0),
                       timeout=3, what="NOTIFY to wake the relay")
    finally:
        await _cancel(task)
        await producer.stop()
        await pool.close()


async def test_ce_time_is_the_events_own_time_and_older_rows_keep_their_write_time(
    database_url, common
):
    from datetime import UTC, datetime

    from aiokafka import AIOKafkaConsumer

    from shared.envelope import Envelope
    from shared.events import decode
    from shared.outbox import OutboxWriter
    from tests.support.pipeline import listing_event

    pool = await prepare(database_url)
    await topics_for(common)
    simulated = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    ahead, older = (listing_event(uuid.uuid4(), 0).model_copy(update={"occurred_at": simulated})
                    for _ in range(2))
    async with pool.acquire() as conn, conn.transaction():
        await OutboxWriter("listing").add(conn, [ahead, older])
        # A row written before the outbox kept the event's time.
        await conn.execute("UPDATE outbox SET occurred_at = NULL WHERE aggregateid = $1",
                           str(older.listing_id))
    written = await pool.fetchval("SELECT created_at FROM outbox WHERE aggregateid = $1",
                                  str(older.listing_id))
    producer = await started_producer(common)
    relay = relay_for(common, database_url, pool, producer)
    consumer = AIOKafkaConsumer(common.topic("listing"), group_id=None,
                                bootstrap_servers=common.kafka_bootstrap_servers,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        assert await relay.relay_batch() == 2
        times: dict[str, datetime] = {}
        for _ in range(60):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    env = Envelope.from_record(r.key, r.value, r.headers)
                    assert decode(env).time() == simulated
                    times[env.subject] = env.time
            if len(times) == 2:
                break
        assert times == {str(ahead.listing_id): simulated, str(older.listing_id): written}
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()


async def test_derived_events_join_the_same_write_and_commit_with_it(database_url):
    """A writer's ``derive`` makes events of the transaction's own (the public catalog's of the
    listing's): written after them, in the same transaction, rolled back with it."""
    from shared.outbox import OutboxWriter
    from tests.support.pipeline import listing_event

    pool = await prepare(database_url)
    seen = []

    async def derive(conn, events):
        seen.append(await conn.fetchval("SELECT count(*) FROM outbox"))
        return [e.model_copy(update={"listing_id": uuid.uuid4()}) for e in events]

    writer = OutboxWriter("listing", derive)
    first = listing_event(uuid.uuid4(), 0)
    async with pool.acquire() as conn, conn.transaction():
        await writer.add(conn, [first])
    rows = await pool.fetch("SELECT aggregateid FROM outbox ORDER BY seq")
    assert len(rows) == 2 and rows[0]["aggregateid"] == str(first.listing_id)
    assert seen == [0]
    try:
        async with pool.acquire() as conn, conn.transaction():
            await writer.add(conn, [listing_event(uuid.uuid4(), 1)])
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2
    await pool.close()
