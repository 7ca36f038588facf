"""PostgreSQL stopped (fast shutdown) for ten seconds under load and started again.

The auction, settlement and registry services keep their databases in a PostgreSQL cluster
of this test's own (the suite's shared one is left alone), the listing service in the shared
one, so its events go on arriving at the other three while their database is away. While bids,
deal payments, deposit confirmations and new listings flow, the test's cluster stops and
starts again. During the outage the requests are
answered 503 problem+json with ``Retry-After`` within a bounded time, never 500 and never
hanging; afterwards the relays, consumers and schedulers carry on by themselves, every 2xx
answer is in the database exactly once, and nothing is half-written.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import Role
from shared.events.auction import BidAccepted
from shared.problems import PROBLEM_MEDIA_TYPE
from techex.stack.postgres import EmbeddedPostgres
from techex.stack.stack import SERVICES, create_database
from tests.support.auction_processes import free_port, query, stored_bids, topic_records
from tests.support.exchange import Exchange, wait_for
from tests.support.flows import (
    INCREMENT,
    START,
    announced_auction,
    approved_listing,
    buyer,
    first_bid,
    operator,
    qualify,
    register,
)
from tests.support.listing import achievement

pytestmark = pytest.mark.timeout(600)

OUTAGE = 10.0
ANSWER_WITHIN = 12.0  # the pool's acquire (5 s) and connect (5 s) bounds, and some slack
SETTLED_AFTER = 10.0  # after the restart, 503s stop within this
PAYMENT = 10_000
LATE_BIDDERS = [f"late-{i:02d}" for i in range(12)]
UNAVAILABLE = "urn:techex:problem:database-unavailable"
BID_REJECTED = "urn:techex:problem:auction-bid-rejected"


@pytest.fixture
async def own_postgres(tmp_path) -> AsyncIterator[EmbeddedPostgres]:
    """A cluster of this test's own, beside the shared one, with a database per service."""
    pg = EmbeddedPostgres(tmp_path / "pg-restart", free_port())
    try:
        await asyncio.to_thread(pg.up, lambda _: None)
        admin = await asyncpg.connect(pg.url("postgres"))
        try:
            for service in SERVICES:
                await create_database(admin, f"techex_{service}")
        finally:
            await admin.close()
        yield pg
    finally:
        await asyncio.to_thread(pg.down)
        shutil.rmtree(pg.base or pg.home, ignore_errors=True)


@pytest.fixture
async def exchange(stack, own_postgres, new_database, tmp_path) -> AsyncIterator[Exchange]:
    databases = {s: own_postgres.url(f"techex_{s}") for s in SERVICES if s != "listing"}
    ex = Exchange(stack, tmp_path, {"listing": await new_database(), **databases})
    await ex.start({"TECHEX_BID_RATE": "0"})  # the load bids faster than one account may
    try:
        yield ex
    finally:
        await ex.stop()  # before the cluster stops


@dataclass
class Call:
    kind: str
    at: float
    took: float
    status: int | None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def problem(self) -> str | None:
        return self.body.get("type") if isinstance(self.body, dict) else None


@dataclass
class Load:
    """Three flows of commands side by side, each answer recorded."""

    ex: Exchange
    auction_id: str
    deal_id: str
    high: int
    calls: list[Call] = field(default_factory=list)
    bids: dict[int, int] = field(default_factory=dict)
    """sequence → amount of each bid answered 201"""
    payments: dict[str, str] = field(default_factory=dict)
    """Idempotency-Key → payment_id of each payment answered 201"""
    deposits: dict[str, str] = field(default_factory=dict)
    """bidder → deposit_id of each deposit confirmation answered 2xx"""
    listings: list[str] = field(default_factory=list)
    """ids of the achievements filed (the listing service's database stays up)"""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(self, kind: str, method: str, service: str, path: str, who: dict, *,
                   json: Any = None, headers: dict | None = None) -> Call:
        started = time.monotonic()
        try:
            r = await self.ex.client.request(method, self.ex.url(service, path), json=json,
                                             headers={**who, **(headers or {})})
        except httpx.HTTPError as exc:
            c = Call(kind, started, time.monotonic() - started, None, error=repr(exc))
        else:
            c = Call(kind, started, time.monotonic() - started, r.status_code,
                     r.json() if "json" in r.headers.get("content-type", "") else r.text,
                     dict(r.headers))
        self.calls.append(c)
        return c

    async def bidding(self) -> None:
        names, turn = ["winner", "loser"], 0
        while not self.done.is_set():
            amount = self.high + INCREMENT
            c = await self.call("bid", "POST", "auction", f"/auctions/{self.auction_id}/bids",
                                buyer(self.ex, names[turn % 2]), json={"amount_fen": amount})
            if c.status == 201:
                self.bids[c.body["sequence"]] = amount
                self.high = amount
                turn += 1
            elif c.problem == BID_REJECTED:  # e.g. a bid answered 503 that did commit
                self.high = max(self.high, c.body.get("high_bid_fen") or self.high)
                turn += 1
            else:
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.01)

    async def paying(self) -> None:
        n = 0
        while not self.done.is_set():
            n += 1
            key = f"pay-{n}"
            while True:  # the same key again until an answer that is not 503
                c = await self.call("payment", "POST", "settlement",
                                    f"/deals/{self.deal_id}/payments", operator(self.ex),
                                    json={"amount_fen": PAYMENT},
                                    headers={"Idempotency-Key": key})
                if c.status != 503:
                    break
                await asyncio.sleep(0.2)
            if c.status == 201:
                self.payments[key] = c.body["payment_id"]
            await asyncio.sleep(0.05)

    async def confirming(self, deposit_fen: int) -> None:
        for name in LATE_BIDDERS:
            while True:
                c = await self.call("deposit", "POST", "settlement", "/deposits",
                                    operator(self.ex),
                                    json={"procedure_id": self.auction_id, "bidder_id": name,
                                          "amount_fen": deposit_fen,
                                          "bank_reference": f"ICBC-{name}"})
                if c.status != 503:
                    break
                await asyncio.sleep(0.2)
            if c.status in (200, 201):
                self.deposits[name] = c.body["deposit_id"]
            await asyncio.sleep(0.8)

    async def filing(self) -> None:
        seller = self.ex.as_(Role.SELLER, "230102", "hit")
        while not self.done.is_set():
            c = await self.call("listing", "POST", "listing", "/achievements", seller,
                                json=achievement(title=f"工业余热回收系统 {len(self.listings)}"))
            if c.status == 201:
                self.listings.append(c.body["id"])
            await asyncio.sleep(0.3)

    async def probing(self) -> None:
        while not self.done.is_set():
            await self.call("readyz", "GET", "settlement", "/readyz", {})
            await asyncio.sleep(0.5)


