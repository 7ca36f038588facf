"""Every command of the auction service with an Idempotency-Key, over HTTP against the real
database: a retry is answered with the first answer and has no effect of its own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from shared import idempotency
from shared.auth import Role
from shared.clock import ManualClock
from shared.idempotency import Once
from tests.support.procedures import confirm_deposit, published_listing, sql
from tests.support.services import bearer, retried, running

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
STARTS = NOW + timedelta(days=8)
ENDS = STARTS + timedelta(days=1)
IN_PROGRESS = "urn:techex:problem:idempotency-key-in-progress"
REUSED = "urn:techex:problem:idempotency-key-reused"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def client(database_url, common, clock):
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.common = common
        client.runtime = app.state.runtime
        client.operator = bearer(common, Role.OPERATOR, "230100", "harbin-exchange")
        yield client


def _buyer(client, name: str) -> dict:
    return bearer(client.common, Role.BUYER, "230100", name)


async def _count(client, table: str, where: str = "true", *args) -> int:
    return (await sql(client.db, f"SELECT count(*) AS n FROM {table} WHERE {where}", *args)
            )[0]["n"]


async def _events(client, event: str) -> int:
    return await _count(client, "outbox", "type = $1", f"cn.techex.{event}.v1")


def _auction_terms(listing_id: uuid.UUID, start: int = 1_000_000) -> dict:
    return {"listing_id": str(listing_id), "start_price_fen": start, "increment_fen": 50_000,
            "deposit_ratio": "0.10", "starts_at": STARTS.isoformat(),
            "ends_at": ENDS.isoformat()}


async def _open_auction(client, clock, bidders=("b1", "b2")) -> str:
    listing = await published_listing(client.db)
    r = await client.post("/auctions", json=_auction_terms(listing), headers=client.operator)
    assert r.status_code == 201, r.text
    for b in bidders:
        assert (await client.post(f"/auctions/{r.json()['id']}/registrations",
                                  headers=_buyer(client, b))).status_code == 201
        await confirm_deposit(client.db, r.json()["id"], b, NOW)
    clock.advance(STARTS - clock.now() + timedelta(hours=1))
    return r.json()["id"]


async def test_announcing_and_reauctioning_once(client, clock):
    listing = await published_listing(client.db)
    first = await retried(client, "POST", "/auctions", key="announce-1",
                          json=_auction_terms(listing), headers=client.operator)
    assert first.status_code == 201
    assert await _count(client, "auctions") == 1
    assert await _events(client, "auction.announced") == 1
    changed = await client.post("/auctions", json=_auction_terms(listing, 2_000_000),
                                headers={**client.operator, "Idempotency-Key": "announce-1"})
    assert changed.status_code == 422 and changed.json()["type"] == REUSED
    # A refusal decided by the command is the key's answer too: the listing is taken now.
    refused = await retried(client, "POST", "/auctions", key="announce-2",
                            json=_auction_terms(listing), headers=client.operator)
    assert refused.json()["type"] == "urn:techex:problem:auction-listing-procedure-running"

    clock.advance(ENDS - NOW + timedelta(seconds=1))
    assert await client.runtime.scheduler.fire_due() == 1  # no bid: failed
    for _ in range(100):
        if (await _count(client, "auctions", "status = 'failed'")) == 1:
            break
        await asyncio.sleep(0.05)
    later = clock.now()
    again = await retried(client, "POST", f"/auctions/{first.json()['id']}/reauction",
                          key="reauction-1", headers=client.operator, json={
                              "start_price_fen": 800_000,
                              "starts_at": (later + timedelta(days=8)).isoformat(),
                              "ends_at": (later + timedelta(days=9)).isoformat()})
    assert again.status_code == 201, again.text
    assert await _count(client, "auctions") == 2


async def test_registering_bidding_and_proxies_once_through_the_bid_engine(client, clock):
    listing = await published_listing(client.db)
    r = await client.post("/auctions", json=_auction_terms(listing), headers=client.operator)
    auction = r.json()["id"]
    registered = await retried(client, "POST", f"/auctions/{auction}/registrations",
                               key="reg-1", headers=_buyer(client, "b1"))
    assert registered.status_code == 201 and registered.json()["bidder_number"]
    assert await _events(client, "auction.bidder_registered") == 1
    await retried(client, "POST", f"/auctions/{auction}/registrations", key="reg-2",
                  headers=_buyer(client, "b2"))
    for b in ("b1", "b2"):
        await confirm_deposit(client.db, auction, b, NOW)
    clock.advance(STARTS - clock.now() + timedelta(hours=1))

    accepted = await retried(client, "POST", f"/auctions/{auction}/bids", key="bid-1",
                             json={"amount_fen": 1_000_000}, headers=_buyer(client, "b1"))
    assert accepted.status_code == 201 and accepted.json()["sequence"] == 1
    # A rejected bid is on record once, and its retry gets the same 409.
    rejected = await retried(client, "POST", f"/auctions/{auction}/bids", key="bid-2",
                             json={"amount_fen": 1_000_000}, headers=_buyer(client, "b2"))
    assert rejected.status_code == 409 and rejected.json()["reason"] == "below-minimum"
    assert rejected.headers["content-type"] == "application/problem+json"
    proxied = await retried(client, "PUT", f"/auctions/{auction}/proxy", key="proxy-1",
                            json={"max_fen": 1_300_000}, headers=_buyer(client, "b2"))
    assert proxied.status_code == 200 and proxied.json()["automatic_bids"] == 1
    assert await _count(client, "bids") == 2
    assert await _events(client, "auction.bid_accepted") == 2
    assert await _events(client, "auction.bid_rejected") == 1
    # The same key with another bid, on this auction or another: 422, nothing placed.
    for path in (f"/auctions/{auction}/bids", f"/auctions/{uuid.uuid4()}/bids"):
        other = await client.post(path, json={"amount_fen": 1_500_000},
                                  headers={**_buyer(client, "b1"), "Idempotency-Key": "bid-1"})
        assert other.status_code in (404, 422), other.text
        if other.status_code == 422:
            assert other.json()["type"] == REUSED
    assert await _count(client, "bids") == 2
    # A key is the caller's: b2 may use the name b1 used.
    own = await client.post(f"/auctions/{auction}/bids", json={"amount_fen": 1_400_000},
                            headers={**_buyer(client, "b1"), "Idempotency-Key": "proxy-1"})
    assert own.status_code == 201 and "idempotent-replayed" not in own.headers


async def test_a_key_reused_on_another_auction_is_refused_in_the_batch(client, clock):
    first = await _open_auction(client, clock)
    listing = await published_listing(client.db)
    r = await client.post("/auctions", json={**_auction_terms(listing),
                                              "starts_at": (clock.now() + timedelta(days=8)
                                                            ).isoformat(),
                                              "ends_at": (clock.now() + timedelta(days=9)
                                                          ).isoformat()},
                          headers=client.operator)
    second = r.json()["id"]
    assert (await client.post(f"/auctions/{second}/registrations",
                              headers=_buyer(client, "b1"))).status_code == 201
    key = {**_buyer(client, "b1"), "Idempotency-Key": "once-only"}
    placed = await client.post(f"/auctions/{first}/bids", json={"amount_fen": 1_000_000},
                               headers=key)
    assert placed.status_code == 201
    # The second auction's writer learns of the key only when its batch claims it.
    reused = await client.post(
        f"/auctions/{second}/registrations", headers=key)
    assert reused.status_code == 422 and reused.json()["type"] == REUSED
    assert await _count(client, "bids") == 1


async def test_a_concurrent_retry_of_a_bid_is_told_to_wait(client, clock):
    auction = await _open_auction(client, clock)
    headers = {**_buyer(client, "b1"), "Idempotency-Key": "twice-at-once"}

    async def send():
        return await client.post(f"/auctions/{auction}/bids", json={"amount_fen": 1_000_000},
                                 headers=headers)

    both = await asyncio.gather(send(), send())
    assert sorted(r.status_code for r in both) == [201, 409]
    busy = next(r for r in both if r.status_code == 409)
    assert busy.json()["type"] == IN_PROGRESS and busy.headers["retry-after"] == "1"
    later = await send()
    assert later.headers["idempotent-replayed"] == "true"
    assert later.content == next(r for r in both if r.status_code == 201).content
    assert await _count(client, "bids") == 1


async def test_a_concurrent_retry_of_a_command_is_told_to_wait(client):
    """The first attempt holds its claim (its transaction is still open): the retry is
    answered 409 at once instead of waiting for it."""
    listing = await published_listing(client.db)
    body = _auction_terms(listing)
    request = client.build_request("POST", "/auctions", json=body, headers=client.operator)
    once = Once.of("harbin-exchange", "slow", "POST", "/auctions", "", request.content)
    async with client.runtime.pool.acquire() as conn:
        holder = conn.transaction()
        await holder.start()
        assert await idempotency.claim(conn, once) is None
        busy = await asyncio.wait_for(client.post(
            "/auctions", content=request.content,
            headers={**client.operator, "Content-Type": "application/json",
                     "Idempotency-Key": "slow"}), 10)
        assert busy.status_code == 409 and busy.json()["type"] == IN_PROGRESS
        assert busy.headers["retry-after"] == "1"
        await holder.rollback()
    done = await client.post("/auctions", content=request.content,
                             headers={**client.operator, "Content-Type": "application/json",
                                      "Idempotency-Key": "slow"})
    assert done.status_code == 201
    assert await _count(client, "auctions") == 1


async def test_the_bid_route_checks_the_key_like_the_documented_one(client, clock):
    auction = await _open_auction(client, clock)
    for bad in ("x" * 201, "two words"):
        r = await client.post(f"/auctions/{auction}/bids", json={"amount_fen": "lots"},
                              headers={**_buyer(client, "b1"), "Idempotency-Key": bad})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"header.Idempotency-Key",
                                                            "body.amount_fen"}
    assert await _count(client, "bids") == 0


async def test_listing_trade_commands_once(client, clock):
    listing = await published_listing(client.db, route="listing")
    trade = (await retried(client, "POST", "/listing-trades", key="trade-1",
                           headers=client.operator, json={
                               "listing_id": str(listing), "listed_price_fen": 1_000_000,
                               "increment_fen": 50_000, "deposit_fen": 0, "working_days": 5})
             ).json()
    assert await _count(client, "listing_trades") == 1
    for b in ("b1", "b2"):
        r = await retried(client, "POST", f"/listing-trades/{trade['id']}/registrations",
                          key=f"reg-{b}", headers=_buyer(client, b))
        assert r.status_code == 201 and r.json()["qualified"]  # no deposit asked
    assert await _events(client, "auction.bidder_registered") == 2
    ends = datetime.fromisoformat(trade["period_ends_at"].replace("Z", "+00:00"))
    clock.advance(ends - clock.now())
    assert await client.runtime.scheduler.fire_due() == 1  # bidding starts
    clock.advance(timedelta(minutes=5))
    path = f"/listing-trades/{trade['id']}/bids"
    ok = await retried(client, "POST", path, key="q-1", json={"amount_fen": 1_000_000},
                       headers=_buyer(client, "b1"))
    assert ok.status_code == 201
    low = await retried(client, "POST", path, key="q-2", json={"amount_fen": 1_000_000},
                        headers=_buyer(client, "b2"))
    assert low.status_code == 409 and low.json()["reason"] == "below-minimum"
    assert await _count(client, "listing_trade_bids") == 1
    assert await _events(client, "auction.bid_accepted") == 1
    assert await _events(client, "auction.bid_rejected") == 1  # on record once


async def test_notice_commands_once(client):
    listing = await published_listing(client.db, route="negotiated")
    notice = (await retried(client, "POST", "/notices", key="notice-1",
                            headers=client.operator, json={
                                "listing_id": str(listing), "project_name": "石墨烯涂料",
                                "abstract": "水性环氧防腐涂料。", "transfer_mode": "transfer",
                                "price_fen": 36_000_000, "buyer_id": "longjiang-coatings",
                                "buyer_name": "龙江涂料有限公司", "buyer_relation": "none"})
              ).json()
    objector = bearer(client.common, Role.BUYER, "130100", "hebei-rival")
    objection = (await retried(client, "POST", f"/notices/{notice['id']}/objections",
                               key="obj-1", headers=objector,
                               json={"grounds": "价格明显低于评估价"})).json()
    resolved = await retried(
        client, "POST", f"/notices/{notice['id']}/objections/{objection['id']}/resolve",
        key="res-1", headers=client.operator,
        json={"outcome": "dismissed", "reason": "评估报告支持该价格"})
    assert resolved.json()["outcome"] == "dismissed"
    assert await _count(client, "notices") == 1
    assert await _count(client, "notice_objections") == 1
    assert await _events(client, "auction.objection_filed") == 1
    assert await _events(client, "auction.objection_resolved") == 1
