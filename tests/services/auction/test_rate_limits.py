"""Per-account bid limits on the real auction service: a flooding account is answered 429
while another account's bids go on being accepted."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from shared.auth import Role
from shared.clock import ManualClock
from tests.services.auction.test_api import NOW, STARTS, _announced, _deposit
from tests.support.services import bearer, running

RATE, BURST = 5.0, 10


@pytest.fixture
def rate() -> float:
    return RATE


@pytest.fixture
async def auction_service(database_url, common, rate):
    limited = common.model_copy(update={"bid_rate": rate, "bid_burst": BURST})
    clock = ManualClock(NOW)
    app = create_app(AuctionSettings(database_url=database_url), limited, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db, client.clock = database_url, clock
        yield client


async def _open_with(client, common, *bidders: str) -> str:
    auction_id = await _announced(client, common)
    for bidder in bidders:
        r = await client.post(f"/auctions/{auction_id}/registrations",
                              headers=bearer(common, Role.BUYER, "230100", bidder))
        assert r.status_code == 201, r.text
        await _deposit(client.db, auction_id, bidder)
    client.clock.advance(STARTS - NOW + timedelta(hours=1))
    return auction_id


async def test_a_flooding_account_gets_429s_while_another_keeps_bidding(auction_service,
                                                                        common):
    client = auction_service
    auction_id = await _open_with(client, common, "flooder", "steady-1", "steady-2")
    flooder = bearer(common, Role.BUYER, "230100", "flooder")
    steady = [bearer(common, Role.BUYER, "230100", f"steady-{i}") for i in (1, 2)]
    path = f"/auctions/{auction_id}/bids"
    first = await client.post(path, json={"amount_fen": 1_000_000}, headers=steady[1])
    assert first.status_code == 201, first.text

    flood: list = []
    done = asyncio.Event()

    async def flooding() -> None:  # the start price again: refused by the engine if let in
        while not done.is_set():
            flood.extend(await asyncio.gather(*(
                client.post(path, json={"amount_fen": 1_000_000}, headers=flooder)
                for _ in range(50))))

    started = time.monotonic()
    task = asyncio.create_task(flooding())
    latencies, answers = [], []
    try:
        await asyncio.sleep(0.05)
        amount = 1_000_000
        for i in range(8):  # two rivals outbid each other, well within their limits
            amount += 50_000
            t0 = time.monotonic()
            answers.append(await client.post(path, json={"amount_fen": amount},
                                             headers=steady[i % 2]))
            latencies.append(time.monotonic() - t0)
            await asyncio.sleep(0.25)
    finally:
        done.set()
        await task
    elapsed = time.monotonic() - started

    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    assert answers[-1].json()["high_bid_fen"] == amount
    assert max(latencies) < 2.0, latencies  # not queued behind the flood (generous bound)

    refused = [r for r in flood if r.status_code == 429]
    let_in = [r for r in flood if r.status_code != 429]
    assert len(flood) >= 200
    assert len(let_in) <= BURST + RATE * elapsed + 1
    assert {r.status_code for r in let_in} <= {409}  # the engine refused the ones let in
    for r in refused[:20]:
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1
        body = r.json()
        assert body["type"] == "urn:techex:problem:rate-limited" and body["limit"] == "bids"
    bids = await client.get(path, headers=steady[0])
    assert [b["amount_fen"] for b in bids.json()] == [1_000_000 + 50_000 * i for i in range(9)]
    metrics = (await client.get("/metrics")).text
    assert 'techex_rate_limited_total{limit="bids",service="auction"}' in metrics


@pytest.mark.parametrize("rate", [0.01])  # no token comes back while the test runs
async def test_proxy_and_listing_trade_bids_count_in_the_same_bid_limit(auction_service,
                                                                       common):
    client = auction_service
    auction_id = await _open_with(client, common, "b-1")
    buyer = bearer(common, Role.BUYER, "230100", "b-1")
    statuses = []
    for i in range(BURST):
        if i % 3 == 0:
            r = await client.put(f"/auctions/{auction_id}/proxy",
                                 json={"max_fen": 2_000_000 + i}, headers=buyer)
        elif i % 3 == 1:
            r = await client.post(f"/auctions/{auction_id}/bids",
                                  json={"amount_fen": 3_000_000 + i * 50_000}, headers=buyer)
        else:
            r = await client.post(f"/listing-trades/{auction_id}/bids",
                                  json={"amount_fen": 1_000_000}, headers=buyer)
        statuses.append(r.status_code)
    assert 429 not in statuses, statuses
    for method, path, body in (
            ("PUT", f"/auctions/{auction_id}/proxy", {"max_fen": 9_000_000}),
            ("POST", f"/auctions/{auction_id}/bids", {"amount_fen": 9_000_000}),
            ("POST", f"/listing-trades/{auction_id}/bids", {"amount_fen": 9_000_000})):
        r = await client.request(method, path, json=body, headers=buyer)
        assert r.status_code == 429, (path, r.text)
        assert r.json()["limit"] == "bids"


async def test_the_limited_routes_document_429_with_retry_after(auction_service):
    paths = (await auction_service.get("/openapi.json")).json()["paths"]
    for path, method in (("/auctions/{auction_id}/bids", "post"),
                         ("/auctions/{auction_id}/proxy", "put"),
                         ("/listing-trades/{trade_id}/bids", "post")):
        documented = paths[path][method]["responses"]["429"]
        assert "'bids'" in documented["description"]
        assert "Retry-After" in documented["headers"]
    assert "'bids'" not in paths["/auctions"]["post"]["responses"]["429"]["description"]
