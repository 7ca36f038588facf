"""The auction route over HTTP, with the real database and Kafka and a hand-moved clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from shared.auth import Role
from shared.clock import ManualClock
from tests.support.procedures import confirm_deposit, published_listing
from tests.support.services import bearer, running

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
STARTS = NOW + timedelta(days=8)
ENDS = STARTS + timedelta(days=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def auction_service(database_url, common, clock):
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.runtime = app.state.runtime
        yield client


async def _published_listing(url: str, route: str = "auction") -> uuid.UUID:
    return await published_listing(url, route)


async def _deposit(url: str, auction_id: str, bidder: str) -> None:
    await confirm_deposit(url, auction_id, bidder, NOW)


def _terms(listing_id, **overrides) -> dict:
    return {"listing_id": str(listing_id), "start_price_fen": 1_000_000,
            "increment_fen": 50_000, "deposit_ratio": "0.10", "starts_at": STARTS.isoformat(),
            "ends_at": ENDS.isoformat(), **overrides}


async def _announced(client, common) -> str:
    listing_id = await _published_listing(client.db)
    r = await client.post("/auctions", json=_terms(listing_id),
                          headers=bearer(common, Role.OPERATOR, "230100"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _settled(client, auction_id: str, headers: dict) -> dict:
    """The auction once its writer has run the close the deadline handed it."""
    for _ in range(100):
        state = (await client.get(f"/auctions/{auction_id}", headers=headers)).json()
        if state["status"] in ("closed", "failed"):
            return state
        await asyncio.sleep(0.05)
    return state


async def _outbox_types(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]
    finally:
        await conn.close()


async def test_an_auction_from_announcement_to_deal(auction_service, common, clock):
    client = auction_service
    auction_id = await _announced(client, common)
    b1 = bearer(common, Role.BUYER, "230100", "longjiang-coatings")
    b2 = bearer(common, Role.BUYER, "210200", "dalian-marine")
    for buyer in (b1, b2):
        r = await client.post(f"/auctions/{auction_id}/registrations", headers=buyer)
        assert r.status_code == 201 and r.json()["deposit_fen"] == 100_000
    await _deposit(client.db, auction_id, "longjiang-coatings")
    await _deposit(client.db, auction_id, "dalian-marine")
    clock.advance(STARTS - NOW + timedelta(hours=1))
    first = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                              headers=b1)
    assert first.status_code == 201, first.text
    assert first.json()["sequence"] == 1
    clock.advance(ENDS - clock.now() - timedelta(minutes=1))  # a bid in the last minute
    late = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_050_000},
                             headers=b2)
    assert late.json()["ends_at"] == (clock.now() + timedelta(minutes=5)).isoformat().replace(
        "+00:00", "Z")
    scheduler = client.runtime.scheduler
    clock.advance(timedelta(minutes=2))
    assert await scheduler.fire_due() == 0  # the old end has passed, but it was moved
    clock.advance(timedelta(minutes=4))
    assert await scheduler.fire_due() == 1
    state = await _settled(client, auction_id, b1)
    assert state["status"] == "closed"
    # A rival sees the winner's number and price, not its account; the operator sees it.
    assert (state["winner_id"], state["hammer_price_fen"]) == (None, 1_050_000)
    assert state["winner_number"] == state["high_bidder_number"] != state["your_number"]
    operator = (await client.get(f"/auctions/{auction_id}",
                                 headers=bearer(common, Role.OPERATOR, "230100"))).json()
    assert operator["winner_id"] == "dalian-marine"
    types = await _outbox_types(client.db)
    assert "cn.techex.deal.concluded.v1" in types
    assert types.count("cn.techex.auction.bid_accepted.v1") == 2
    assert "cn.techex.auction.extended.v1" in types
    listed = await client.get(f"/auctions/{auction_id}/bids", headers=b1)
    assert [b["amount_fen"] for b in listed.json()] == [1_000_000, 1_050_000]


async def test_bad_bids_get_problems_and_change_nothing(auction_service, common, clock):
    client = auction_service
    auction_id = await _announced(client, common)
    buyer = bearer(common, Role.BUYER, "230100", "longjiang-coatings")
    await client.post(f"/auctions/{auction_id}/registrations", headers=buyer)
    await _deposit(client.db, auction_id, "longjiang-coatings")
    early = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                              headers=buyer)
    assert early.status_code == 409 and early.json()["reason"] == "not-open"
    clock.advance(STARTS - NOW + timedelta(hours=1))
    below = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 900_000},
                              headers=buyer)
    assert below.status_code == 409
    assert below.json()["type"] == "urn:techex:problem:auction-bid-rejected"
    assert below.json()["reason"] == "below-minimum"
    stranger = await client.post(f"/auctions/{auction_id}/bids",
                                 json={"amount_fen": 1_000_000},
                                 headers=bearer(common, Role.BUYER, "230100", "stranger"))
    assert stranger.json()["reason"] == "not-qualified"
    for malformed in ({"amount_fen": "abc"}, {"amount_fen": -5}, {"amount_fen": 1.5}, {}):
        r = await client.post(f"/auctions/{auction_id}/bids", json=malformed, headers=buyer)
        assert r.status_code == 422, malformed
        assert r.json()["errors"][0]["field"].startswith("body")
    unknown = await client.post(f"/auctions/{uuid.uuid4()}/bids",
                                json={"amount_fen": 1_000_000}, headers=buyer)
    assert unknown.status_code == 404
    seller = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                               headers=bearer(common, Role.SELLER, "230100", "hit"))
    assert seller.status_code == 403
    clock.advance(ENDS - clock.now() + timedelta(minutes=1))
    after = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                              headers=buyer)
    assert after.status_code == 409 and after.json()["reason"] in ("after-close", "not-open")
    conn = await asyncpg.connect(client.db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM bids") == 0
    finally:
        await conn.close()


async def test_announcing_needs_an_auctionable_listing_and_valid_terms(auction_service, common):
    client = auction_service
    operator = bearer(common, Role.OPERATOR, "230100")
    unknown = await client.post("/auctions", json=_terms(uuid.uuid4()), headers=operator)
    assert unknown.status_code == 404
    negotiated = await _published_listing(client.db, route="negotiated")
    r = await client.post("/auctions", json=_terms(negotiated), headers=operator)
    assert r.status_code == 409 and r.json()["type"] == (
        "urn:techex:problem:auction-listing-wrong-route")
    listing = await _published_listing(client.db)
    too_soon = await client.post("/auctions", json=_terms(
        listing, starts_at=(NOW + timedelta(days=2)).isoformat()), headers=operator)
    assert too_soon.status_code == 422
    big_deposit = await client.post("/auctions", json=_terms(listing, deposit_ratio="0.30"),
                                    headers=operator)
    assert big_deposit.status_code == 422
    elsewhere = await client.post("/auctions", json=_terms(listing),
                                  headers=bearer(common, Role.OPERATOR, "210000"))
    assert elsewhere.status_code == 403
    assert await _outbox_types(client.db) == []
    first = await client.post("/auctions", json=_terms(listing), headers=operator)
    assert first.status_code == 201
    second = await client.post("/auctions", json=_terms(listing), headers=operator)
    assert second.status_code == 409
    assert second.json()["type"] == "urn:techex:problem:auction-listing-procedure-running"


async def test_a_failed_lot_is_auctioned_again_within_the_rules(auction_service, common, clock):
    client = auction_service
    operator = bearer(common, Role.OPERATOR, "230100")
    auction_id = await _announced(client, common)
    clock.advance(ENDS - NOW + timedelta(seconds=1))
    assert await client.runtime.scheduler.fire_due() == 1  # no bid: failed
    state = await _settled(client, auction_id, operator)
    assert state["status"] == "failed"
    later = clock.now()
    too_deep = await client.post(f"/auctions/{auction_id}/reauction", json={
        "start_price_fen": 700_000, "starts_at": (later + timedelta(days=8)).isoformat(),
        "ends_at": (later + timedelta(days=9)).isoformat()}, headers=operator)
    assert too_deep.status_code == 409  # a cut of more than 20 %
    again = await client.post(f"/auctions/{auction_id}/reauction", json={
        "start_price_fen": 800_000, "starts_at": (later + timedelta(days=8)).isoformat(),
        "ends_at": (later + timedelta(days=9)).isoformat()}, headers=operator)
    assert again.status_code == 201, again.text
    assert again.json()["start_price_fen"] == 800_000
