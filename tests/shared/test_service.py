"""What every service is made of: readiness that means "commands are accepted".

A broker of this test's own is stopped under a running listing service (the suite's shared
broker is left alone): the service stays ready, says Kafka is unreachable in its answer and
in ``techex_kafka_reachable``, keeps accepting commands into its outbox, and relays them once
the broker is back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from shared.settings import CommonSettings
from techex.stack.kafka import EmbeddedKafka
from tests.support.auction_processes import free_port
from tests.support.listing import achievement
from tests.support.pipeline import wait_for
from tests.support.services import bearer, running

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def own_kafka(tmp_path) -> AsyncIterator[EmbeddedKafka]:
    kafka = EmbeddedKafka(tmp_path / "kafka", [(free_port(), free_port())], partitions=1)
    await asyncio.to_thread(kafka.up, lambda _: None)
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.down)


def _reachable(metrics: str) -> float:
    [line] = [line for line in metrics.splitlines()
              if line.startswith('techex_kafka_reachable{service="listing"}')]
    return float(line.split()[-1])


async def test_a_service_stays_ready_while_kafka_is_away_and_relays_once_it_is_back(
        own_kafka, database_url):
    common = CommonSettings(kafka_bootstrap_servers=own_kafka.bootstrap,
                            topic_prefix=f"t{uuid.uuid4().hex[:10]}", topic_partitions=1)
    app = create_app(ListingSettings(database_url=database_url), common)
    seller = bearer(common, Role.SELLER, "230100")
    async with running(app) as listing:
        ready = await listing.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        pool = app.state.runtime.pool

        await asyncio.to_thread(own_kafka.down)
        loop = asyncio.get_running_loop()
        started = loop.time()
        away = await listing.get("/readyz")
        assert loop.time() - started < 3  # the checks are bounded and run side by side
        assert away.status_code == 200, away.text
        body = away.json()
        assert body["status"] == "degraded" and body["checks"] == {"database": "ok"}
        assert body["details"]["kafka"].startswith("error: ")
        assert _reachable((await listing.get("/metrics")).text) == 0

        created = await listing.post("/achievements", json=achievement(), headers=seller)
        assert created.status_code == 201, created.text
        assert await pool.fetchval("SELECT count(*) FROM outbox") >= 1

        await asyncio.to_thread(own_kafka.up, lambda _: None)

        async def back() -> bool:
            r = await listing.get("/readyz")
            return r.status_code == 200 and r.json()["status"] == "ready"
        await wait_for(back, timeout=90, what="readyz to say Kafka is back")

        async def relayed() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox") == 0
        await wait_for(relayed, timeout=90, what="the outbox to be relayed")
        assert _reachable((await listing.get("/metrics")).text) == 1

