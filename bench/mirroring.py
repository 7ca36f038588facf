"""Propagation between two deployments through MirrorMaker 2: from a record's publication on
one cluster to its consumption from the mirrored topic on another.

Runs on the federation layout of `techex stack up --federation` (Tianjin and Hebei: two
single-node clusters and Hebei's MirrorMaker; the ones running are used as they are). A fresh
public topic ``techex.public.bench-<tag>`` is published on Tianjin at a steady rate; a consumer
on Hebei reads ``tianjin.techex.public.bench-<tag>``; each record carries its send time.

    .venv/bin/python bench/mirroring.py [--records 400] [--rate 50]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.federation import mirrored_topic, public_topic
from shared.kafka import delete_topics, ensure_topics, new_producer
from techex.stack.federation import FederationStack
from techex.stack.mirrormaker import topic_partitions

PARTITIONS = 4


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(p * 10) - 1]


async def run(args: argparse.Namespace, layout: FederationStack) -> dict:
    source, target = layout.deployment("tianjin"), layout.deployment("hebei")
    topic = public_topic(source.federation.topic_prefix, f"bench-{uuid.uuid4().hex[:8]}")
    remote = mirrored_topic(source.alias, topic)
    await ensure_topics(source.bootstrap, [topic], PARTITIONS)
    producer = new_producer(source.bootstrap)
    await producer.start()
    consumer = None
    try:
        # MirrorMaker finds the new topic at its next refresh and creates its mirror.
        discovered = time.perf_counter()
        while await topic_partitions(target.bootstrap, remote) < PARTITIONS:
            if time.perf_counter() - discovered > 120:
                raise TimeoutError(f"{remote} did not appear on {target.bootstrap}")
            await asyncio.sleep(0.2)
        discovery_s = time.perf_counter() - discovered
        consumer = AIOKafkaConsumer(bootstrap_servers=target.bootstrap, enable_auto_commit=False,
                                    fetch_max_wait_ms=50)
        await consumer.start()
        tps = [TopicPartition(remote, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        latencies: dict[str, float] = {}

        async def receive(sent: set[str], done: asyncio.Event, timeout: float) -> None:
            """Take each record's latency as it arrives, until all of ``sent`` are in and the
            publisher is done."""
            deadline = time.perf_counter() + timeout
            while not (done.is_set() and sent <= latencies.keys()):
                if time.perf_counter() > deadline:
                    missing = len(sent - latencies.keys())
                    raise TimeoutError(f"{missing} records did not arrive within {timeout}s")
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    for r in records:
                        body = json.loads(r.value)
                        latencies.setdefault(body["id"], (now - body["sent"]) * 1000)

        async def publish(n: int, rate: float, timeout: float) -> set[str]:
            sent: set[str] = set()
            done = asyncio.Event()
            receiver = asyncio.create_task(receive(sent, done, timeout))
            start = time.perf_counter()
            for i in range(n):
                ident = uuid.uuid4().hex
                sent.add(ident)
                await producer.send(topic, json.dumps({"id": ident, "sent": time.time()}).encode(),
                                    key=ident.encode())
                await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
            done.set()
            await receiver
            return sent

        # Warm up until records flow (the tasks take the new partitions on after a rebalance).
        warmup = await publish(20, 20, timeout=120)
        ids = await publish(args.records, args.rate, timeout=60 + args.records / args.rate)
        values = [latencies[i] for i in ids]
        return {
            "records": len(values),
            "rate_per_s": args.rate,
            "warmup_records": len(warmup),
            "topic_discovery_s": round(discovery_s, 2),
            "mirror_p50_ms": round(pct(values, 50), 1),
            "mirror_p95_ms": round(pct(values, 95), 1),
            "mirror_p99_ms": round(pct(values, 99), 1),
            "mirror_max_ms": round(max(values), 1),
        }
    finally:
        if consumer:
            await consumer.stop()
        await producer.stop()
        await delete_topics(target.bootstrap, remote)
        await delete_topics(source.bootstrap, topic)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=400)
    p.add_argument("--rate", type=float, default=50, help="records published per second")
    args = p.parse_args()
    if args.records < 200:
        sys.exit("--records: at least 200, so that the 99th percentile means something")
    layout = FederationStack("dev", deployments=("tianjin", "hebei"))
    started = layout.up()
    try:
        figures = asyncio.run(run(args, layout))
    finally:
        if started:
            layout.down()
    print(f"MirrorMaker 2, tianjin -> hebei, {figures['records']} records at "
          f"{args.rate:.0f}/s: p50 {figures['mirror_p50_ms']} ms, p95 {figures['mirror_p95_ms']}"
          f" ms, p99 {figures['mirror_p99_ms']} ms, max {figures['mirror_max_ms']} ms "
          f"(a new public topic mirrored after {figures['topic_discovery_s']} s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
