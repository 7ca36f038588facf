"""Bidders are anonymous to each other: every reader of an auction or a listing trade, over
HTTP (the live stream included) against the real database, sees bid numbers, and accounts only
where it may know them."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from shared.auth import Role
from shared.clock import ManualClock
from tests.support.procedures import SELLER, confirm_deposit, published_listing, sql
from tests.support.services import bearer, running, serving
from tests.support.sse import next_bids, next_event, sse_events

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # a Monday
STARTS = NOW + timedelta(days=8)
ENDS = STARTS + timedelta(days=1)
B1, B2 = "longjiang-coatings", "dalian-marine"


@dataclass(frozen=True)
class Reader:
    name: str
    role: Role
    region: str
    subject: str
    oversees: bool = False
    seller: bool = False

    def headers(self, common) -> dict:
        return bearer(common, self.role, self.region, self.subject)

    def may_know(self, bidder: str, closed: bool) -> bool:
        return self.oversees or (self.seller and closed) or bidder == self.subject


READERS = (
    Reader("bidder B1 (a rival of B2)", Role.BUYER, "230100", B1),
    Reader("bidder B2 (a rival of B1)", Role.BUYER, "210200", B2),
    Reader("a buyer who does not bid", Role.BUYER, "230100", "onlooker"),
    Reader("operator of the region", Role.OPERATOR, "230100", "harbin-exchange", oversees=True),
    Reader("operator of another region", Role.OPERATOR, "210000", "liaoning-exchange"),
    Reader("regulator of the province", Role.REGULATOR, "230000", "hlj-kjt", oversees=True),
    Reader("regulator of another province", Role.REGULATOR, "130000", "hebei-kjt"),
    Reader("the seller", Role.SELLER, "230102", SELLER, seller=True),
)


def _check_bids(reader: Reader, shown: list[dict], bidders: list[str], closed: bool) -> None:
    """``shown``: the reader's view of bids placed by ``bidders`` in that order."""
    assert len(shown) == len(bidders), reader.name
    numbers: dict[str, str] = {}
    for row, bidder in zip(shown, bidders, strict=True):
        assert re.fullmatch(r"\d{4}", row["bidder_number"]), (reader.name, row)
        assert numbers.setdefault(bidder, row["bidder_number"]) == row["bidder_number"]
        expected = bidder if reader.may_know(bidder, closed) else None
        assert (row["bidder_id"], row["you"]) == (expected, bidder == reader.subject), (
            reader.name, row)
    assert len(set(numbers.values())) == len(numbers), "two bidders share a number"


async def _bidders(client: httpx.AsyncClient, common, url: str, procedure: str
                   ) -> dict[str, str]:
    """B1 and B2 register and pay their deposits; their bid numbers."""
    numbers = {}
    for reader in READERS[:2]:
        reg = await client.post(f"{procedure}/registrations", headers=reader.headers(common))
        assert reg.status_code == 201, reg.text
        numbers[reader.subject] = reg.json()["bidder_number"]
        await confirm_deposit(url, procedure.rsplit("/", 1)[1], reader.subject, NOW)
    return numbers


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