async def _one(url: str, sql: str, *args: Any) -> Any:
    return (await query(url, sql, *args))[0][0]


async def test_postgres_restarted_under_load(exchange: Exchange, own_postgres: EmbeddedPostgres):
    ex, pg = exchange, own_postgres
    op = operator(ex)
    db = ex.databases

    # -- an open auction with two bidders, and a concluded deal to pay -----------------------
    bidding = await announced_auction(ex, await approved_listing(ex), hours=72)
    sold = await announced_auction(
        ex, await approved_listing(ex, title="耐高温陶瓷基复合材料制备技术"), hours=24)
    await qualify(ex, bidding, ["winner", "loser"])
    await qualify(ex, sold, ["solo"])
    await register(ex, bidding["id"], LATE_BIDDERS)
    ex.advance(timedelta(days=7, minutes=2))
    opening = await first_bid(ex, bidding["id"], "winner")
    await first_bid(ex, sold["id"], "solo")
    ex.advance(timedelta(hours=24, seconds=5))
    closed = await ex.until("auction", f"/auctions/{sold['id']}", op,
                            lambda a: a["status"] == "closed", "the 24-hour auction to close")
    deal = await ex.until("settlement", f"/deals/{closed['deal_id']}", op, lambda d: True,
                          "the deal to reach the settlement service")

    async def registrations_known() -> bool:
        return await _one(db["settlement"], "SELECT count(*) FROM registrations"
                          " WHERE procedure_id = $1", uuid.UUID(bidding["id"])) == 2 + len(
                              LATE_BIDDERS)
    await wait_for(registrations_known, "the late bidders' registrations at settlement")

    # -- the load, and the outage in its middle -----------------------------------------------
    load = Load(ex, bidding["id"], deal["deal_id"], high=opening["amount_fen"])
    load.bids[opening["sequence"]] = START
    flows = [asyncio.create_task(f) for f in (
        load.bidding(), load.paying(), load.confirming(bidding["deposit_fen"]), load.filing(),
        load.probing())]
    try:
        await asyncio.sleep(3)
        stopping = time.monotonic()
        await asyncio.to_thread(pg.down)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(pg.up, lambda _: None)
        restarted = time.monotonic()
        await asyncio.sleep(SETTLED_AFTER + 5)
    finally:
        load.done.set()
        await asyncio.wait_for(asyncio.gather(*flows), 120)
    for name in LATE_BIDDERS:
        assert name in load.deposits, f"the deposit of {name} was never confirmed"

    # -- during the outage: 503 problem+json with Retry-After, in bounded time ---------------
    calls = load.calls
    assert all(c.error is None for c in calls), [c.error for c in calls if c.error][:5]
    assert max(c.took for c in calls) < ANSWER_WITHIN, max(c.took for c in calls)
    allowed = {"bid": {201, 409, 503}, "payment": {201, 503}, "deposit": {200, 201, 503},
               "listing": {201}, "readyz": {200, 503}}
    unexpected = [(c.kind, c.status, c.body) for c in calls if c.status not in allowed[c.kind]
                  or (c.status == 409 and c.problem != BID_REJECTED)]
    assert not unexpected, unexpected[:5]
    unavailable = [c for c in calls if c.status == 503 and c.kind != "readyz"]
    for c in unavailable:
        assert c.headers["content-type"] == PROBLEM_MEDIA_TYPE, c.body
        assert c.problem == UNAVAILABLE, c.body
        assert int(c.headers["retry-after"]) > 0
        # answered once the stop began (a request may have started just before it)
        assert stopping <= c.at + c.took and c.at < restarted + SETTLED_AFTER, (
            c.at - stopping, c.body)
    for kind in ("bid", "payment"):
        assert any(c.kind == kind for c in unavailable), f"no {kind} met the outage"
        assert any(c.kind == kind and c.status in (200, 201) and c.at > restarted
                   for c in calls), f"no {kind} succeeded after the restart"
    probes = [c for c in calls if c.kind == "readyz"]
    assert any(c.status == 503 and c.body["checks"]["database"] != "ok" for c in probes)
    assert probes[-1].status == 200

    # -- every 2xx in the database exactly once, nothing half-written -------------------------
    aid = uuid.UUID(bidding["id"])
    rows = await stored_bids(db["auction"], aid)
    stored = {r["seq"]: r["amount_fen"] for r in rows}
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(stored.get(seq) == amount for seq, amount in load.bids.items()), "a bid is lost"
    amounts = [r["amount_fen"] for r in rows]
    assert amounts == sorted(set(amounts))  # each bid above the one before it
    row = (await query(db["auction"], "SELECT bid_count, high_bid_fen FROM auctions"
                       " WHERE id = $1", aid))[0]
    assert (row["bid_count"], row["high_bid_fen"]) == (len(rows), amounts[-1])

    payments = await query(db["settlement"], "SELECT payment_id, amount_fen FROM payments"
                           " WHERE deal_id = $1", uuid.UUID(deal["deal_id"]))
    assert sorted(str(p["payment_id"]) for p in payments) == sorted(load.payments.values())
    assert len(set(load.payments.values())) == len(load.payments)
    after = await ex.call("settlement", "GET", f"/deals/{deal['deal_id']}", op)
    assert after["outstanding_fen"] == deal["outstanding_fen"] - PAYMENT * len(load.payments)
    entries = await _one(db["settlement"], "SELECT count(*) FROM entries WHERE entry_id ="
                         " ANY($1::text[])", [f"payment:{p}" for p in load.payments.values()])
    assert entries == len(load.payments)

    deposits = await query(db["settlement"], "SELECT bidder_id, deposit_id, status FROM deposits"
                           " WHERE procedure_id = $1", aid)
    late = {d["bidder_id"]: str(d["deposit_id"]) for d in deposits
            if d["bidder_id"] in LATE_BIDDERS}
    assert late == load.deposits
    trial = await ex.call("settlement", "GET", "/ledger/trial-balance", op)
    assert trial["balanced"] is True

    # -- the relays and consumers carry on by themselves ---------------------------------------
    async def qualified_at_auction() -> bool:  # settlement's relay → auction's consumer
        return await _one(db["auction"], "SELECT count(*) FROM bidders WHERE auction_id = $1"
                          " AND qualified_at IS NOT NULL", aid) == 2 + len(LATE_BIDDERS)
    await wait_for(qualified_at_auction, "the late bidders to qualify at the auction service")

    # The listings filed all along (during the outage too) reach each consumer, once each.
    assert len(load.listings) > 20
    for service in ("auction", "settlement", "registry"):
        for lid in (load.listings[0], load.listings[-1]):
            await ex.until(service, f"/listings/{lid}", op, lambda body: True,
                           f"the {service} service to learn of listing {lid}")
        applied = await query(db[service], "SELECT listing_id, events_applied FROM listings"
                              " WHERE listing_id = ANY($1::uuid[])",
                              [uuid.UUID(i) for i in load.listings])
        assert sorted(str(r["listing_id"]) for r in applied) == sorted(load.listings)
        assert {r["events_applied"] for r in applied} == {1}, service

    async def outboxes_empty() -> bool:
        return all([await _one(db[s], "SELECT count(*) FROM outbox") == 0 for s in SERVICES])
    await wait_for(outboxes_empty, "every outbox to be relayed")

    # Each accepted bid reached Kafka as one event (a relay that sent a batch again after the
    # outage repeats its ids, which consumers drop).
    published: dict[int, set[str]] = {}
    for record in await topic_records(ex.common, ["auction"]):
        if record.type == BidAccepted.ce_type() and record.subject == bidding["id"]:
            published.setdefault(record.data["sequence"], set()).add(record.id)
    assert sorted(published) == sorted(stored)
    assert all(len(ids) == 1 for ids in published.values())

    # -- the schedulers carry on: the auction closes, the losers' deposits are released --------
    ex.advance_to(datetime.fromisoformat(bidding["ends_at"].replace("Z", "+00:00"))
                  + timedelta(seconds=5))
    ended = await ex.until("auction", f"/auctions/{bidding['id']}", op,
                           lambda a: a["status"] == "closed", "the auction to close")
    assert ended["hammer_price_fen"] == amounts[-1]
    ex.advance(timedelta(hours=25))

    async def released() -> bool:
        rows = await query(db["settlement"], "SELECT bidder_id, status FROM deposits"
                           " WHERE procedure_id = $1", aid)
        return sum(r["status"] == "released" for r in rows) == len(rows) - 1
    await wait_for(released, "the losers' deposits to be released")
