"""A listing's life through the API, over the real database and Kafka."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from shared.clock import ManualClock
from shared.events.auction import AuctionAnnounced, AuctionFailed
from shared.events.registry import ContractRegistered
from shared.kafka import new_producer
from shared.outbox import OutboxWriter
from tests.support.listing import achievement, demand
from tests.support.services import bearer, running

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def listing(database_url, common, clock):
    """The listing service with its relay held back, so tests can read the outbox."""
    app = create_app(ListingSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.app = app
        yield client


async def _events(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT type, aggregateid, payload FROM outbox ORDER BY seq")
    finally:
        await conn.close()


def _types(events) -> list[str]:
    return [e["type"].removeprefix("cn.techex.").removesuffix(".v1") for e in events]


async def _publish(client, common, **overrides) -> str:
    seller = bearer(common, Role.SELLER, "230100", "hit")
    created = await client.post("/achievements", json=achievement(**overrides), headers=seller)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    r = await client.post(f"/achievements/{listing_id}/submit", headers=seller)
    assert r.status_code == 200, r.text
    r = await client.post(f"/achievements/{listing_id}/approve",
                          headers=bearer(common, Role.OPERATOR, "230100"))
    assert r.status_code == 200, r.text
    return listing_id


async def test_file_submit_review_approve(listing, common):
    seller = bearer(common, Role.SELLER, "230100", "hit")
    operator = bearer(common, Role.OPERATOR, "230100", "harbin-exchange")
    listing_id = (await listing.post("/achievements", json=achievement(),
                                     headers=seller)).json()["id"]
    assert (await listing.post(f"/achievements/{listing_id}/submit",
                               headers=seller)).json()["status"] == "submitted"
    queue = await listing.get("/review-queue", headers=operator)
    assert [a["id"] for a in queue.json()] == [listing_id]
    assert (await listing.post(f"/achievements/{listing_id}/review",
                               headers=operator)).json()["status"] == "under_review"
    approved = (await listing.post(f"/achievements/{listing_id}/approve",
                                   headers=operator)).json()
    assert approved["status"] == "published"
    assert approved["expires_at"] == (T0 + timedelta(days=365)).isoformat().replace(
        "+00:00", "Z")
    assert _types(await _events(listing.db)) == ["listing.created", "listing.submitted",
                                                 "listing.review_started", "listing.published",
                                                 # the derive hook's, for partners
                                                 "public.catalog.listing_published"]
    public = await listing.get(f"/achievements/{listing_id}",
                               headers=bearer(common, Role.BUYER, "210100"))
    assert public.status_code == 200


async def test_operator_outside_the_region_cannot_review_but_the_province_can(listing, common):
    seller = bearer(common, Role.SELLER, "230100", "hit")
    listing_id = (await listing.post("/achievements", json=achievement(),
                                     headers=seller)).json()["id"]
    await listing.post(f"/achievements/{listing_id}/submit", headers=seller)
    before = await _events(listing.db)
    other_city = await listing.post(f"/achievements/{listing_id}/approve",
                                    headers=bearer(common, Role.OPERATOR, "230200"))
    assert other_city.status_code == 403
    assert other_city.json()["type"] == "urn:techex:problem:forbidden-region"
    assert await _events(listing.db) == before
    province = await listing.post(f"/achievements/{listing_id}/approve",
                                  headers=bearer(common, Role.OPERATOR, "230000"))
    assert province.status_code == 200 and province.json()["status"] == "published"


async def test_editing_a_published_listing_is_refused_and_changes_nothing(listing, common):
    listing_id = await _publish(listing, common)
    seller = bearer(common, Role.SELLER, "230100", "hit")
    before = await _events(listing.db)
    r = await listing.put(f"/achievements/{listing_id}", json=achievement(title="改过的标题"),
                          headers=seller)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:techex:problem:listing-not-editable"
    assert await _events(listing.db) == before
    got = await listing.get(f"/achievements/{listing_id}", headers=seller)
    assert got.json()["title"] == achievement()["title"]


async def test_rejected_with_reason_then_edited_and_resubmitted(listing, common):
    seller = bearer(common, Role.SELLER, "230100", "hit")
    operator = bearer(common, Role.OPERATOR, "230102")
    listing_id = (await listing.post("/achievements", json=achievement(),
                                     headers=seller)).json()["id"]
    await listing.post(f"/achievements/{listing_id}/submit", headers=seller)
    empty_reason = await listing.post(f"/achievements/{listing_id}/reject", json={"reason": ""},
                                      headers=operator)
    assert empty_reason.status_code == 422
    rejected = await listing.post(f"/achievements/{listing_id}/reject",
                                  json={"reason": "知识产权证明材料不全"}, headers=operator)
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reject_reason"] == "知识产权证明材料不全"
    edited = await listing.put(f"/achievements/{listing_id}",
                               json=achievement(abstract="补充了专利证书。"), headers=seller)
    assert edited.json()["status"] == "draft"
    assert (await listing.post(f"/achievements/{listing_id}/submit",
                               headers=seller)).json()["status"] == "submitted"


async def test_another_seller_cannot_touch_the_listing(listing, common):
    listing_id = (await listing.post("/achievements", json=achievement(),
                                     headers=bearer(common, Role.SELLER, "230100", "hit"))
                  ).json()["id"]
    r = await listing.post(f"/achievements/{listing_id}/submit",
                           headers=bearer(common, Role.SELLER, "230100", "heu"))
    assert r.status_code == 403 and r.json()["type"] == "urn:techex:problem:listing-not-owner"


async def test_cross_border_listing_waits_for_its_security_review(listing, common):
    seller = bearer(common, Role.SELLER, "230100", "hit")
    operator = bearer(common, Role.OPERATOR, "230100")
    listing_id = (await listing.post("/achievements", json=achievement(cross_border=True),
                                     headers=seller)).json()["id"]
    await listing.post(f"/achievements/{listing_id}/submit", headers=seller)
    blocked = await listing.post(f"/achievements/{listing_id}/approve", headers=operator)
    assert blocked.status_code == 409
    assert blocked.json()["type"] == "urn:techex:problem:listing-security-review-required"
    reviewed = await listing.post(f"/achievements/{listing_id}/security-review",
                                  json={"outcome": "cleared", "reference": "黑科审〔2026〕12号"},
                                  headers=bearer(common, Role.REGULATOR, "230000"))
    assert reviewed.status_code == 200
    assert reviewed.json()["security_review"]["outcome"] == "cleared"
    assert (await listing.post(f"/achievements/{listing_id}/approve",
                               headers=operator)).json()["status"] == "published"


async def test_incomplete_listing_cannot_be_submitted(listing, common):
    seller = bearer(common, Role.SELLER, "230100", "hit")
    listing_id = (await listing.post("/achievements", json=achievement(holders=[]),
                                     headers=seller)).json()["id"]
    r = await listing.post(f"/achievements/{listing_id}/submit", headers=seller)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "body.holders", "message": "required for review"}]


async def test_published_listings_expire_at_the_end_of_their_period(listing, common, clock):
    listing_id = await _publish(listing, common)
    runtime = listing.app.state.runtime
    assert await runtime.scheduler.fire_due() == 0
    clock.advance(timedelta(days=365))
    assert await runtime.scheduler.fire_due() == 1
    got = await listing.get(f"/achievements/{listing_id}",
                            headers=bearer(common, Role.SELLER, "230100", "hit"))
    assert got.json()["status"] == "expired"
    assert _types(await _events(listing.db))[-2:] == ["listing.expired",
                                                      "public.catalog.listing_withdrawn"]


async def test_saved_interest_is_notified_when_a_matching_listing_is_published(listing, common):
    buyer = bearer(common, Role.BUYER, "230100", "longjiang-coatings")
    saved = await listing.post("/interests", json={"query": "石墨烯 防腐", "min_trl": 5},
                               headers=buyer)
    assert saved.status_code == 201, saved.text
    no_criteria = await listing.post("/interests", json={}, headers=buyer)
    assert no_criteria.status_code == 422
    matching = await _publish(listing, common)
    await _publish(listing, common, title="寒地水稻高产栽培技术", keywords=["寒地水稻"],
                   abstract="适合黑龙江积温带的水稻栽培。", field="agriculture")
    matched = [e for e in await _events(listing.db)
               if e["type"] == "cn.techex.listing.interest_matched.v1"]
    assert [m["aggregateid"] for m in matched] == [matching]
    assert '"buyer_id": "longjiang-coatings"' in matched[0]["payload"]
    assert "石墨烯" in matched[0]["payload"]


async def test_demand_open_call_proposal_and_award(listing, common):
    enterprise = bearer(common, Role.BUYER, "130100", "jizhong-steel")
    provider = bearer(common, Role.SELLER, "230100", "hit")
    demand_id = (await listing.post("/demands", json=demand(), headers=enterprise)).json()["id"]
    proposal = await listing.post(f"/demands/{demand_id}/proposals",
                                  json={"summary": "石墨烯防腐涂层方案", "price_fen": 180_000_000},
                                  headers=provider)
    assert proposal.status_code == 201, proposal.text
    again = await listing.post(f"/demands/{demand_id}/proposals",
                               json={"summary": "再次提交"}, headers=provider)
    assert again.status_code == 409
    stranger = await listing.post(f"/demands/{demand_id}/award",
                                  json={"proposal_id": proposal.json()["id"]},
                                  headers=bearer(common, Role.BUYER, "130100", "other"))
    assert stranger.status_code == 403
    awarded = await listing.post(f"/demands/{demand_id}/award",
                                 json={"proposal_id": proposal.json()["id"]}, headers=enterprise)
    assert awarded.json()["status"] == "awarded"
    late = await listing.post(f"/demands/{demand_id}/proposals", json={"summary": "晚了"},
                              headers=bearer(common, Role.SELLER, "210100", "neu"))
    assert late.status_code == 409
    assert _types(await _events(listing.db)) == [
        "demand.posted", "demand.proposal_submitted", "demand.awarded"]


async def test_bad_demands_are_refused(listing, common):
    enterprise = bearer(common, Role.BUYER, "130100", "jizhong-steel")
    past = await listing.post("/demands", json=demand(deadline="2020-01-01T00:00:00Z"),
                              headers=enterprise)
    assert past.status_code == 422
    naive = await listing.post("/demands", json=demand(deadline="2027-01-01T00:00:00"),
                               headers=enterprise)
    assert naive.status_code == 422
    assert await _events(listing.db) == []


async def _send(common, event) -> None:
    producer = new_producer(common.kafka_bootstrap_servers)
    await producer.start()
    try:
        from shared.envelope import Envelope
        from shared.events import encode

        key, value, headers = Envelope(
            id=str(uuid.uuid4()), type=event.ce_type(), source="/auction/230100",
            subject=event.subject(), time=datetime.now(UTC), region="230102",
            data=encode(event)).to_record()
        await producer.send_and_wait(common.topic(event.aggregate), value=value, key=key,
                                     headers=headers)
    finally:
        await producer.stop()


async def test_the_listing_follows_the_procedures_of_other_services(database_url, common):
    app = create_app(ListingSettings(database_url=database_url), common)
    async with running(app) as client:
        listing_id = await _publish(client, common)
        seller = bearer(common, Role.SELLER, "230100", "hit")

        async def status_becomes(expected: str) -> None:
            for _ in range(200):
                got = (await client.get(f"/achievements/{listing_id}", headers=seller)).json()
                if got["status"] == expected:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"status stayed {got['status']}, expected {expected}")

        procedure = uuid.uuid4()
        now = datetime.now(UTC)
        await _send(common, AuctionAnnounced(
            procedure_id=procedure, listing_id=uuid.UUID(listing_id), route="auction",
            region="230102", announced_at=now, starts_at=now + timedelta(days=7)))
        await status_becomes("in_transaction")
        await _send(common, AuctionFailed(procedure_id=procedure,
                                          listing_id=uuid.UUID(listing_id), region="230102",
                                          reason="no-bid", failed_at=now))
        await status_becomes("published")
        await _send(common, ContractRegistered(
            contract_id=uuid.uuid4(), deal_id=uuid.uuid4(), listing_id=uuid.UUID(listing_id),
            region="230102", registration_number="2026230100010001", registered_at=now))
        await status_becomes("traded")
        withdraw = await client.post(f"/achievements/{listing_id}/withdraw", headers=seller)
        assert withdraw.status_code == 409


def test_outbox_writer_is_per_service():
    assert OutboxWriter("listing").service == "listing"
