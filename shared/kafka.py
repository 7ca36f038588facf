"""Kafka client factories and topic administration (aiokafka)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.partitioner import DefaultPartitioner, murmur2

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


class KeyPartitioner:
    """aiokafka's default partitioner (murmur2, as the Java client) with the hash memoised.

    Keys are aggregate ids, which repeat; the pure-Python murmur2 costs more per message than
    the rest of the send path, so each key is hashed once.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return DefaultPartitioner()(key, all_partitions, available)
        h = self._hashes.get(key)
        if h is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            h = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[h % len(all_partitions)]


def new_producer(bootstrap: str, **overrides) -> AIOKafkaProducer:
    """An idempotent producer: acks from all in-sync replicas, no reordering on retry."""
    options = dict(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        partitioner=KeyPartitioner(),
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )
    options.update(overrides)
    return AIOKafkaProducer(**options)


def new_consumer(bootstrap: str, group_id: str, **overrides) -> AIOKafkaConsumer:
    """A group consumer that never commits on its own: offsets follow the database commit."""
    options = dict(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_poll_records=500,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
    )
    options.update(overrides)
    return AIOKafkaConsumer(**options)


async def wait_until_ready(bootstrap: str, timeout: float = 60.0, brokers: int = 1) -> None:
    """Wait until the cluster answers metadata requests with at least ``brokers`` brokers."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
        try:
            await admin.start()
            up = len((await admin.describe_cluster())["brokers"])
            if up >= brokers:
                return
            last = f"{up} of {brokers} brokers up"
        except (KafkaError, OSError) as exc:
            last = repr(exc)
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {bootstrap} not ready after {timeout:.0f}s: {last}")


def replication_for(brokers: int, wanted: int | None = None) -> tuple[int, int]:
    """Replication factor and ``min.insync.replicas`` of the topics techex creates.

    ``wanted`` (``TECHEX_TOPIC_REPLICATION``) or else 3 copies, fewer only on a cluster of
    fewer brokers (one on the embedded single broker); two copies in sync once there are three,
    so an acknowledged event survives the loss of a broker and writes go on while one is down.
    """
    factor = wanted or max(1, min(3, brokers))
    return factor, 2 if factor >= 3 else 1


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], partitions: int, replication: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet (replicated as :func:`replication_for` says for
    this cluster); returns the ones created. Existing topics are left as they are."""
    wanted = sorted(set(topics))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = await admin.describe_topics()
        missing = [t for t in wanted if t not in {e["topic"] for e in existing}]
        if not missing:
            return []
        factor, min_insync = replication_for(
            await _broker_count(admin, existing), replication)
        config = {"min.insync.replicas": str(min_insync)}
        response = await admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=factor,
                      topic_configs=config) for t in missing]
        )
        for topic, code, *message in response.topic_errors:
            error = for_code(code)
            if code and error is not TopicAlreadyExistsError:  # another process won the race
                raise error(f"creating topic {topic} (replication {factor}): "
                            f"{message[0] if message else ''}")
        await _await_metadata(admin, missing)
        return missing
    finally:
        await admin.close()


async def _broker_count(admin: AIOKafkaAdminClient, topics: list[dict]) -> int:
    """The brokers the cluster has: those up, and those holding replicas (one that is down
    for a moment still counts, so a topic made meanwhile is not copied fewer times)."""
    ids = {b["node_id"] for b in (await admin.describe_cluster())["brokers"]}
    ids |= {r for t in topics for p in t["partitions"] for r in p["replicas"]}
    return len(ids)


async def _await_metadata(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if set(topics) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix`` (throw-away prefixes of tests and
    benchmarks; a broker with thousands of idle partitions keeps a core busy)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
