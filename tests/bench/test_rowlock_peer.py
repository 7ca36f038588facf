"""The row-lock peer of bench/bids.py answers bids as the auction service does, and keeps its
bids in order under concurrent bidders (over its real database)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import asyncpg
import bids
import pytest
import rowlock_peer

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from shared.auth import Role
from tests.support.services import bearer, running

START, STEP = bids.START, bids.INCREMENT


@pytest.fixture
async def service(database_url, common):
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False)
    async with running(app) as client:
        client.pool = app.state.runtime.pool
        yield client


@pytest.fixture
async def peer(new_database, common):
    url = await new_database()
    app = rowlock_peer.create_app(rowlock_peer.PeerSettings(database_url=url), common)
    async with running(app) as client:
        client.pool = app.state.pool
        yield client


async def _peer_auction(pool: asyncpg.Pool, bidders: list[str]) -> uuid.UUID:
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        return await rowlock_peer.open_auction(
            conn, start_price_fen=START, increment_fen=STEP,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
            bidders=bidders, qualified_at=now)


def _seen(response, auction: uuid.UUID) -> tuple[int, str, dict]:
    """Status, media type and body, with what differs by design (the auction's id, its end
    time) taken out."""
    body = json.loads(response.text.replace(str(auction), "{auction}"))
    body.pop("ends_at", None)
    return response.status_code, response.headers["content-type"], body


async def test_the_peer_answers_each_bid_as_the_auction_service_does(service, peer, common):
    ours = (await bids.open_auctions(service.pool, 1, ["b-1", "b-2"]))[0]
    theirs = await _peer_auction(peer.pool, ["b-1", "b-2"])

    def buyer(name: str) -> dict:
        return bearer(common, Role.BUYER, "230100", name)

    steps = [
        ("b-1", {"amount_fen": START}, {}),  # accepted: sequence 1
        ("b-1", {"amount_fen": START + STEP}, {}),  # own-high-bid
        ("b-2", {"amount_fen": START}, {}),  # below-minimum
        ("b-2", {"amount_fen": START + STEP + 1}, {}),  # not-multiple
        ("b-3", {"amount_fen": START + STEP}, {}),  # not-qualified
        ("b-2", {"amount_fen": START + 2 * STEP}, {"Idempotency-Key": "k-1"}),  # sequence 2
        ("b-2", {"amount_fen": START + 2 * STEP}, {"Idempotency-Key": "k-1"}),  # replayed
        ("b-1", {"amount_fen": START + 2 * STEP}, {"Idempotency-Key": "k-2"}),  # below-minimum
        ("b-1", {"amount_fen": START + 2 * STEP}, {"Idempotency-Key": "k-2"}),  # replayed
        ("b-1", {"amount_fen": "many"}, {}),  # 422
    ]
    answers = []
    for who, body, headers in steps:
        got = []
        for client, auction in ((service, ours), (peer, theirs)):
            r = await client.post(f"/auctions/{auction}/bids", json=body,
                                  headers={**buyer(who), **headers})
            got.append((_seen(r, auction), r.headers.get("idempotent-replayed")))
        assert got[0] == got[1], (who, body)
        answers.append(got[0][0])
    assert [(status, b.get("sequence") or b.get("reason")) for status, _, b in answers[:9]] == [
        (201, 1), (409, "own-high-bid"), (409, "below-minimum"), (409, "not-multiple"),
        (409, "not-qualified"), (201, 2), (201, 2), (409, "below-minimum"),
        (409, "below-minimum")]
    assert answers[0][2] == {"accepted": True, "sequence": 1, "amount_fen": START,
                             "high_bid_fen": START, "automatic_bids": 0}

    unknown = await peer.post(f"/auctions/{uuid.uuid4()}/bids", json={"amount_fen": START},
                              headers=buyer("b-1"))
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:techex:problem:auction-not-found"
    anonymous = await peer.post(f"/auctions/{theirs}/bids", json={"amount_fen": START})
    assert anonymous.status_code == 401
    seller = await peer.post(f"/auctions/{theirs}/bids", json={"amount_fen": START},
                             headers=bearer(common, Role.SELLER, "230100"))
    assert seller.status_code == 403
    assert await peer.pool.fetchval("SELECT count(*) FROM bids") == 2


async def test_concurrent_bids_on_one_auction_are_taken_one_at_a_time(peer, common):
    """What bench/bids.py checks of both servers, here of the peer under 48 concurrent
    bidders: every 201 is stored, the stored bids rise, the auction row holds the last."""
    bidders = [f"b-{i}" for i in range(48)]
    auction = await _peer_auction(peer.pool, bidders)
    tokens = [bearer(common, Role.BUYER, "230100", b) for b in bidders]
    target = bids.Target("", None, 0, peer.pool, None)  # type: ignore[arg-type]

    async def bidder(i: int) -> None:
        for round_ in range(4):
            amount = START + (round_ * len(bidders) + i) * STEP
            r = await peer.post(f"/auctions/{auction}/bids", json={"amount_fen": amount},
                                headers=tokens[i])
            if r.status_code == 201:
                target.accepted.append((auction, r.json()["sequence"], amount))
            elif r.status_code != 409:
                target.unexpected += 1

    await asyncio.gather(*(bidder(i) for i in range(len(bidders))))
    assert target.accepted
    assert await bids.verify(target) == {
        "accepted_answers_missing_from_db": 0, "accepted_answers_same_amount": 0,
        "bids_not_rising": 0, "auction_rows_disagreeing": 0, "bid_answers_unexpected": 0}
    assert await peer.pool.fetchval("SELECT count(*) FROM bids") == len(target.accepted)