async def test_every_reader_of_an_auction_sees_what_it_may(database_url, common, clock):
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client, serving(app) as base:
        listing = await published_listing(database_url)
        operator = bearer(common, Role.OPERATOR, "230100")
        r = await client.post("/auctions", headers=operator, json={
            "listing_id": str(listing), "start_price_fen": 1_000_000, "increment_fen": 50_000,
            "deposit_ratio": "0.10", "starts_at": STARTS.isoformat(),
            "ends_at": ENDS.isoformat()})
        assert r.status_code == 201, r.text
        auction_id = r.json()["id"]
        own_numbers = await _bidders(client, common, database_url, f"/auctions/{auction_id}")
        assert own_numbers[B1] != own_numbers[B2]
        clock.advance(STARTS - NOW + timedelta(hours=1))

        # Each reader watches the live stream while B1, B2 and B1 bid.
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            async def watch(reader: Reader) -> tuple[dict, list[dict]]:
                async with http.stream("GET", f"/auctions/{auction_id}/stream",
                                       headers=reader.headers(common)) as stream:
                    assert stream.status_code == 200, reader.name
                    events = sse_events(stream)
                    first = await next_event(events)
                    assert first["event"] == "state"
                    watching.release()
                    bids = await next_bids(events, 3)
                    await events.aclose()
                    return json.loads(first["data"]), bids

            watching = asyncio.Semaphore(0)
            streams = [asyncio.create_task(watch(reader)) for reader in READERS]
            for _ in READERS:
                await asyncio.wait_for(watching.acquire(), 30)
            for bidder, amount in ((B1, 1_000_000), (B2, 1_100_000), (B1, 1_200_000)):
                reader = next(x for x in READERS if x.subject == bidder)
                placed = await client.post(f"/auctions/{auction_id}/bids",
                                           json={"amount_fen": amount},
                                           headers=reader.headers(common))
                assert placed.status_code == 201, placed.text
            seen = await asyncio.gather(*streams)

        order = [B1, B2, B1]
        for reader, (state, live) in zip(READERS, seen, strict=True):
            assert state["your_number"] == own_numbers.get(reader.subject), reader.name
            _check_bids(reader, live, order, closed=False)
            listed = await client.get(f"/auctions/{auction_id}/bids",
                                      headers=reader.headers(common))
            assert listed.status_code == 200, listed.text
            _check_bids(reader, listed.json(), order, closed=False)
            assert [b["bidder_number"] for b in listed.json()] == [
                b["bidder_number"] for b in live]
            assert [b["bidder_number"] for b in live] == [own_numbers[b] for b in order]

        # After the close: the seller learns who won, rivals still see a number.
        clock.advance(ENDS - clock.now() + timedelta(minutes=1))
        assert await app.state.runtime.scheduler.fire_due() == 1
        for _ in range(100):
            state = (await client.get(f"/auctions/{auction_id}", headers=operator)).json()
            if state["status"] == "closed":
                break
            await asyncio.sleep(0.05)
        assert state["status"] == "closed" and state["winner_id"] == B1
        for reader in READERS:
            view = (await client.get(f"/auctions/{auction_id}",
                                     headers=reader.headers(common))).json()
            assert view["winner_number"] == own_numbers[B1], reader.name
            assert view["high_bidder_number"] == own_numbers[B1]
            assert view["winner_id"] == (B1 if reader.may_know(B1, closed=True) else None), (
                reader.name, view)
            listed = await client.get(f"/auctions/{auction_id}/bids",
                                      headers=reader.headers(common))
            _check_bids(reader, listed.json(), order, closed=True)

    # The events keep the accounts: settlement and the record need them.
    payloads = [json.loads(r["payload"]) for r in await sql(
        database_url, "SELECT payload FROM outbox WHERE type = $1 ORDER BY seq",
        "cn.techex.auction.bid_accepted.v1")]
    assert [p["bidder_id"] for p in payloads] == order


async def test_every_reader_of_a_listing_trade_sees_what_it_may(database_url, common, clock):
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        scheduler = app.state.runtime.scheduler
        listing = await published_listing(database_url, route="listing")
        r = await client.post("/listing-trades", headers=bearer(common, Role.OPERATOR, "230100"),
                              json={"listing_id": str(listing), "listed_price_fen": 1_000_000,
                                    "increment_fen": 50_000, "deposit_fen": 100_000,
                                    "working_days": 5, "free_quote_seconds": 3600,
                                    "countdown_seconds": 300})
        assert r.status_code == 201, r.text
        trade = r.json()
        own_numbers = await _bidders(client, common, database_url,
                                     f"/listing-trades/{trade['id']}")
        ends = datetime.fromisoformat(trade["period_ends_at"].replace("Z", "+00:00"))
        clock.advance(ends - clock.now())
        assert await scheduler.fire_due() == 1  # two qualified buyers: online bidding
        clock.advance(timedelta(minutes=10))
        order = [B1, B2, B1]
        for bidder, amount in zip(order, (1_000_000, 1_050_000, 1_100_000), strict=True):
            reader = next(x for x in READERS if x.subject == bidder)
            placed = await client.post(f"/listing-trades/{trade['id']}/bids",
                                       json={"amount_fen": amount},
                                       headers=reader.headers(common))
            assert placed.status_code == 201, placed.text

        async def views(closed: bool) -> None:
            public = (await client.get(f"/listing-trades/{trade['id']}")).json()
            _check_bids(Reader("the public", Role.BUYER, "000000", ""), public["bids"], order,
                        closed)
            assert public["your_number"] is None
            for reader in READERS:
                view = (await client.get(f"/listing-trades/{trade['id']}",
                                         headers=reader.headers(common))).json()
                _check_bids(reader, view["bids"], order, closed)
                assert view["your_number"] == own_numbers.get(reader.subject), reader.name
                if closed:
                    assert view["winner_number"] == own_numbers[B1]
                    assert view["winner_id"] == (B1 if reader.may_know(B1, closed) else None)

        await views(closed=False)
        clock.advance(timedelta(hours=2))
        assert await scheduler.fire_due() == 1  # the bidding closes
        await views(closed=True)
        bad = await client.get(f"/listing-trades/{trade['id']}",
                               headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401  # a token that is there must be valid
        unknown = await client.get(f"/listing-trades/{uuid.uuid4()}")
        assert unknown.status_code == 404
