"""Idempotent consumer runner: inbox claim + handler in one transaction, offsets after commit.

Per batch and partition: one database transaction; each message gets a savepoint in which its
``(consumer, ce_id)`` row is claimed in the inbox and its handler runs. A claimed row means the
event was applied before, so the handler is skipped. A handler that keeps failing after bounded
retries, or a message that is not a valid event of the catalog, goes to ``<topic>.dlq`` with the
reason in its headers and is marked dead in the inbox; the consumer carries on. Kafka offsets are
committed only after the database commit, so a crash at any point redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from shared.clock import Clock, SystemClock
from shared.context import Received, Tx
from shared.db import CONNECTION_ERRORS
from shared.envelope import Envelope, EnvelopeError
from shared.events import (
    Event,
    InvalidPayload,
    UnknownEventType,
    decode,
    lookup,
    readable_type,
)
from shared.kafka import dlq_topic, new_consumer
from shared.metrics import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    HANDLER_SECONDS,
)
from shared.outbox import OutboxWriter
from shared.tracing import use_traceparent

log = logging.getLogger(__name__)

Handler = Callable[[Tx, Event], Awaitable[None]]
"""An event reaction: works in the transaction context; what it publishes is sent with it."""

# Errors that mean the database itself is unreachable: retry the whole batch, never dead-letter.
_INFRA_ERRORS = (*CONNECTION_ERRORS, asyncpg.InterfaceError)
_RESTART_BACKOFF = (1.0, 30.0)  # first and longest wait before a failed consumer starts again


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    error: str


@dataclass(frozen=True, slots=True)
class Origin:
    """A partner deployment whose public topics arrive here mirrored (``tianjin.techex.…``)."""

    alias: str
    region: str
    """The region it serves: every event it sends must be inside it (000000: any)."""

    def speaks_for(self, region: str) -> bool:
        return self.region == "000000" or region[:2] == self.region[:2]


@dataclass(frozen=True, slots=True)
class _Parsed:
    record: ConsumerRecord
    envelope: Envelope | None = None
    event: Event | None = None
    handler: Handler | None = None
    dead: DeadLetter | None = None


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topics: list[str],
        handlers: Mapping[type[Event], Handler],
        max_batch: int = 500,
        retries: int = 3,
        backoff: float = 0.05,
        consumer_options: Mapping[str, object] | None = None,
        group_id: str | None = None,
        outbox: OutboxWriter | None = None,
        clock: Clock | None = None,
        origins: Mapping[str, Origin] | None = None,
    ) -> None:
        self.name = name
        self.origins = dict(origins or {})
        """Mirrored topics -> the partner they come from; only public events are read there."""
        self.outbox = outbox or OutboxWriter(name)
        self.clock = clock or SystemClock()
        self.group_id = group_id or name
        """The Kafka consumer group; ``name`` stays the inbox's (and the metrics') consumer."""
        self.bootstrap = bootstrap
        self.pool = pool
        self.producer = producer
        self.topics = topics
        self.handlers = {event_type.ce_type(): h for event_type, h in handlers.items()}
        self.max_batch = max_batch
        self.retries = retries
        self.backoff = backoff
        self.consumer_options = dict(consumer_options or {})
        self.consumer: AIOKafkaConsumer | None = None
        self._processing = asyncio.Lock()
        self._commit_task: asyncio.Task | None = None
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        """Consume until cancelled. Whatever stops the consumer short of that (a broker or the
        database failing where no retry catches it) is logged and the consumer starts again:
        it rejoins its group and resumes from the committed offsets; the inbox drops what was
        applied already."""
        delay, longest = _RESTART_BACKOFF
        while True:
            started = time.monotonic()
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                if time.monotonic() - started > 60:
                    delay = _RESTART_BACKOFF[0]
                log.exception("%s: the consumer failed; starting it again in %.0fs",
                              self.name, delay)
                await asyncio.sleep(delay)
                delay = min(longest, delay * 2)

    async def _consume(self) -> None:
        consumer = new_consumer(
            self.bootstrap, self.group_id, max_poll_records=self.max_batch, **self.consumer_options
        )
        self.consumer = consumer
        self._commit_task = None  # a failed run's last commit is no one's to wait for
        consumer.subscribe(self.topics, listener=_Listener(self))
        try:
            # Inside the try: a service stopped while the consumer is still joining its group
            # must stop it too, or its fetcher and coordinator tasks outlive the service.
            await consumer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                if not batches:
                    continue
                async with self._processing:
                    await self._process(batches)
                    offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
                    self._commit_after(consumer, offsets)
                await self._update_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await self.flush_commits()
            with contextlib.suppress(Exception):
                await consumer.stop()
            self.consumer = None

    async def _process(self, batches: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply one poll's records: partitions side by side, each in its own transaction.

        Order matters only within a partition (one aggregate's events share one), so the
        partitions' database round trips overlap instead of queueing behind each other.
        """
        await asyncio.gather(*(self._process_partition(records) for records in batches.values()))

    async def _process_partition(self, records: list[ConsumerRecord]) -> None:
        parsed = [self._parse(record) for record in records]
        attempt = 0
        while True:
            try:
                if not await self._apply_fast(parsed):
                    await self._apply_carefully(parsed)
                return
            except _INFRA_ERRORS as exc:
                attempt += 1
                delay = min(5.0, self.backoff * 2**attempt)
                log.warning("%s: database unavailable (%r); retrying batch in %.2fs",
                            self.name, exc, delay)
                await asyncio.sleep(delay)

    def _commit_after(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit offsets of a batch whose database transaction has committed.

        The commit runs while the next batch is fetched and applied (commits stay in order);
        if the process dies first, the batch is redelivered and the inbox drops it.
        """
        previous = self._commit_task

        async def commit() -> None:
            if previous is not None:
                await previous
            try:
                await consumer.commit(offsets)
            except (CommitFailedError, KafkaError) as exc:
                # The partition moved to another member; it redelivers, the inbox drops repeats.
                log.warning("%s: offset commit failed: %r", self.name, exc)

        self._commit_task = asyncio.create_task(commit())

    async def flush_commits(self) -> None:
        if self._commit_task is not None:
            await self._commit_task
            self._commit_task = None

    def _parse(self, record: ConsumerRecord) -> _Parsed:
        try:
            envelope = Envelope.from_record(record.key, record.value, record.headers)
        except EnvelopeError as exc:
            return _Parsed(record, dead=DeadLetter(exc.reason, str(exc)))
        readable = readable_type(envelope.type)
        handler = self.handlers.get(readable) if readable else None
        origin = self.origins.get(record.topic)
        try:
            if origin is not None:
                if readable is not None and not lookup(readable).is_public():
                    return _Parsed(record, envelope, dead=DeadLetter(
                        "not-public", f"{envelope.type} is not a public event"))
                if not origin.speaks_for(envelope.region):
                    return _Parsed(record, envelope, dead=DeadLetter(
                        "foreign-region", f"{origin.alias} ({origin.region}) cannot speak for "
                                          f"region {envelope.region}"))
            if handler is None:
                lookup(readable or envelope.type)  # a type this consumer does not need
                return _Parsed(record, envelope)
            return _Parsed(record, envelope, decode(envelope), handler)
        except UnknownEventType as exc:
            return _Parsed(record, envelope, dead=DeadLetter("unknown-type", str(exc)))
        except InvalidPayload as exc:
            return _Parsed(record, envelope, dead=DeadLetter("invalid-payload", str(exc)))

    async def _apply_fast(self, batch: list[_Parsed]) -> bool:
        """The common case in one transaction: one inbox statement for the whole batch, then the
        handlers. False (and nothing kept) if any message needs the careful path."""
        if any(p.dead for p in batch):
            return False
        todo = [p for p in batch if p.handler is not None]
        if not todo:
            self._count_ignored(batch)
            return True
        started = time.perf_counter()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                claimed = set(await conn.fetchval(
                    "WITH claimed AS ("
                    " INSERT INTO inbox (consumer, event_id, event_type)"
                    " SELECT $1, * FROM unnest($2::text[], $3::text[])"
                    " ON CONFLICT DO NOTHING RETURNING event_id)"
                    " SELECT coalesce(array_agg(event_id), '{}') FROM claimed",
                    self.name, [p.envelope.id for p in todo], [p.envelope.type for p in todo],
                ))
                outcomes = []
                for p in todo:
                    fresh = p.envelope.id in claimed
                    claimed.discard(p.envelope.id)  # a repeat inside the batch is a duplicate
                    if fresh:
                        with use_traceparent(p.envelope.traceparent):
                            await self._call(conn, p)
                    outcomes.append("handled" if fresh else "duplicate")
        except _INFRA_ERRORS:
            raise
        except Exception:
            log.info("%s: a handler failed in a batch of %d; retrying one by one",
                     self.name, len(todo))
            return False
        per_event = (time.perf_counter() - started) / len(todo)
        for p, outcome in zip(todo, outcomes, strict=True):
            EVENTS_CONSUMED.labels(self.name, p.envelope.type, outcome).inc()
            HANDLER_SECONDS.labels(self.name, p.envelope.type).observe(per_event)
        self._count_ignored(batch)
        return True

    async def _call(self, conn: asyncpg.Connection, p: _Parsed) -> None:
        """The handler in a transaction context; what it published joins the outbox here."""
        assert p.handler is not None and p.event is not None
        origin = self.origins.get(p.record.topic)
        record = p.record
        tx = Tx(conn, self.clock, p.envelope, origin.alias if origin else None,
                Received(record.topic, record.partition, record.offset))
        await p.handler(tx, p.event)
        await tx.flush(self.outbox)

    def _count_ignored(self, batch: list[_Parsed]) -> None:
        for p in batch:
            if p.handler is None and p.envelope is not None:
                EVENTS_CONSUMED.labels(self.name, p.envelope.type, "ignored").inc()

    async def _apply_carefully(self, batch: list[_Parsed]) -> None:
        """Message by message, each in a savepoint with retries; poison to the dead letters."""
        async with self.pool.acquire() as conn, conn.transaction():
            for p in batch:
                if p.dead:
                    await self._dead_letter(conn, p.record, p.envelope, p.dead)
                elif p.handler is None:
                    self._count_ignored([p])
                else:
                    with use_traceparent(p.envelope.traceparent):
                        await self._handle(conn, p.record, p.envelope, p.event, p.handler)

    async def _handle(
        self,
        conn: asyncpg.Connection,
        record: ConsumerRecord,
        envelope: Envelope,
        event: Event,
        handler: Handler,
    ) -> None:
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                async with conn.transaction():  # a savepoint inside the batch transaction
                    claimed = await conn.fetchval(
                        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        self.name, envelope.id, envelope.type,
                    )
                    if claimed:
                        await self._call(conn, _Parsed(record, envelope, event, handler))
                outcome = "handled" if claimed else "duplicate"
                EVENTS_CONSUMED.labels(self.name, envelope.type, outcome).inc()
                HANDLER_SECONDS.labels(self.name, envelope.type).observe(
                    time.perf_counter() - started)
                return
            except _INFRA_ERRORS:
                raise
            except Exception as exc:
                EVENTS_FAILED.labels(self.name, envelope.type).inc()
                if attempt == self.retries:
                    log.exception("%s: %s %s failed %d times; dead-lettering",
                                  self.name, envelope.type, envelope.id, attempt + 1)
                    await self._dead_letter(
                        conn, record, envelope,
                        DeadLetter("handler-failed", f"{type(exc).__name__}: {exc}"),
                    )
                    return
                await asyncio.sleep(self.backoff * 2**attempt)

    async def _dead_letter(
        self,
        conn: asyncpg.Connection,
        record: ConsumerRecord,
        envelope: Envelope | None,
        dead: DeadLetter,
    ) -> None:
        event_type = envelope.type if envelope else "unknown"
        headers = [
            *(record.headers or ()),
            ("dlq_reason", dead.reason.encode()),
            ("dlq_error", dead.error[:2000].encode()),
            ("dlq_consumer", self.name.encode()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
        ]
        if envelope is not None:
            claimed = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id, event_type, status)"
                " VALUES ($1, $2, $3, 'dead') ON CONFLICT DO NOTHING RETURNING true",
                self.name, envelope.id, envelope.type,
            )
            if not claimed:
                return  # handled or dead-lettered before
        await self.producer.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        EVENTS_DEAD_LETTERED.labels(self.name, event_type, dead.reason).inc()
        log.warning("%s: dead-lettered %s at %s[%d]@%d: %s", self.name, event_type,
                    record.topic, record.partition, record.offset, dead.reason)

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(max(0, high - position))


class _Listener(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Wait for the batch in hand to commit so the next owner starts where this one stopped.
        async with self.runner._processing:
            await self.runner.flush_commits()
            log.info("%s: partitions revoked %s", self.runner.name, sorted(map(str, revoked)))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("%s: partitions assigned %s", self.runner.name, sorted(map(str, assigned)))
        if assigned:
            self.runner.assigned.set()
