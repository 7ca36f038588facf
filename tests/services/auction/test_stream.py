"""The live stream over real HTTP against the real database: a client that reconnects with
``Last-Event-ID`` (or ``?after=``) gets the bids it missed, then the live ones, each once."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from services.auction.domain.commands import PlaceBid
from services.auction.handlers.engine import BidEngine
from shared.auth import Role
from shared.clock import ManualClock
from tests.support.procedures import confirm_deposit, published_listing, sql
from tests.support.services import bearer, running, serving
from tests.support.sse import next_bids, next_event, sse_events

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
STARTS = NOW + timedelta(days=8)
START, STEP = 1_000_000, 10_000
BIDDERS = ("b1", "b2")


class Open:
    """An auction open for bidding by two qualified bidders, served over HTTP."""

    def __init__(self, app, client: httpx.AsyncClient, http: httpx.AsyncClient, common,
                 auction_id: str) -> None:
        self.app, self.client, self.http, self.common = app, client, http, common
        self.id = auction_id
        self.placed = 0
        self.viewer = bearer(common, Role.OPERATOR, "230100")

    @property
    def id_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.id)

    async def bid(self) -> int:
        """The next bid (the bidders take turns, one increment up); its sequence number."""
        bidder = BIDDERS[self.placed % 2]
        r = await self.client.post(f"/auctions/{self.id}/bids",
                                   json={"amount_fen": START + self.placed * STEP},
                                   headers=bearer(self.common, Role.BUYER, "230100", bidder))
        assert r.status_code == 201, r.text
        self.placed += 1
        return r.json()["sequence"]

    def stream(self, headers: dict | None = None, **params):
        return self.http.stream("GET", f"/auctions/{self.id}/stream", params=params,
                                headers={**self.viewer, **(headers or {})})


@pytest.fixture
async def auction(database_url, common):
    clock = ManualClock(NOW)
    common = common.model_copy(update={"bid_rate": 0})  # bidders here bid faster than allowed
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client, serving(app) as base:
        listing = await published_listing(database_url)
        r = await client.post("/auctions", headers=bearer(common, Role.OPERATOR, "230100"),
                              json={"listing_id": str(listing), "start_price_fen": START,
                                    "increment_fen": STEP, "deposit_ratio": "0.10",
                                    "starts_at": STARTS.isoformat(),
                                    "ends_at": (STARTS + timedelta(days=1)).isoformat()})
        assert r.status_code == 201, r.text
        for b in BIDDERS:
            assert (await client.post(f"/auctions/{r.json()['id']}/registrations",
                                      headers=bearer(common, Role.BUYER, "230100", b))
                    ).status_code == 201
            await confirm_deposit(database_url, r.json()["id"], b, NOW)
        clock.advance(STARTS - NOW + timedelta(hours=1))
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield Open(app, client, http, common, r.json()["id"])


async def _sequences(opened: Open, n: int, headers: dict | None = None, **params) -> list[int]:
    async with opened.stream(headers, **params) as stream:
        assert stream.status_code == 200, await stream.aread()
        events = sse_events(stream)
        assert (await next_event(events))["event"] == "state"
        got = [b["sequence"] for b in await next_bids(events, n)]
        await events.aclose()
        return got


async def test_a_reconnect_gets_the_missed_bids_then_the_live_ones(auction):
    for _ in range(5):
        await auction.bid()
    async with auction.stream({"Last-Event-ID": "2"}) as stream:
        events = sse_events(stream)
        state = json.loads((await next_event(events))["data"])
        assert state["bid_count"] == 5
        missed = await next_bids(events, 3)
        assert [b["sequence"] for b in missed] == [3, 4, 5]
        stored = await sql(auction.app.state.runtime.settings.database_url,
                           "SELECT seq, bidder_id, amount_fen FROM bids ORDER BY seq")
        assert [(b["sequence"], b["bidder_id"], b["amount_fen"]) for b in missed] == [
            (r["seq"], r["bidder_id"], r["amount_fen"]) for r in stored[2:]]
        assert all(b["bidder_number"] and b["ends_at"] for b in missed)
        assert await auction.bid() == 6
        assert [b["sequence"] for b in await next_bids(events, 1)] == [6]
        await events.aclose()
    assert await _sequences(auction, 2, after=4) == [5, 6]
    # Last-Event-ID (what a reconnecting EventSource sends) wins over the URL's ?after=.
    assert await _sequences(auction, 1, {"Last-Event-ID": "5"}, after=0) == [6]
    # Without a resume point, or beyond the last bid: only what comes from now on.
    for params in ({}, {"after": 999}):
        async with auction.stream(**params) as stream:
            events = sse_events(stream)
            assert (await next_event(events))["event"] == "state"
            assert await auction.bid() == auction.placed
            assert [b["sequence"] for b in await next_bids(events, 1)] == [auction.placed]
            await events.aclose()
    bad = await auction.http.get(f"/auctions/{auction.id}/stream",
                                 headers={**auction.viewer, "Last-Event-ID": "abc"})
    assert bad.status_code == 422 and bad.json()["type"] == "urn:techex:problem:validation"


async def test_a_client_that_keeps_reconnecting_under_bidding_misses_nothing(auction):
    total = 60
    rng = random.Random(7)

    async def bidding() -> None:
        for _ in range(total):
            await auction.bid()
            await asyncio.sleep(rng.random() * 0.01)

    received: list[int] = []
    task = asyncio.create_task(bidding())
    connections = 0
    while len(received) < total:
        headers = {"Last-Event-ID": str(received[-1])} if received else None
        params = {} if received else {"after": 0}
        connections += 1
        async with auction.stream(headers, **params) as stream:
            events = sse_events(stream)
            assert (await next_event(events))["event"] == "state"
            for _ in range(min(rng.randint(1, 6), total - len(received))):
                received += [b["sequence"] for b in await next_bids(events, 1)]
            await events.aclose()
    await task
    assert received == list(range(1, total + 1))  # no gap, no repeat at any seam
    assert connections > 10


async def test_a_reader_that_falls_behind_gets_the_dropped_bids_from_the_table(auction):
    engine = auction.app.state.runtime.part(BidEngine)
    engine.watch_queue_size = 2
    async with auction.stream() as stream:
        events = sse_events(stream)
        assert (await next_event(events))["event"] == "state"
        # Ten bids in one batch: the reader's queue keeps two of them and drops eight.
        futures = [await engine.submit(auction.id_uuid, PlaceBid(BIDDERS[i % 2], START + i * STEP))
                   for i in range(10)]
        answers = await asyncio.gather(*futures)
        assert [a.sequence for a in answers] == list(range(1, 11))
        auction.placed = 10
        assert await auction.bid() == 11
        assert [b["sequence"] for b in await next_bids(events, 11)] == list(range(1, 12))
        await events.aclose()
