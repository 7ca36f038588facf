"""The idempotent consumer runner against the real broker and database."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from shared.envelope import Envelope
from shared.events import encode
from shared.kafka import dlq_topic
from tests.support.pipeline import (
    applied_count,
    assert_in_order_once,
    listing_event,
    prepare,
    recorder,
    relay_for,
    runner_for,
    started_producer,
    topics_for,
    wait_for,
    write_interleaved,
)


def _record(event, event_id: str | None = None) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return Envelope(
        id=event_id or str(uuid.uuid4()), type=event.ce_type(), source="/listing/230102",
        subject=event.subject(), time=datetime.now(UTC), region="230102", data=encode(event),
        traceparent=None,
    ).to_record()


async def _send(producer, topic: str, key: bytes, value: bytes, headers) -> None:
    await producer.send_and_wait(topic, value=value, key=key, headers=headers)


async def _cancel(*tasks: asyncio.Task) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _read_all(bootstrap: str, topic: str, expected: int, timeout: float = 20) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(out) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def _applied_titles(pool) -> list[str]:
    return [r["title"] for r in await pool.fetch("SELECT title FROM applied ORDER BY n")]


async def test_same_event_delivered_twice_is_applied_once(database_url, common):
    pool = await prepare(database_url)
    [topic] = await topics_for(common)
    producer = await started_producer(common)
    listing = uuid.uuid4()
    twice_id = str(uuid.uuid4())
    first = _record(listing_event(listing, 0), twice_id)
    await _send(producer, topic, *first)
    await _send(producer, topic, *first)
    await _send(producer, topic, *_record(listing_event(listing, 1)))  # same key: comes after
    task = asyncio.create_task(runner_for(common, pool, producer).run())
    try:
        async def both_seen() -> bool:
            return "step-00001" in await _applied_titles(pool)
        await wait_for(both_seen, what="the event after the duplicate")
        assert await _applied_titles(pool) == ["step-00000", "step-00001"]
        assert await pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = $1", twice_id) == 1
    finally:
        await _cancel(task)
        await producer.stop()
        await pool.close()


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_next_is_handled(
    database_url, common
):
    pool = await prepare(database_url)
    [topic] = await topics_for(common)
    producer = await started_producer(common)
    listing = uuid.uuid4()
    key, good_value, good_headers = _record(listing_event(listing, 7))

    def with_type(headers, ce_type: bytes):
        return [(k, ce_type if k == "ce_type" else v) for k, v in headers]

    _, _, h1 = _record(listing_event(listing, 1))
    _, v2, h2 = _record(listing_event(listing, 2))
    _, v3, h3 = _record(listing_event(listing, 3))
    bad_schema = json.loads(v3)
    bad_schema["region"] = "not-a-region"
    poison = [
        (b"{not json", h1),                                              # bad JSON
        (v2, with_type(h2, b"cn.techex.listing.teleported.v1")),         # unknown type
        (json.dumps(bad_schema).encode(), h3),                           # fails its schema
    ]
    for value, headers in poison:
        await _send(producer, topic, key, value, headers)
    await _send(producer, topic, key, good_value, good_headers)
    task = asyncio.create_task(runner_for(common, pool, producer).run())
    try:
        async def good_applied() -> bool:
            return await _applied_titles(pool) == ["step-00007"]
        await wait_for(good_applied, what="the valid message after the poison")
        dead = await _read_all(common.kafka_bootstrap_servers, dlq_topic(topic), 3)
        reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
        assert len(dead) == 3
        assert reasons[0] == "not-json"
        assert reasons[1:] == ["unknown-type", "invalid-payload"]
        for record, (value, _) in zip(dead, poison, strict=True):
            headers = dict(record.headers)
            assert record.value == value  # the original, untouched
            assert headers["dlq_topic"].decode() == topic
            assert headers["dlq_error"]
            assert record.key == key
    finally:
        await _cancel(task)
        await producer.stop()
        await pool.close()


async def test_handler_that_keeps_failing_is_dead_lettered_and_one_that_recovers_is_not(
    database_url, common
):
    pool = await prepare(database_url)
    [topic] = await topics_for(common)
    producer = await started_producer(common)
    record_applied = recorder("test-consumer")
    attempts: dict[str, int] = {}

    async def flaky(tx, event):
        attempts[event.listing.title] = attempts.get(event.listing.title, 0) + 1
        if event.listing.title == "step-00000":
            raise RuntimeError("always broken")
        if event.listing.title == "step-00001" and attempts[event.listing.title] < 3:
            raise RuntimeError("broken twice")
        await record_applied(tx, event)

    listing = uuid.uuid4()
    for step in range(3):
        await _send(producer, topic, *_record(listing_event(listing, step)))
    task = asyncio.create_task(
        runner_for(common, pool, producer, handler=flaky, retries=3, backoff=0.01).run()
    )
    try:
        async def done() -> bool:
            return "step-00002" in await _applied_titles(pool)
        await wait_for(done, what="the message after the failing one")
        assert await _applied_titles(pool) == ["step-00001", "step-00002"]
        # One try in the batch's fast path, then 1 + 3 retries one by one.
        assert attempts == {"step-00000": 5, "step-00001": 3, "step-00002": 1}
        dead = await _read_all(common.kafka_bootstrap_servers, dlq_topic(topic), 1)
        assert [dict(r.headers)["dlq_reason"] for r in dead] == [b"handler-failed"]
        assert b"always broken" in dict(dead[0].headers)["dlq_error"]
        statuses = await pool.fetch("SELECT status FROM inbox ORDER BY received_at")
        assert sorted(r["status"] for r in statuses) == ["dead", "handled", "handled"]
    finally:
        await _cancel(task)
        await producer.stop()
        await pool.close()


async def test_consumer_stopped_and_restarted_resumes_without_loss_or_double_effect(
    database_url, common
):
    pool = await prepare(database_url)
    await topics_for(common)
    producer = await started_producer(common)
    relay = asyncio.create_task(relay_for(common, database_url, pool, producer).run())
    aggregates = [uuid.uuid4() for _ in range(10)]
    try:
        await write_interleaved(pool, aggregates, 10)
        first = asyncio.create_task(runner_for(common, pool, producer).run())
        await wait_for(lambda: _at_least(applied_count(pool), 100), what="first 100")
        await _cancel(first)
        # While nobody consumes, more events arrive.
        writer_pool = pool
        from shared.outbox import OutboxWriter
        writer = OutboxWriter("listing")
        async with writer_pool.acquire() as conn, conn.transaction():
            await writer.add(conn, [listing_event(a, s) for s in range(10, 20)
                                    for a in aggregates])
        second = asyncio.create_task(runner_for(common, pool, producer).run())
        await wait_for(lambda: _at_least(applied_count(pool), 200), what="all 200")
        await asyncio.sleep(0.5)
        await _cancel(second)
        await assert_in_order_once(pool, 10, 20)
    finally:
        await _cancel(relay)
        await producer.stop()
        await pool.close()


async def _at_least(coro, n: int) -> bool:
    return (await coro) >= n


async def test_a_consumer_that_fails_beyond_its_retries_starts_again_and_applies_once(
    database_url, common
):
    """A failure after a batch's database commit and before its offsets are committed (here
    raised on purpose) stops the consumer; it starts again by itself, gets the batch again and
    the inbox drops what was applied."""
    pool = await prepare(database_url)
    await topics_for(common)
    producer = await started_producer(common)
    relay = asyncio.create_task(relay_for(common, database_url, pool, producer).run())
    aggregates = [uuid.uuid4() for _ in range(5)]
    runner = runner_for(common, pool, producer)
    apply = runner._process
    failures = []

    async def process_then_fail_once(batches) -> None:
        await apply(batches)
        if not failures:
            failures.append(sum(map(len, batches.values())))
            raise RuntimeError("lost between the database commit and the offset commit")

    runner._process = process_then_fail_once
    task = asyncio.create_task(runner.run())
    try:
        await write_interleaved(pool, aggregates, 10)
        await wait_for(lambda: _at_least(applied_count(pool), 50), what="all 50")
        await asyncio.sleep(0.5)
        assert failures and failures[0] > 0
        assert not task.done()
        await assert_in_order_once(pool, 5, 10)
        assert await pool.fetchval("SELECT count(*) FROM inbox") == 50
    finally:
        await _cancel(task, relay)
        await producer.stop()
        await pool.close()


async def test_consumer_process_killed_mid_batch_applies_every_event_exactly_once(
    database_url, common
):
    pool = await prepare(database_url)
    await topics_for(common)
    producer = await started_producer(common)
    aggregates = [uuid.uuid4() for _ in range(50)]
    await write_interleaved(pool, aggregates, 60, batch=500)  # 3,000 events
    total = 3000
    relay = relay_for(common, database_url, pool, producer)
    while await relay.relay_batch():
        pass
    group = "killed-consumer"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.consumer_main", database_url,
         common.kafka_bootstrap_servers, common.topic_prefix, group, "50",
    )
    try:
        await wait_for(lambda: _at_least(applied_count(pool), 200), what="the process to start")
        proc.kill()  # SIGKILL: no chance to clean up
    finally:
        await proc.wait()
    assert await applied_count(pool) < total, "the kill should land mid-stream"
    task = asyncio.create_task(runner_for(common, pool, producer, name=group).run())
    try:
        await wait_for(lambda: _at_least(applied_count(pool), total), timeout=90,
                       what="all events after the restart")
        await asyncio.sleep(0.5)
        await assert_in_order_once(pool, 50, 60)
    finally:
        await _cancel(task)
        await producer.stop()
        await pool.close()


async def test_the_trace_of_the_writing_command_reaches_the_handler(database_url, common):
    from shared.outbox import OutboxWriter
    from shared.tracing import current_traceparent, trace_id_of, use_traceparent

    pool = await prepare(database_url)
    await topics_for(common)
    producer = await started_producer(common)
    seen: list[tuple[str | None, str | None]] = []

    async def handler(tx, event):
        seen.append((current_traceparent(), tx.envelope.traceparent))

    with use_traceparent(None) as writing:
        async with pool.acquire() as conn, conn.transaction():
            await OutboxWriter("listing").add(conn, [listing_event(uuid.uuid4(), 0)])
    tasks = [
        asyncio.create_task(relay_for(common, database_url, pool, producer).run()),
        asyncio.create_task(runner_for(common, pool, producer, handler=handler).run()),
    ]
    try:
        async def handled() -> bool:
            return bool(seen)
        await wait_for(handled, what="the handler")
        handling, carried = seen[0]
        assert carried == writing
        assert trace_id_of(handling) == trace_id_of(writing)
        assert handling != writing  # a span of its own in the same trace
    finally:
        await _cancel(*tasks)
        await producer.stop()
        await pool.close()


async def test_a_consumer_stopped_while_joining_its_group_leaves_nothing_running(
        database_url, common):
    pool = await prepare(database_url)
    producer = await started_producer(common)
    await topics_for(common)
    try:
        before = set(asyncio.all_tasks())
        runner = runner_for(common, pool, producer, "early-stop")
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0)  # the task is now inside consumer.start(), connecting
        await _cancel(task)
        await asyncio.sleep(0.5)
        leftovers = [t for t in asyncio.all_tasks() - before
                     if not t.done() and "aiokafka" in repr(t.get_coro())]
        assert not leftovers, leftovers
        assert runner.consumer is None
    finally:
        await producer.stop()
        await pool.close()
