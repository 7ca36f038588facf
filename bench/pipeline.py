"""Events per second through outbox → Kafka → consumer with inbox, and end-to-end latency.

Runs against the real embedded stack (or the external one named in the environment), in two
processes as in production: this one writes events in transactions and runs the outbox relay
(the producing service); a child process runs the consumer runner with its inbox (the consuming
service). Latency is measured from an event's time (taken as the command writes it) to the
moment the consuming handler applies it.

With ``--records`` the records service runs beside them (its own process, `techex serve
records`) and archives the same events: the ``records_*`` figures say whether its hash chain
keeps up — the archive's delay behind an event's time at the paced rate, and how long after
the consumer it had archived every event of the throughput and drain phases.

    .venv/bin/python bench/pipeline.py [--events 40000] [--rate 1000] [--seconds 10] [--records]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import uvloop  # the event loop the services run on under uvicorn

from shared.context import Tx
from shared.db import create_pool, migrate
from shared.events.listing import ListingCreated, ListingSnapshot
from shared.kafka import delete_topics, dlq_topic, ensure_topics, new_producer
from shared.outbox import OutboxRelay, OutboxWriter
from shared.settings import CommonSettings
from techex.stack.stack import Stack, create_database

TABLE = """CREATE TABLE IF NOT EXISTS bench_applied (
    event_id text PRIMARY KEY, phase text NOT NULL,
    written_at timestamptz NOT NULL, applied_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS bench_applied_phase ON bench_applied (phase)"""


def event(listing_id: uuid.UUID, phase: str) -> ListingCreated:
    return ListingCreated(listing_id=listing_id, region="230102", occurred_at=datetime.now(UTC),
                          seller_id="bench", listing=SNAPSHOTS[phase])


SNAPSHOTS = {
    phase: ListingSnapshot(title=phase, field="new_materials", ip_type="patent_invention", trl=5,
                           transfer_mode="transfer", pricing_route="auction")
    for phase in ("warmup", "latency", "throughput", "drain")
}


async def consume(url: str, bootstrap: str, prefix: str) -> None:
    """The consuming process: a ConsumerRunner whose handler records each event's latency."""
    from shared.consumer import ConsumerRunner

    common = CommonSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    pool = await create_pool(url, min_size=2, max_size=6)
    producer = new_producer(bootstrap)
    await producer.start()

    async def record(tx: Tx, e: ListingCreated) -> None:
        env = tx.envelope
        assert env is not None
        await tx.conn.execute(
            "INSERT INTO bench_applied VALUES ($1, $2, $3, $4)",
            env.id, e.listing.title, env.time, datetime.now(UTC),
        )

    runner = ConsumerRunner(name="bench", bootstrap=bootstrap, pool=pool, producer=producer,
                            topics=[common.topic("listing")], handlers={ListingCreated: record},
                            max_batch=1000, group_id=common.group("bench"))
    await runner.run()


async def write(pool: asyncpg.Pool, writer: OutboxWriter, n: int, per_tx: int, phase: str,
                aggregates: list[uuid.UUID]) -> None:
    written = 0
    while written < n:
        k = min(per_tx, n - written)
        async with pool.acquire() as conn, conn.transaction():
            await writer.add(conn, [event(aggregates[(written + i) % len(aggregates)], phase)
                                    for i in range(k)])
        written += k


async def paced(pool: asyncpg.Pool, writer: OutboxWriter, rate: float, seconds: float,
                aggregates: list[uuid.UUID], lanes: int = 4) -> int:
    """One event per transaction at a fixed total rate, from ``lanes`` concurrent writers."""
    start = time.perf_counter() + 0.2
    per_lane = int(rate * seconds / lanes)

    async def lane(offset: int) -> None:
        for i in range(per_lane):
            due = start + (i * lanes + offset) / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with pool.acquire() as conn, conn.transaction():
                await writer.add(conn, [event(aggregates[(i + offset) % len(aggregates)],
                                              "latency")])

    await asyncio.gather(*(lane(k) for k in range(lanes)))
    return per_lane * lanes


async def wait_applied(pool: asyncpg.Pool, phase: str, n: int, timeout: float) -> datetime:
    """When the last of the phase's ``n`` events was applied (polled gently: the polling
    itself must not load the database being measured)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await pool.fetchval("SELECT count(*) FROM bench_applied WHERE phase = $1", phase) >= n:
            return await pool.fetchval(
                "SELECT max(applied_at) FROM bench_applied WHERE phase = $1", phase)
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{phase}: not all {n} events applied within {timeout}s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_records(stack: Stack, common: CommonSettings, tag: str
                        ) -> tuple[asyncio.subprocess.Process, str]:
    """The records service over the benchmark's topics and a database of its own; returns
    once it consumes (its process and its database URL)."""
    admin = await asyncpg.connect(stack.admin_database_url())
    await create_database(admin, f"bench_{tag}_records")
    await admin.close()
    url = stack.admin_database_url().rsplit("/", 1)[0] + f"/bench_{tag}_records"
    port = free_port()
    env = {**os.environ, "RECORDS_DATABASE_URL": url, "RECORDS_PORT": str(port),
           "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "TECHEX_TOPIC_PREFIX": common.topic_prefix,
           "TECHEX_TOPIC_PARTITIONS": str(common.topic_partitions),
           "TECHEX_LOG_LEVEL": "WARNING", "TECHEX_DEVELOPMENT": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "techex", "serve", "records", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    deadline = time.perf_counter() + 90
    while time.perf_counter() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("the records service exited while starting")
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.5)
            continue
        try:
            ready = await conn.fetchval("SELECT to_regclass('archive') IS NOT NULL")
        finally:
            await conn.close()
        if ready:
            await asyncio.sleep(3)  # its consumer joins its group
            return proc, url
        await asyncio.sleep(0.5)
    raise RuntimeError("the records service did not start")


async def wait_archived(pool: asyncpg.Pool, phase: str, n: int, timeout: float) -> datetime:
    """When the records service had archived the phase's ``n`` events (its last row's time)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await pool.fetchval("SELECT count(*) FROM archive WHERE payload->'listing'->>'title'"
                               " = $1", phase) >= n:
            return await pool.fetchval(
                "SELECT max(archived_at) FROM archive WHERE payload->'listing'->>'title' = $1",
                phase)
        await asyncio.sleep(0.5)
    raise TimeoutError(f"records: not all {n} events of {phase} archived within {timeout}s")


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(p * 10) - 1]


