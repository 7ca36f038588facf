"""Through the real broker: a settled deal becomes a draft; its registration goes out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from services.registry.api import create_app
from services.registry.config import RegistrySettings
from shared.auth import Role
from shared.envelope import Envelope
from shared.events import decode, encode, examples_of
from shared.events.listing import ListingCreated
from shared.events.procedures import SettlementCompleted
from shared.kafka import dlq_topic, new_producer
from tests.services.registry.builders import party
from tests.services.registry.conftest import fetchval
from tests.support.services import bearer, running


async def _send(common, *events) -> None:
    producer = new_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            key, value, headers = Envelope(
                id=str(uuid.uuid4()), type=event.ce_type(), source="/settlement/230100",
                subject=event.subject(), time=datetime.now(UTC), region="230102",
                data=encode(event)).to_record()
            await producer.send_and_wait(common.topic(event.aggregate), value=value, key=key,
                                         headers=headers)
    finally:
        await producer.stop()


async def _read(bootstrap: str, topic: str, until, timeout: float = 30) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    seen: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(seen) and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen.extend(records)
        return seen
    finally:
        await consumer.stop()


def _settlement(deal_id: uuid.UUID, listing_id: uuid.UUID | None, seller: str | None
                ) -> SettlementCompleted:
    example = examples_of(SettlementCompleted)[0]
    return SettlementCompleted.model_validate(
        example | {"deal_id": str(deal_id),
                   "listing_id": str(listing_id) if listing_id else None,
                   "seller_id": seller})


async def test_settled_deal_to_draft_to_registration_on_the_contract_topic(database_url, common):
    app = create_app(RegistrySettings(database_url=database_url, gauge_seconds=0.2), common)
    seller = bearer(common, Role.SELLER, "230100", "hit-university")
    registrar = bearer(common, Role.REGISTRAR, "230100", "harbin-registrar")
    listing = ListingCreated.model_validate(examples_of(ListingCreated)[0])
    deal_id = uuid.uuid4()
    async with running(app) as client:
        settled = _settlement(deal_id, listing.listing_id, "hit-university")
        await _send(common, listing)
        await asyncio.sleep(0.5)  # the listing first, so the draft names its subject
        await _send(common, settled, settled)  # delivered twice by a retrying producer
        drafts: list = []
        for _ in range(200):
            drafts = (await client.get("/drafts", headers=seller)).json()
            if drafts:
                break
            await asyncio.sleep(0.1)
        assert len(drafts) == 1, drafts
        draft = drafts[0]
        assert draft["deal_id"] == str(deal_id) and draft["status"] == "draft"
        assert draft["terms"]["project_name"] == listing.listing.title
        assert draft["terms"]["ip"]["numbers"] == ["ZL201510012345.3"]
        assert draft["terms"]["subtype"] == "patent"
        assert draft["terms"]["tech_amount_fen"] == 186_000_000
        assert draft["terms"]["parties"][0]["entity_type"] == "university"

        incomplete = await client.post(f"/contracts/{draft['id']}/submission", headers=seller,
                                       json={})
        assert incomplete.status_code == 422  # dates, buyer's region, expected output …
        completion = {
            "valid_from": "2026-04-02", "valid_until": "2028-04-01",
            "expected_investment_fen": 100_000_000, "expected_output_fen": 900_000_000,
            "parties": [draft["terms"]["parties"][0],
                        party("buyer", "230602", entity_type="enterprise",
                              name="龙江涂料有限公司")]}
        filed = await client.post(f"/contracts/{draft['id']}/submission", headers=seller,
                                  json=completion)
        assert filed.status_code == 200, filed.text
        done = await client.post(f"/contracts/{draft['id']}/registration", headers=registrar)
        assert done.status_code == 200, done.text
        number = done.json()["registration_number"]

        records = await _read(common.kafka_bootstrap_servers, common.topic("contract"),
                              lambda seen: any(b"registered" in dict(r.headers)["ce_type"]
                                               for r in seen))
        types = [dict(r.headers)["ce_type"].decode() for r in records]
        assert types == ["cn.techex.contract.drafted.v1", "cn.techex.contract.filed.v1",
                         "cn.techex.contract.registered.v1"]
        registered = records[-1]
        event = decode(Envelope.from_record(registered.key, registered.value,
                                            registered.headers))
        assert (event.deal_id, event.listing_id, event.registration_number) == (
            deal_id, listing.listing_id, number)
        assert event.region == "230102"
        assert await fetchval(database_url, "SELECT count(*) FROM contracts") == 1
        metrics = (await client.get("/metrics")).text
        assert ('techex_registry_turnover_fen_total{category="transfer",province="230000"}'
                in metrics)
        for _ in range(50):  # the gauges are recounted every 0.2 s here
            if "techex_registry_filings_pending 0.0" in metrics:
                break
            await asyncio.sleep(0.1)
            metrics = (await client.get("/metrics")).text
        assert "techex_registry_filings_pending 0.0" in metrics
        assert "techex_registry_filings_overdue 0.0" in metrics


async def test_a_settlement_naming_no_known_seller_goes_to_the_dead_letters(database_url,
                                                                            common):
    app = create_app(RegistrySettings(database_url=database_url, consumer_retries=1), common)
    async with running(app):
        await _send(common, _settlement(uuid.uuid4(), None, None))
        dead = await _read(common.kafka_bootstrap_servers,
                           dlq_topic(common.topic("settlement")), lambda seen: bool(seen))
        assert len(dead) == 1
        assert await fetchval(database_url, "SELECT count(*) FROM contracts") == 0
