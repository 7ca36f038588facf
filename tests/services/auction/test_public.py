"""The auction service's public API (issue 14) over its real database and Kafka, with a
hand-moved clock: no token anywhere, no bidder's account and no objector's name or contact in
any public answer or in the public stream; the lists follow the clock; objections from anyone;
hostile input 422, floods 429."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.auction import handlers
from services.auction.api import create_app
from services.auction.config import AuctionSettings
from services.auction.consumer import HANDLERS
from services.auction.routes import stream as stream_module
from services.auction.schemas import (
    PUBLIC_MODELS,
    PublicAuction,
    PublicBid,
    PublicLiveBid,
    PublicNotice,
    PublicObjection,
    PublicProcedure,
    PublicResult,
)
from shared.auth import Role
from shared.clock import ManualClock
from shared.events import examples_of
from shared.events.listing import ListingCreated
from shared.problems import PROBLEM_MEDIA_TYPE
from tests.support.handlers import deliver
from tests.support.procedures import confirm_deposit, published_listing, sql
from tests.support.services import bearer, retried, running, serving
from tests.support.sse import next_event, sse_events

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 1 June 2026, 10:00 in Shanghai
STARTS = NOW + timedelta(days=8)
ENDS = STARTS + timedelta(days=1)
NOTICE_ENDS = datetime(2026, 6, 16, 16, 0, tzinfo=UTC)  # 15 days, the first not counted
START, STEP = 1_000_000, 50_000
BIDDERS = ("longjiang-coatings", "dalian-marine")
OBJECTOR = {"name": "王晓明", "contact": "wangxm-objector@example.cn",
            "reason": "协议价格明显低于同类石墨烯涂料技术近期的成交价格，请复核定价依据。"}

# The contract's field lists (/work/notes/public-api.md).
PROCEDURE_KEYS = {"id", "route", "listing_id", "title", "field", "region", "status",
                  "announced_at", "starts_at", "ends_at", "price_fen", "high_bid_fen",
                  "bid_count", "result"}
RESULT_KEYS = {"outcome", "price_fen", "winner_number", "failure", "ended_at"}
AUCTION_KEYS = {"id", "listing_id", "title", "region", "start_price_fen", "increment_fen",
                "deposit_fen", "has_reserve", "starts_at", "ends_at", "status", "high_bid_fen",
                "high_bidder_number", "bid_count", "result"}
BID_KEYS = {"bidder_number", "sequence", "amount_fen", "at", "automatic"}
LIVE_BID_KEYS = BID_KEYS | {"high_bid_fen", "ends_at"}
TRADE_KEYS = {"id", "listing_id", "title", "region", "price_fen", "status", "period_ends_at",
              "ends_at", "bid_count", "high_bid_fen", "result"}
NOTICE_KEYS = {"id", "listing_id", "title", "region", "price_fen", "published_at",
               "objection_until", "status", "objections"}
OBJECTION_KEYS = {"id", "reason", "filed_at", "status", "outcome"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def limits() -> dict:
    return {"bid_rate": 0}


@pytest.fixture
async def service(database_url, common, clock, limits):
    common = common.model_copy(update=limits)
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db, client.common, client.app = database_url, common, app
        client.scheduler = app.state.runtime.scheduler
        yield client


def _operator(client) -> dict:
    return bearer(client.common, Role.OPERATOR, "230100", "exchange-230100")


async def _auction(client, *bidders: str) -> str:
    listing_id = await published_listing(client.db, "auction")
    r = await client.post("/auctions", headers=_operator(client), json={
        "listing_id": str(listing_id), "start_price_fen": START, "increment_fen": STEP,
        "deposit_ratio": "0.10", "starts_at": STARTS.isoformat(), "ends_at": ENDS.isoformat()})
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    for b in bidders:
        reg = await client.post(f"/auctions/{aid}/registrations",
                                headers=bearer(client.common, Role.BUYER, "230100", b))
        assert reg.status_code == 201, reg.text
        await confirm_deposit(client.db, aid, b, NOW)
    return aid


async def _trade(client) -> str:
    listing_id = await published_listing(client.db, "listing")
    r = await client.post("/listing-trades", headers=_operator(client), json={
        "listing_id": str(listing_id), "listed_price_fen": 2_000_000, "increment_fen": 10_000,
        "deposit_fen": 0})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _notice(client) -> str:
    listing_id = await published_listing(client.db, "negotiated")
    r = await client.post("/notices", headers=_operator(client), json={
        "listing_id": str(listing_id), "project_name": "石墨烯改性防腐涂料制备技术",
        "abstract": "以少层石墨烯为填料的水性环氧防腐涂料。", "transfer_mode": "transfer",
        "price_fen": 36_000_000, "buyer_id": "heilongjiang-paint-works",
        "buyer_name": "黑龙江涂料厂", "buyer_relation": "none"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _bid(client, aid: str, bidder: str, amount: int) -> dict:
    r = await client.post(f"/auctions/{aid}/bids", json={"amount_fen": amount},
                          headers=bearer(client.common, Role.BUYER, "230100", bidder))
    assert r.status_code == 201, r.text
    return r.json()


async def _public(client, path: str, **params) -> dict | list:
    r = await client.get(path, params=params)
    assert r.status_code == 200, (path, r.status_code, r.text)
    assert "authorization" not in {k.lower() for k in r.request.headers}
    for secret in (*BIDDERS, "heilongjiang-paint-works", OBJECTOR["name"],
                   OBJECTOR["contact"]):
        assert secret not in r.text, (path, secret)
    return r.json()


async def _ids(client, **params) -> list[str]:
    page = await _public(client, "/public/procedures", **params)
    return [p["id"] for p in page["items"]]


async def _closed(client, aid: str) -> dict:
    for _ in range(200):
        state = await _public(client, f"/public/auctions/{aid}")
        if state["result"] is not None:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"auction {aid} did not close: {state}")


def test_every_public_model_is_listed_and_built_of_the_contract_s_fields():
    names = {m.__name__ for m in PUBLIC_MODELS}
    assert {"PublicProcedure", "PublicResult", "PublicAuction", "PublicBid",
            "PublicListingTrade", "PublicNotice", "PublicObjection"} <= names
    assert set(PublicProcedure.model_fields) == PROCEDURE_KEYS
    assert set(PublicResult.model_fields) == RESULT_KEYS
    assert set(PublicAuction.model_fields) == AUCTION_KEYS
    assert set(PublicBid.model_fields) == BID_KEYS
    assert set(PublicLiveBid.model_fields) == LIVE_BID_KEYS
    assert set(PublicNotice.model_fields) == NOTICE_KEYS
    assert set(PublicObjection.model_fields) == OBJECTION_KEYS
    for model in PUBLIC_MODELS:
        for name in model.model_fields:
            assert not any(p in name for p in ("bidder_id", "seller_id", "buyer", "winner_id",
                                               "contact", "objector", "reserve_fen")), name


async def test_a_listing_s_field_is_learnt_from_its_creation(service):
    assert HANDLERS[ListingCreated] is handlers.on_listing_created
    example = examples_of(ListingCreated)[0]
    event = ListingCreated.model_validate(
        example | {"listing_id": str(uuid.uuid4()),
                   "listing": example["listing"] | {"field": "agriculture"}})
    await deliver(service.db, "auction", handlers.on_listing_created, event)
    rows = await sql(service.db, "SELECT title, field FROM listings WHERE listing_id = $1",
                     event.listing_id)
    assert [(r["title"], r["field"]) for r in rows] == [(event.listing.title, "agriculture")]


async def test_the_lists_follow_the_service_clock_and_their_filters(service, clock):
    client = service
    aid = await _auction(client)
    clock.advance(timedelta(minutes=1))
    tid = await _trade(client)
    clock.advance(timedelta(minutes=1))
    nid = await _notice(client)
    everything = await _public(client, "/public/procedures")
    assert [p["id"] for p in everything["items"]] == [nid, tid, aid]  # newest first
    assert everything["next_cursor"] is None
    for item in everything["items"]:
        assert set(item) == PROCEDURE_KEYS
        assert item["title"] == "石墨烯改性防腐涂料制备技术" and item["field"] == "new_materials"
    by_id = {p["id"]: p for p in everything["items"]}
    assert (by_id[aid]["route"], by_id[aid]["status"], by_id[aid]["price_fen"]) == (
        "auction", "upcoming", START)
    assert (by_id[tid]["route"], by_id[tid]["status"]) == ("listing", "live")
    assert (by_id[nid]["route"], by_id[nid]["status"], by_id[nid]["price_fen"]) == (
        "negotiated", "live", 36_000_000)

    assert await _ids(client, status="upcoming") == [aid]
    assert await _ids(client, status="live") == [nid, tid]
    assert await _ids(client, status="ended") == []
    assert await _ids(client, route="auction") == [aid]
    assert await _ids(client, region="230000") == [nid, tid, aid]  # the province's subtree
    assert await _ids(client, region="230100") == [nid, tid, aid]
    assert await _ids(client, region="110000") == []
    assert await _ids(client, field="new_materials", route="negotiated") == [nid]
    assert await _ids(client, field="agriculture") == []
    assert await _ids(client, **{"from": (STARTS - timedelta(hours=1)).isoformat()}) == [aid]
    assert await _ids(client, to=(STARTS - timedelta(hours=1)).isoformat()) == [nid, tid]

    # Pages of one, walked by their cursors: each procedure once, in order.
    seen, cursor = [], None
    while True:
        page = await _public(client, "/public/procedures", limit=1,
                             **({"cursor": cursor} if cursor else {}))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [nid, tid, aid]

    clock.advance(STARTS - NOW + timedelta(hours=1))  # the auction's bidding is open
    assert await _ids(client, status="live") == [nid, tid, aid]
    assert await _ids(client, status="upcoming") == []
    clock.advance(ENDS - clock.now())  # its end: over, even before the close has run
    assert await _ids(client, status="ended") == [aid]
    assert (await _public(client, "/public/results"))["items"] == []
    assert await client.scheduler.fire_due() == 1
    closed = await _closed(client, aid)
    assert closed["status"] == "failed"
    assert closed["result"] == {"outcome": "failed", "price_fen": None, "winner_number": None,
                                "failure": "no-bid", "ended_at": closed["result"]["ended_at"]}
    results = await _public(client, "/public/results")
    assert [r["id"] for r in results["items"]] == [aid]
    assert results["items"][0]["result"]["failure"] == "no-bid"
    clock.advance(NOTICE_ENDS - clock.now())  # the notice's objection period is over
    assert await _ids(client, status="ended") == [nid, aid]


async def test_an_auction_shows_bid_numbers_never_accounts(service, clock):
    client = service
    aid = await _auction(client, *BIDDERS)
    clock.advance(STARTS - NOW + timedelta(hours=1))
    await _bid(client, aid, BIDDERS[0], START)
    await _bid(client, aid, BIDDERS[1], START + STEP)
    state = await _public(client, f"/public/auctions/{aid}")
    assert set(state) == AUCTION_KEYS
    assert (state["status"], state["high_bid_fen"], state["bid_count"], state["deposit_fen"],
            state["has_reserve"], state["result"]) == ("open", START + STEP, 2, 100_000,
                                                        False, None)
    bids = await _public(client, f"/public/auctions/{aid}/bids")
    assert [set(b) for b in bids] == [BID_KEYS, BID_KEYS]
    assert [b["amount_fen"] for b in bids] == [START, START + STEP]
    assert bids[1]["bidder_number"] == state["high_bidder_number"] != bids[0]["bidder_number"]
    assert [b["sequence"] for b in await _public(client, f"/public/auctions/{aid}/bids",
                                                 after=1, limit=1)] == [2]
    assert (await client.get(f"/public/auctions/{uuid.uuid4()}")).status_code == 404
    assert (await client.get(f"/public/auctions/{uuid.uuid4()}/bids")).status_code == 404

    clock.advance(ENDS - clock.now())
    assert await client.scheduler.fire_due() == 1
    closed = await _closed(client, aid)
    assert closed["status"] == "closed"
    assert closed["result"] == {"outcome": "sold", "price_fen": START + STEP,
                                "winner_number": state["high_bidder_number"], "failure": None,
                                "ended_at": closed["result"]["ended_at"]}
    results = await _public(client, "/public/results", route="auction")
    assert results["items"][0]["result"] == closed["result"]

    tid = await _trade(client)
    trade = await _public(client, f"/public/listing-trades/{tid}")
    assert set(trade) == TRADE_KEYS
    assert (trade["status"], trade["price_fen"], trade["ends_at"], trade["result"]) == (
        "announced", 2_000_000, None, None)
    assert (await client.get(f"/public/listing-trades/{uuid.uuid4()}")).status_code == 404


async def test_the_live_stream_shows_a_late_bid_the_moved_end_and_the_result(service, clock,
                                                                             monkeypatch):
    client = service
    # The stream looks for the close when a wait for a bid times out; the hand-moved clock
    # jumps past the end during a wait, so the waits are kept short here.
    monkeypatch.setattr(stream_module, "PING_SECONDS", 1.0)
    aid = await _auction(client, *BIDDERS)
    clock.advance(STARTS - NOW + timedelta(hours=1))
    first = await _bid(client, aid, BIDDERS[0], START)
    async with serving(client.app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        async with http.stream("GET", f"/public/auctions/{aid}/stream") as stream:
            assert stream.status_code == 200, await stream.aread()
            events = sse_events(stream)
            state = await next_event(events)
            assert state["event"] == "state"
            data = json.loads(state["data"])
            assert set(data) == AUCTION_KEYS and data["bid_count"] == 1
            clock.advance(ENDS - clock.now() - timedelta(minutes=2))  # a last-minute bid
            late = await _bid(client, aid, BIDDERS[1], START + STEP)
            bid = await next_event(events)
            assert bid["event"] == "bid" and bid["id"] == str(late["sequence"]) == "2"
            shown = json.loads(bid["data"])
            assert set(shown) == LIVE_BID_KEYS
            assert (shown["amount_fen"], shown["high_bid_fen"]) == (START + STEP, START + STEP)
            moved = datetime.fromisoformat(shown["ends_at"])
            assert moved == clock.now() + timedelta(minutes=5) > ENDS
            extended = await next_event(events)
            assert extended["event"] == "extended"
            assert datetime.fromisoformat(json.loads(extended["data"])["ends_at"]) == moved
            for secret in BIDDERS:
                assert secret not in state["data"] + bid["data"]
            clock.advance(moved - clock.now())
            assert await client.scheduler.fire_due() == 1
            closed = await next_event(events, timeout=10)
            assert closed["event"] == "closed"
            result = json.loads(closed["data"])["result"]
            assert (result["outcome"], result["price_fen"], result["winner_number"]) == (
                "sold", START + STEP, shown["bidder_number"])
        # A reader that reconnects gets what it missed (Last-Event-ID), then the close.
        async with http.stream("GET", f"/public/auctions/{aid}/stream",
                               headers={"Last-Event-ID": str(first["sequence"])}) as stream:
            events = sse_events(stream)
            assert json.loads((await next_event(events))["data"])["result"] is not None
            again = await next_event(events)
            assert (again["event"], again["id"]) == ("bid", "2")
            assert (await next_event(events))["event"] == "closed"
        missing = await http.get(f"/public/auctions/{uuid.uuid4()}/stream")
        assert missing.status_code == 404


async def test_anyone_may_object_the_public_sees_no_name_the_operator_does(service, clock):
    client = service
    nid = await _notice(client)
    filed = await retried(client, "POST", f"/public/notices/{nid}/objections", key="obj-1",
                          json=OBJECTOR)
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    assert set(objection) == OBJECTION_KEYS
    assert (objection["reason"], objection["status"], objection["outcome"]) == (
        OBJECTOR["reason"], "open", None)
    assert OBJECTOR["name"] not in filed.text and OBJECTOR["contact"] not in filed.text

    notice = await _public(client, f"/public/notices/{nid}")
    assert set(notice) == NOTICE_KEYS
    assert notice["objection_until"].startswith("2026-06-16T16:00:00")
    assert [o["id"] for o in notice["objections"]] == [objection["id"]]

    # The operator of the region sees whom to answer; a buyer, or no token, does not.
    private = (await client.get(f"/notices/{nid}", headers=_operator(client))).json()
    shown = private["objections"][0]
    assert (shown["objector_name"], shown["objector_contact"]) == (OBJECTOR["name"],
                                                                   OBJECTOR["contact"])
    for headers in ({}, bearer(client.common, Role.BUYER, "230100", "someone")):
        other = await client.get(f"/notices/{nid}", headers=headers)
        assert OBJECTOR["contact"] not in other.text and OBJECTOR["name"] not in other.text

    # The event records the objection, not the person.
    rows = await sql(client.db, "SELECT payload FROM outbox WHERE type LIKE '%objection_filed%'")
    assert len(rows) == 1
    assert OBJECTOR["name"] not in rows[0]["payload"]
    assert OBJECTOR["contact"] not in rows[0]["payload"]
    assert json.loads(rows[0]["payload"])["actor"] == "public"

    resolved = await client.post(f"/notices/{nid}/objections/{objection['id']}/resolve",
                                 json={"outcome": "dismissed", "reason": "经评估价格合理"},
                                 headers=_operator(client))
    assert resolved.status_code == 200, resolved.text
    listed = (await _public(client, f"/public/notices/{nid}"))["objections"][0]
    assert (listed["status"], listed["outcome"]) == ("dismissed", "经评估价格合理")

    clock.advance(NOTICE_ENDS - clock.now())
    late = await client.post(f"/public/notices/{nid}/objections", json=OBJECTOR)
    assert late.status_code == 409, late.text
    assert late.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert late.json()["type"] == "urn:techex:problem:auction-notice-objection-refused"
    missing = await client.post(f"/public/notices/{uuid.uuid4()}/objections", json=OBJECTOR)
    assert missing.status_code == 404
    assert (await client.get(f"/public/notices/{uuid.uuid4()}")).status_code == 404


@pytest.mark.parametrize(("body", "blamed"), [
    ({**OBJECTOR, "name": "王\x00明"}, "body.name"),
    ({**OBJECTOR, "name": "   "}, "body.name"),
    ({**OBJECTOR, "name": "王" * 101}, "body.name"),
    ({**OBJECTOR, "contact": "not a contact"}, "body.contact"),
    ({**OBJECTOR, "contact": "x" * 190 + "@example.cn"}, "body.contact"),
    ({**OBJECTOR, "reason": "太短"}, "body.reason"),
    ({**OBJECTOR, "reason": "异" * 2001}, "body.reason"),
    ({**OBJECTOR, "reason": "价格过低\x00请复核定价依据"}, "body.reason"),
    ({k: v for k, v in OBJECTOR.items() if k != "contact"}, "body.contact"),
])
async def test_a_hostile_objection_is_refused_and_changes_nothing(service, body, blamed):
    client = service
    nid = await _notice(client)
    r = await client.post(f"/public/notices/{nid}/objections", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert blamed in {e["field"] for e in r.json()["errors"]}
    assert (await _public(client, f"/public/notices/{nid}"))["objections"] == []


@pytest.mark.parametrize(("path", "params", "blamed"), [
    ("/public/procedures", {"status": "open"}, "query.status"),
    ("/public/procedures", {"route": "lottery"}, "query.route"),
    ("/public/procedures", {"region": "23\x0001"}, "query.region"),
    ("/public/procedures", {"region": "990000"}, "query.region"),
    ("/public/procedures", {"field": "x" * 51}, "query.field"),
    ("/public/procedures", {"from": "2026-06-01T02:00:00"}, "query.from"),
    ("/public/procedures", {"to": "2300-01-01T00:00:00Z"}, "query.to"),
    ("/public/procedures", {"limit": 2**40}, "query.limit"),
    ("/public/procedures", {"limit": 0}, "query.limit"),
    ("/public/procedures", {"cursor": "not-a-cursor"}, "query.cursor"),
    ("/public/results", {"cursor": "x" * 201}, "query.cursor"),
    ("/public/auctions/{aid}/bids", {"after": 2**40}, "query.after"),
    ("/public/auctions/{aid}/bids", {"limit": 201}, "query.limit"),
    ("/public/auctions/{aid}/stream", {"after": -1}, "query.after"),
    ("/public/auctions/not-an-id", {}, "path.auction_id"),
])
async def test_hostile_queries_get_422(service, path, params, blamed):
    client = service
    r = await client.get(path.format(aid=uuid.uuid4()), params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert blamed in {e["field"] for e in r.json()["errors"]}


@pytest.mark.parametrize("limits", [{"bid_rate": 0, "public_rate": 0.01, "public_burst": 3}])
async def test_an_address_that_floods_gets_429(service):
    client = service
    nid = await _notice(client)
    answers = [await client.get("/public/procedures") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    for flood in (client.get("/public/procedures"),
                  client.post(f"/public/notices/{nid}/objections", json=OBJECTOR)):
        r = await flood
        assert r.status_code == 429, r.text
        assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert r.json()["type"] == "urn:techex:problem:rate-limited"
        assert int(r.headers["Retry-After"]) >= 1