async def run(args: argparse.Namespace, stack: Stack) -> dict:
    tag = uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(stack.admin_database_url())
    await create_database(admin, f"bench_{tag}")
    await admin.close()
    url = stack.admin_database_url().rsplit("/", 1)[0] + f"/bench_{tag}"
    common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap, topic_prefix=f"bench{tag}",
                            topic_partitions=args.partitions)
    topic = common.topic("listing")
    await ensure_topics(stack.bootstrap, [topic, dlq_topic(topic)], args.partitions)
    pool = await create_pool(url, min_size=4, max_size=12)
    async with pool.acquire() as conn:
        await migrate(conn)
        await conn.execute(TABLE)
    consumer = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--consume", url, stack.bootstrap, common.topic_prefix)
    producer = new_producer(stack.bootstrap)
    await producer.start()
    relay = OutboxRelay(service="listing", database_url=url, pool=pool, producer=producer,
                        topic_for=common.topic, batch_size=1000)
    relay_task = asyncio.create_task(relay.run())
    writer = OutboxWriter("listing")
    aggregates = [uuid.uuid4() for _ in range(500)]
    n = args.events // args.writers * args.writers
    records: dict = {}
    archive_pool = records_proc = records_url = None
    if args.records:
        records_proc, records_url = await start_records(stack, common, tag)
        archive_pool = await create_pool(records_url, min_size=1, max_size=2)
    try:
        # Warm-up: the consumer joins its group and the relay takes its lock.
        await write(pool, writer, 200, 10, "warmup", aggregates)
        await wait_applied(pool, "warmup", 200, 60)

        # 1. Latency at a fixed rate, one event per transaction.
        sent = await paced(pool, writer, args.rate, args.seconds, aggregates)
        await wait_applied(pool, "latency", sent, 120)
        rows = await pool.fetch(
            "SELECT extract(epoch FROM applied_at - written_at) * 1000 AS ms"
            " FROM bench_applied WHERE phase = 'latency'")
        latencies = [float(r["ms"]) for r in rows]
        if archive_pool is not None:
            await wait_archived(archive_pool, "latency", sent, 120)
            delays = [float(r["ms"]) for r in await archive_pool.fetch(
                "SELECT extract(epoch FROM archived_at - occurred_at) * 1000 AS ms"
                " FROM archive WHERE payload->'listing'->>'title' = 'latency'")]
            records.update(records_delay_p50_ms=round(pct(delays, 50), 2),
                           records_delay_p99_ms=round(pct(delays, 99), 2),
                           records_delay_max_ms=round(max(delays), 2))

        # 2. Throughput with the commands writing while the pipeline runs.
        started = datetime.now(UTC)
        await asyncio.gather(*(write(pool, writer, n // args.writers, args.per_tx, "throughput",
                                     aggregates) for _ in range(args.writers)))
        write_rate = n / (datetime.now(UTC) - started).total_seconds()
        done = await wait_applied(pool, "throughput", n, 300)
        throughput = n / (done - started).total_seconds()
        if archive_pool is not None:
            archived = await wait_archived(archive_pool, "throughput", n, 600)
            records.update(
                records_throughput_events_per_s=round(n / (archived - started).total_seconds()),
                records_behind_consumer_s=round(max(0.0, (archived - done).total_seconds()), 2))

        # 3. Drain: a backlog already in the outbox, relay and consumer alone.
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await asyncio.gather(*(write(pool, writer, n // args.writers, 50, "drain", aggregates)
                               for _ in range(args.writers)))
        started = datetime.now(UTC)
        relay_task = asyncio.create_task(relay.run())
        drained = await wait_applied(pool, "drain", n, 300)
        drain = n / (drained - started).total_seconds()
        if archive_pool is not None:
            archived = await wait_archived(archive_pool, "drain", n, 600)
            records.update(
                records_drain_events_per_s=round(n / (archived - started).total_seconds()),
                records_drain_behind_consumer_s=round(
                    max(0.0, (archived - drained).total_seconds()), 2),
                records_chain_rows=await archive_pool.fetchval("SELECT seq FROM chain_head"))
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        consumer.terminate()
        await consumer.wait()
        await producer.stop()
        await pool.close()
        if records_proc is not None:
            records_proc.terminate()
            await records_proc.wait()
        if archive_pool is not None:
            await archive_pool.close()
        admin = await asyncpg.connect(stack.admin_database_url())
        await admin.execute(f'DROP DATABASE IF EXISTS "bench_{tag}" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE IF EXISTS "bench_{tag}_records" WITH (FORCE)')
        await admin.close()
        await delete_topics(stack.bootstrap, f"bench{tag}.")
    return {
        "bench": "pipeline",
        "events": n,
        "writers": args.writers,
        "events_per_tx": args.per_tx,
        "partitions": args.partitions,
        "throughput_events_per_s": round(throughput),
        "outbox_write_events_per_s": round(write_rate),
        "drain_events_per_s": round(drain),
        "latency_rate_per_s": args.rate,
        "latency_events": len(latencies),
        "latency_p50_ms": round(pct(latencies, 50), 2),
        "latency_p95_ms": round(pct(latencies, 95), 2),
        "latency_p99_ms": round(pct(latencies, 99), 2),
        "latency_max_ms": round(max(latencies), 2),
        **records,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--consume":
        uvloop.run(consume(*sys.argv[2:5]))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=40_000)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--per-tx", type=int, default=5, help="events per writing transaction")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--rate", type=float, default=1000, help="events/s for the latency phase")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--records", action="store_true",
                   help="also run the records service and measure its archive")
    args = p.parse_args()
    stack = Stack("dev")
    started = stack.up()
    try:
        figures = uvloop.run(run(args, stack))
    finally:
        if started:
            stack.down()
    print(f"drain: {figures['drain_events_per_s']} events/s from a full outbox through Kafka "
          "to the consumer's inbox")
    print(f"throughput: {figures['throughput_events_per_s']} events/s end to end "
          f"({figures['events']} events, {args.writers} writers x {args.per_tx} per transaction;"
          f" outbox writes alone {figures['outbox_write_events_per_s']} events/s)")
    print(f"latency at {args.rate:.0f} events/s, one event per transaction: "
          f"p50 {figures['latency_p50_ms']} ms, p95 {figures['latency_p95_ms']} ms, "
          f"p99 {figures['latency_p99_ms']} ms, max {figures['latency_max_ms']} ms")
    if args.records:
        print(f"records: archived {figures['records_delay_p50_ms']} ms (p50) / "
              f"{figures['records_delay_p99_ms']} ms (p99) after each event at {args.rate:.0f}/s;"
              f" {figures['records_throughput_events_per_s']} events/s under the throughput "
              f"phase, done {figures['records_behind_consumer_s']} s after the consumer; "
              f"a full outbox archived {figures['records_drain_behind_consumer_s']} s after")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
