"""A winner who defaults (the settlement service's DealDefaulted): the auction fails with
reason "winner-defaulted", AuctionFailed is published once, and the lot can be re-auctioned."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import asyncpg
import pytest

from services.auction import handlers
from services.auction.api import create_app
from services.auction.config import AuctionSettings
from services.auction.handlers.engine import BidEngine
from shared.auth import Role
from shared.clock import ManualClock
from shared.events.settlement import DealDefaulted
from tests.services.auction.test_api import ENDS, NOW, STARTS, _announced, _deposit, _settled
from tests.support.handlers import deliver
from tests.support.services import bearer, running


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


async def _deliver(url: str, event: DealDefaulted) -> None:
    await deliver(url, "auction", handlers.on_deal_defaulted, event)


async def _rows(url: str, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_a_defaulted_winner_fails_the_auction_once_and_it_can_be_reauctioned(
        auction_service, common, clock):
    client = auction_service
    auction_id = await _announced(client, common)
    buyer = bearer(common, Role.BUYER, "230100", "longjiang-coatings")
    await client.post(f"/auctions/{auction_id}/registrations", headers=buyer)
    await _deposit(client.db, auction_id, "longjiang-coatings")
    clock.advance(STARTS - NOW + timedelta(hours=1))
    bid = await client.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                            headers=buyer)
    assert bid.status_code == 201, bid.text
    clock.advance(ENDS - clock.now() + timedelta(seconds=1))
    await client.runtime.scheduler.fire_due()
    assert (await _settled(client, auction_id, buyer))["status"] == "closed"

    clock.advance(timedelta(days=18))
    defaulted = DealDefaulted(
        deal_id=uuid.uuid5(uuid.UUID(auction_id), "deal"), procedure_id=uuid.UUID(auction_id),
        listing_id=uuid.uuid4(), region="230102", buyer_id="longjiang-coatings",
        forfeited_fen=100_000, due_at=clock.now() - timedelta(days=3), defaulted_at=clock.now())
    await _deliver(client.db, defaulted)
    await _deliver(client.db, defaulted)  # redelivered: nothing more happens

    [row] = await _rows(client.db, "SELECT status, failure, listing_id FROM auctions"
                                   " WHERE id = $1", uuid.UUID(auction_id))
    assert (row["status"], row["failure"]) == ("failed", "winner-defaulted")
    failures = await _rows(client.db, "SELECT payload FROM outbox WHERE type = $1",
                           "cn.techex.auction.failed.v1")
    assert len(failures) == 1
    payload = json.loads(failures[0]["payload"])
    assert (payload["reason"], payload["procedure_id"], payload["listing_id"]) == (
        "winner-defaulted", auction_id, str(row["listing_id"]))

    # the writer that held the closed auction loses it; read again, the auction is failed
    await client.runtime.part(BidEngine).renew_leases()
    shown = await client.get(f"/auctions/{auction_id}", headers=buyer)
    assert shown.json()["status"] == "failed"

    again = await client.post(
        f"/auctions/{auction_id}/reauction",
        json={"start_price_fen": 900_000, "starts_at": (clock.now() + timedelta(days=8))
              .isoformat(), "ends_at": (clock.now() + timedelta(days=9)).isoformat()},
        headers=bearer(common, Role.OPERATOR, "230100"))
    assert again.status_code == 201, again.text
    assert again.json()["id"] != auction_id


async def test_a_default_for_an_unknown_procedure_changes_nothing(auction_service):
    event = DealDefaulted(
        deal_id=uuid.uuid4(), procedure_id=uuid.uuid4(), listing_id=uuid.uuid4(),
        region="230102", buyer_id="x", forfeited_fen=0, due_at=NOW, defaulted_at=NOW)
    await _deliver(auction_service.db, event)
    assert await _rows(auction_service.db, "SELECT 1 FROM outbox WHERE type = $1",
                       "cn.techex.auction.failed.v1") == []
