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

from shared.envelope import Envelope, EnvelopeError
from shared.events import Event, InvalidPayload, UnknownEventType, decode
from shared.kafka import dlq_topic, new_consumer
from shared.metrics import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    HANDLER_SECONDS,
)
from shared.tracing import use_traceparent

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Event, Envelope], Awaitable[None]]

# Errors that mean the database itself is unreachable: retry the whole batch, never dead-letter.
_INFRA_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
    OSError,
)


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    error: str


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
    ) -> None:
        self.name = name
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
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        """Consume until cancelled."""
        consumer = new_consumer(
            self.bootstrap, self.name, max_poll_records=self.max_batch, **self.consumer_options
        )
        self.consumer = consumer
        consumer.subscribe(self.topics, listener=_Listener(self))
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                if not batches:
                    continue
                async with self._processing:
                    for tp, records in batches.items():
                        await self._process(consumer, tp, records)
                await self._update_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            self.consumer = None

    async def _process(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    for record in records:
                        await self._apply(conn, record)
                break
            except _INFRA_ERRORS as exc:
                attempt += 1
                delay = min(5.0, self.backoff * 2**attempt)
                log.warning("%s: database unavailable (%r); retrying batch in %.2fs",
                            self.name, exc, delay)
                await asyncio.sleep(delay)
        try:
            await consumer.commit({tp: records[-1].offset + 1})
        except (CommitFailedError, KafkaError) as exc:
            # The partition moved to another member; it redelivers, the inbox drops the repeats.
            log.warning("%s: offset commit for %s failed: %r", self.name, tp, exc)

    async def _apply(self, conn: asyncpg.Connection, record: ConsumerRecord) -> None:
        try:
            envelope = Envelope.from_record(record.key, record.value, record.headers)
        except EnvelopeError as exc:
            await self._dead_letter(conn, record, None, DeadLetter(exc.reason, str(exc)))
            return
        handler = self.handlers.get(envelope.type)
        try:
            event = decode(envelope)
        except UnknownEventType as exc:
            await self._dead_letter(conn, record, envelope, DeadLetter("unknown-type", str(exc)))
            return
        except InvalidPayload as exc:
            await self._dead_letter(conn, record, envelope, DeadLetter("invalid-payload", str(exc)))
            return
        if handler is None:
            EVENTS_CONSUMED.labels(self.name, envelope.type, "ignored").inc()
            return
        with use_traceparent(envelope.traceparent):
            await self._handle(conn, record, envelope, event, handler)

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
                        await handler(conn, event, envelope)
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
            log.info("%s: partitions revoked %s", self.runner.name, sorted(map(str, revoked)))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("%s: partitions assigned %s", self.runner.name, sorted(map(str, assigned)))
        if assigned:
            self.runner.assigned.set()
