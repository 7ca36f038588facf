"""Through the real broker: a settled deal becomes a draft; its registration goes out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaConsumer

from services.registry.api import create_app
from services.registry.config import RegistrySettings
from shared.auth import Role
from shared.clock import ShiftedClock, advance_shift
from shared.envelope import Envelope
from shared.events import decode, encode, examples_of
from shared.events.listing import ListingCreated
from shared.events.registry import ContractRegistered
from shared.events.settlement import SettlementCompleted
from shared.kafka import dlq_topic, new_producer
from shared.regions import Region
from tests.services.registry.builders import party, terms
from tests.services.registry.conftest import fetchval
from tests.support.services import bearer, running

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
        for _ in range(200):  # the listing known first, so the draft names its subject
            if (await client.get(f"/listings/{listing.listing_id}",
                                 headers=registrar)).status_code == 200:
                break
            await asyncio.sleep(0.1)
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


SHIFT = timedelta(days=40)


async def test_under_a_shifted_clock_ce_time_is_each_events_own_time(database_url, common,
                                                                     tmp_path):
    shift_file = tmp_path / "clock-shift"
    advance_shift(shift_file, SHIFT)
    app = create_app(RegistrySettings(database_url=database_url), common,
                     clock=ShiftedClock(shift_file))
    seller = bearer(common, Role.SELLER, "230100", "hit-university")
    registrar = bearer(common, Role.REGISTRAR, "230100", "harbin-registrar")
    async with running(app) as client:
        filed = await client.post("/contracts", headers=seller, json=terms())
        assert filed.status_code == 201, filed.text
        done = await client.post(f"/contracts/{filed.json()['id']}/registration",
                                 headers=registrar)
        assert done.status_code == 200, done.text
        records = await _read(common.kafka_bootstrap_servers, common.topic("contract"),
                              lambda seen: len(seen) >= 2)
    assert [dict(r.headers)["ce_type"] for r in records] == [
        b"cn.techex.contract.filed.v1", b"cn.techex.contract.registered.v1"]
    for record in records:
        envelope = Envelope.from_record(record.key, record.value, record.headers)
        event = decode(envelope)
        assert envelope.time == event.time() == getattr(event, type(event).time_field)
        # The simulated time, not the wall clock of the write.
        assert abs(envelope.time - (datetime.now(UTC) + SHIFT)) < timedelta(minutes=2)


def flow_from(event: ContractRegistered) -> dict[str, str]:
    """What a consumer of another system computes from the event alone: for each region the
    contract counts in, the seller's or buyer's side (技术输出 / 技术吸纳)."""
    def chain(code: str | None) -> list[str]:
        if code is None:
            return []
        region = Region.parse(code)
        return [region.code, *(r.code for r in region.ancestors())]

    seller = next(p for p in event.parties if p.role == "seller")
    buyer = next(p for p in event.parties if p.role == "buyer")
    sellers, buyers = chain(seller.region), chain(buyer.region)
    return {**{r: "inflow" for r in buyers},
            **{r: "internal" if r in buyers else "outflow" for r in sellers}}


@pytest.mark.parametrize(("buyer", "country", "crosses"), [
    ("230602", "CN", False),   # 大庆: inflow of Daqing, internal to Heilongjiang
    ("130102", "CN", True),    # 石家庄: outflow of Heilongjiang, inflow of Hebei
    (None, "RU", True),        # abroad
])
async def test_contract_registered_alone_tells_amounts_category_parties_and_flow(
        database_url, common, buyer, country, crosses):
    app = create_app(RegistrySettings(database_url=database_url), common)
    seller = bearer(common, Role.SELLER, "230100", "hit-university")
    registrar = bearer(common, Role.REGISTRAR, "230100", "harbin-registrar")
    admin = bearer(common, Role.ADMIN, "230000", "exchange-admin")
    data = terms(buyer=buyer, buyer_country=country, total=300_000_000, tech=250_000_000)
    async with running(app) as client:
        filed = await client.post("/contracts", headers=seller, json=data)
        assert filed.status_code == 201, filed.text
        done = await client.post(f"/contracts/{filed.json()['id']}/registration",
                                 headers=registrar)
        assert done.status_code == 200, done.text
        records = await _read(common.kafka_bootstrap_servers, common.topic("contract"),
                              lambda seen: any(b"registered" in dict(r.headers)["ce_type"]
                                               for r in seen))
        event = decode(Envelope.from_record(records[-1].key, records[-1].value,
                                            records[-1].headers))
        assert isinstance(event, ContractRegistered)
        assert (event.registration_number, event.registrar_region) == (
            done.json()["registration_number"], "230100")
        assert (event.category, event.subtype, event.tech_field, event.ip_type) == (
            "transfer", "patent", "new_materials", "patent_invention")
        assert (event.total_amount_fen, event.tech_amount_fen) == (300_000_000, 250_000_000)
        assert (str(event.signed_on), str(event.valid_from), str(event.valid_until)) == (
            data["signed_on"], data["valid_from"], data["valid_until"])
        assert [(p.role, p.country, p.region, p.entity_type) for p in event.parties] == [
            ("seller", "CN", "230102", "university"), ("buyer", country, buyer, "enterprise")]
        assert (event.region, event.buyer_region) == ("230102", buyer)
        assert (event.crosses_province, event.cross_border) == (crosses, country != "CN")
        assert event.flow == flow_from(event)

        # The flow the event tells is the one the registry's own statistics count.
        year = event.registered_at.astimezone(SHANGHAI).year
        for region, flow in event.flow.items():
            stats = await client.get("/statistics", headers=admin,
                                     params={"region": region, "year": year, "by": "flow"})
            assert stats.status_code == 200, stats.text
            assert {r["key"]: (r["contracts"], r["tech_amount_fen"])
                    for r in stats.json()["rows"]} == {flow: (1, 250_000_000)}, region


def test_an_older_contract_registered_without_the_figures_still_reads():
    old = examples_of(ContractRegistered)[-1]
    assert set(old) == {"contract_id", "deal_id", "listing_id", "region",
                        "registration_number", "registered_at"}
    event = ContractRegistered.model_validate(old)
    assert event.parties == [] and event.flow == {} and event.tech_amount_fen is None
