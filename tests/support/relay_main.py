"""A relay in a process of its own, for tests that kill it: ``python -m tests.support.relay_main
DATABASE_URL BOOTSTRAP TOPIC_PREFIX BATCH``."""

import asyncio
import sys

import asyncpg

from shared.kafka import new_producer
from shared.settings import CommonSettings
from tests.support.pipeline import relay_for


async def main(url: str, bootstrap: str, prefix: str, batch: int) -> None:
    common = CommonSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    producer = new_producer(bootstrap)
    await producer.start()
    await relay_for(common, url, pool, producer, batch_size=batch).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
