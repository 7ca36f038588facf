"""Negotiated price with public notice (协议定价 + 公示) over HTTP, with the real database and
Kafka and a hand-moved clock: the notice's end is fired with the scheduler's ``fire_due``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from services.auction.handlers import NOTICE_END, PENDING_RECHECK
from shared.auth import Role
from shared.clock import ManualClock
from shared.scheduler import pending
from tests.support.procedures import published_listing
from tests.support.services import bearer, running

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 1 June 2026, 10:00 in Shanghai
# 15 days, the publication day not counted: the notice runs until the end of 16 June.
ENDS = datetime(2026, 6, 16, 16, 0, tzinfo=UTC)
PRICE = 36_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def service(database_url, common, clock):
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.scheduler = app.state.runtime.scheduler
        yield client


async def _published_listing(url: str, route: str = "negotiated") -> uuid.UUID:
    return await published_listing(url, route)


async def _outbox(url: str) -> list[tuple[str, dict]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT type, payload FROM outbox ORDER BY seq")
    finally:
        await conn.close()
    return [(r["type"].removeprefix("cn.techex.").removesuffix(".v1"), json.loads(r["payload"]))
            for r in rows]


def _terms(listing_id, **overrides) -> dict:
    return {"listing_id": str(listing_id), "project_name": "石墨烯改性防腐涂料制备技术",
            "abstract": "以少层石墨烯为填料的水性环氧防腐涂料。", "transfer_mode": "transfer",
            "price_fen": PRICE, "buyer_id": "longjiang-coatings",
            "buyer_name": "龙江涂料有限公司", "buyer_relation": "none", **overrides}


def _operator(common, region: str = "230100") -> dict:
    return bearer(common, Role.OPERATOR, region, f"exchange-{region}")


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


async def _published(client, common, **overrides) -> dict:
    listing_id = await _published_listing(client.db)
    r = await client.post("/notices", json=_terms(listing_id, **overrides),
                          headers=_operator(common))
    assert r.status_code == 201, r.text
    return r.json()


async def _object(client, common, notice_id: str, grounds: str = "价格明显低于评估价") -> str:
    r = await client.post(f"/notices/{notice_id}/objections", json={"grounds": grounds},
                          headers=bearer(common, Role.SELLER, "230102", "co-holder"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _resolve(client, common, notice_id: str, objection_id: str, outcome: str,
                   region: str = "230100"):
    return await client.post(f"/notices/{notice_id}/objections/{objection_id}/resolve",
                             json={"outcome": outcome, "reason": "经核查" + outcome},
                             headers=_operator(common, region))


async def _end(client, clock: ManualClock) -> int:
    clock.advance(ENDS - clock.now())
    return await client.scheduler.fire_due()


async def test_a_notice_without_objection_concludes_the_deal(service, common, clock):
    client = service
    notice = await _published(client, common, buyer_relation="inventor", days=15)
    assert notice["status"] == "published" and notice["buyer_flagged"] is True
    assert _at(notice["ends_at"]) == ENDS and notice["objections"] == []
    clock.advance(ENDS - NOW - timedelta(seconds=1))
    assert await client.scheduler.fire_due() == 0
    assert await _end(client, clock) == 1
    state = (await client.get(f"/notices/{notice['id']}")).json()
    assert state["status"] == "concluded" and _at(state["closed_at"]) == ENDS
    events = await _outbox(client.db)
    assert [t for t, _ in events] == ["auction.announced", "auction.notice_published",
                                      "auction.closed", "deal.concluded"]
    published = events[1][1]
    assert (published["buyer_relation"], published["price_fen"]) == ("inventor", PRICE)
    deal = events[-1][1]
    assert (deal["route"], deal["buyer_id"], deal["seller_id"], deal["price_fen"]) == (
        "negotiated", "longjiang-coatings", "hit-university", PRICE)


async def test_a_dismissed_objection_lets_the_deal_stand(service, common, clock):
    client = service
    notice = await _published(client, common)
    notice_id = notice["id"]
    clock.advance(timedelta(days=2))
    objection_id = await _object(client, common, notice_id)
    clock.advance(timedelta(days=1))
    r = await _resolve(client, common, notice_id, objection_id, "dismissed")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "dismissed"
    again = await _resolve(client, common, notice_id, objection_id, "upheld")
    assert again.status_code == 409
    assert await _end(client, clock) == 1
    state = (await client.get(f"/notices/{notice_id}")).json()
    assert state["status"] == "concluded" and state["pending_objections"] == 0
    [published] = state["objections"]
    assert (published["id"], published["grounds"], published["outcome"]) == (
        objection_id, "价格明显低于评估价", "dismissed")
    assert published["reason"] == "经核查dismissed" and "filed_by" not in published
    types = [t for t, _ in await _outbox(client.db)]
    assert types[2:] == ["auction.objection_filed", "auction.objection_resolved",
                         "auction.closed", "deal.concluded"]


async def test_an_upheld_objection_fails_the_notice_once_resolved(service, common, clock):
    client = service
    notice = await _published(client, common)
    notice_id = notice["id"]
    objection_id = await _object(client, common, notice_id)
    # The end comes with the objection pending: the notice waits, looking again later.
    assert await _end(client, clock) == 1
    state = (await client.get(f"/notices/{notice_id}")).json()
    assert state["status"] == "published" and state["pending_objections"] == 1
    conn = await asyncpg.connect(client.db)
    try:
        recheck = await pending(conn, NOTICE_END, notice_id)
    finally:
        await conn.close()
    assert recheck is not None and recheck.due_at == ENDS + PENDING_RECHECK
    late = await client.post(f"/notices/{notice_id}/objections", json={"grounds": "迟到的异议"},
                             headers=bearer(common, Role.BUYER, "230100"))
    assert late.status_code == 409
    assert late.json()["type"] == "urn:techex:problem:auction-notice-objection-refused"
    # Resolving the last pending objection lets the notice conclude at once.
    clock.advance(timedelta(minutes=10))
    outsider = await _resolve(client, common, notice_id, objection_id, "upheld", "210000")
    assert outsider.status_code == 403
    r = await _resolve(client, common, notice_id, objection_id, "upheld")
    assert r.status_code == 200, r.text
    assert await client.scheduler.fire_due() == 1
    state = (await client.get(f"/notices/{notice_id}")).json()
    assert state["status"] == "failed"
    assert state["objections"][0]["outcome"] == "upheld"
    events = await _outbox(client.db)
    assert [t for t, _ in events][2:] == ["auction.objection_filed",
                                          "auction.objection_resolved", "auction.failed"]
    failed = events[-1][1]
    assert (failed["procedure_id"], failed["reason"]) == (notice_id, "objection-upheld")
    assert "deal.concluded" not in [t for t, _ in events]
    after = await _resolve(client, common, notice_id, objection_id, "dismissed")
    assert after.status_code == 409


async def test_bad_requests_get_problems_and_change_nothing(service, common, clock):
    client = service
    operator = _operator(common)
    listing_id = await _published_listing(client.db)

    assert (await client.post("/notices", json=_terms(uuid.uuid4()),
                              headers=operator)).status_code == 404
    listing_route = await _published_listing(client.db, route="listing")
    wrong = await client.post("/notices", json=_terms(listing_route), headers=operator)
    assert wrong.status_code == 409
    assert wrong.json()["type"] == "urn:techex:problem:auction-listing-wrong-route"
    elsewhere = await client.post("/notices", json=_terms(listing_id),
                                  headers=_operator(common, "210000"))
    assert elsewhere.status_code == 403
    for malformed in ({"price_fen": "abc"}, {"price_fen": -5}, {"price_fen": 1.5},
                      {"price_fen": 0}, {"buyer_relation": "cousin"}, {"project_name": ""},
                      {"days": 0}):
        r = await client.post("/notices", json=_terms(listing_id, **malformed),
                              headers=operator)
        assert r.status_code == 422, malformed
        assert r.json()["errors"][0]["field"] == f"body.{next(iter(malformed))}", r.json()
    no_relation = _terms(listing_id)
    del no_relation["buyer_relation"]  # it must be stated, never assumed
    assert (await client.post("/notices", json=no_relation,
                              headers=operator)).status_code == 422
    for broken, field in (({"days": 14}, "terms.days"),
                          ({"transfer_mode": "gift"}, "body.transfer_mode"),
                          ({"buyer_id": "hit-university"}, "terms.buyer_id")):
        r = await client.post("/notices", json=_terms(listing_id, **broken), headers=operator)
        assert r.status_code == 422, broken
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await _outbox(client.db) == []

    unknown = uuid.uuid4()
    assert (await client.get(f"/notices/{unknown}")).status_code == 404
    assert (await client.post(f"/notices/{unknown}/objections", json={"grounds": "x"},
                              headers=operator)).status_code == 404
    assert (await _resolve(client, common, str(unknown), str(uuid.uuid4()),
                           "upheld")).status_code == 404

    notice = await client.post("/notices", json=_terms(listing_id, days=20), headers=operator)
    assert notice.status_code == 201
    notice_id = notice.json()["id"]
    twice = await client.post("/notices", json=_terms(listing_id), headers=operator)
    assert twice.status_code == 409
    assert twice.json()["type"] == "urn:techex:problem:auction-listing-procedure-running"
    no_objection = await _resolve(client, common, notice_id, str(uuid.uuid4()), "upheld")
    assert no_objection.status_code == 404
    assert no_objection.json()["type"] == "urn:techex:problem:auction-notice-objection-not-found"
    blank = await client.post(f"/notices/{notice_id}/objections", json={"grounds": "  "},
                              headers=operator)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "body.grounds"
    anonymous = await client.post(f"/notices/{notice_id}/objections", json={"grounds": "x"})
    assert anonymous.status_code == 401
    objection_id = await _object(client, common, notice_id)
    by_seller = await client.post(
        f"/notices/{notice_id}/objections/{objection_id}/resolve",
        json={"outcome": "upheld", "reason": "x"},
        headers=bearer(common, Role.SELLER, "230100"))
    assert by_seller.status_code == 403
    for malformed in ({"outcome": "maybe", "reason": "x"}, {"outcome": "upheld"},
                      {"outcome": "upheld", "reason": " "}):
        r = await client.post(f"/notices/{notice_id}/objections/{objection_id}/resolve",
                              json=malformed, headers=operator)
        assert r.status_code == 422, malformed
    state = (await client.get(f"/notices/{notice_id}")).json()
    assert state["pending_objections"] == 1 and _at(state["ends_at"]) == ENDS + timedelta(
        days=5)
    assert [t for t, _ in await _outbox(client.db)] == [
        "auction.announced", "auction.notice_published", "auction.objection_filed"]
