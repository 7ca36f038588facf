"""A consumer in a process of its own, for tests that kill it: ``python -m
tests.support.consumer_main DATABASE_URL BOOTSTRAP TOPIC_PREFIX GROUP BATCH``."""

import asyncio
import sys

import asyncpg

from shared.kafka import new_producer
from shared.settings import CommonSettings
from tests.support.pipeline import runner_for


async def main(url: str, bootstrap: str, prefix: str, group: str, batch: int) -> None:
    common = CommonSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    producer = new_producer(bootstrap)
    await producer.start()
    await runner_for(common, pool, producer, name=group, max_batch=batch).run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5])))
