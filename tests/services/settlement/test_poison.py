"""A DealConcluded the settlement cannot post (an account id the ledger refuses) goes to the
dead-letter topic after its retries; the next deal is settled as usual."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from services.settlement.api import create_app
from services.settlement.config import SettlementSettings
from shared.envelope import Envelope
from shared.events import encode
from shared.kafka import dlq_topic, new_producer
from tests.services.settlement.support import concluded, operator
from tests.support.auction_processes import eventually
from tests.support.services import running

pytestmark = pytest.mark.timeout(120)


def _record(event) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="/auction/230102",
                    subject=event.subject(), time=datetime.now(UTC), region="230102",
                    data=encode(event), traceparent=None).to_record()


async def test_a_poison_deal_is_dead_lettered_and_the_next_one_settles(database_url, common,
                                                                        clock):
    app = create_app(SettlementSettings(database_url=database_url), common, clock=clock)
    bad = concluded(uuid.uuid4(), "longjiang-coatings", 1_000_000, route="negotiated",
                    seller_id=" spaced seller ")  # the ledger refuses such an owner id
    good = concluded(uuid.uuid4(), "longjiang-coatings", 1_000_000, route="negotiated")
    async with running(app) as client:
        producer = new_producer(common.kafka_bootstrap_servers)
        await producer.start()
        try:
            for event in (bad, good):
                key, value, headers = _record(event)
                await producer.send_and_wait(common.topic("deal"), value=value, key=key,
                                             headers=headers)
        finally:
            await producer.stop()

        async def settled():
            r = await client.get(f"/deals/{good.deal_id}", headers=operator(common))
            return r.status_code == 200
        await eventually(settled, 60, "the good deal to be opened")

        dead = AIOKafkaConsumer(dlq_topic(common.topic("deal")),
                                bootstrap_servers=common.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", group_id=None)
        await dead.start()
        try:
            record = await dead.getone()
        finally:
            await dead.stop()
        headers = dict(record.headers)
        assert headers["dlq_reason"] == b"handler-failed"
        assert b"spaced seller" in headers["dlq_error"]
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM deals WHERE deal_id = $1",
                                       bad.deal_id) == 0
        finally:
            await conn.close()
