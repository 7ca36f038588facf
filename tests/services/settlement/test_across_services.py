"""The settlement and auction services in one process each, with their relays and consumers
running over the real Kafka (one topic prefix) and their own databases, on one hand-moved clock:

registration (BidderRegistered) → an operator confirms the deposit → DepositConfirmed qualifies
the bidder at the auction service → a bid wins → DealConcluded opens the settlement → the
winner does not pay → DealDefaulted fails the auction → AuctionFailed releases the other
deposit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from services.auction.api import create_app as auction_app
from services.auction.config import AuctionSettings
from services.settlement.api import create_app as settlement_app
from services.settlement.config import SettlementSettings
from shared.auth import Role
from shared.clock import ManualClock
from tests.services.auction.test_api import ENDS, NOW, STARTS, _announced
from tests.support.auction_processes import eventually
from tests.support.services import bearer, running

pytestmark = pytest.mark.timeout(240)

DEPOSIT = 100_000  # 10 % of the ¥10,000 start price the auction tests announce


async def _one(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_deposit_qualifies_then_a_default_fails_the_auction(new_database, common):
    clock = ManualClock(NOW)
    a_db, s_db = await new_database(), await new_database()
    auction = auction_app(AuctionSettings(database_url=a_db), common, clock=clock)
    settlement = settlement_app(SettlementSettings(database_url=s_db), common, clock=clock)
    async with running(auction) as a, running(settlement) as s:
        a.db = a_db
        operator = bearer(common, Role.OPERATOR, "230100")
        winner = bearer(common, Role.BUYER, "230100", "longjiang-coatings")
        other = bearer(common, Role.BUYER, "210200", "dalian-marine")
        auction_id = await _announced(a, common)
        for buyer in (winner, other):
            r = await a.post(f"/auctions/{auction_id}/registrations", headers=buyer)
            assert r.status_code == 201 and r.json()["deposit_fen"] == DEPOSIT

        async def confirm(bidder: str):
            r = await s.post("/deposits", json={"procedure_id": auction_id, "bidder_id": bidder,
                                                "amount_fen": DEPOSIT}, headers=operator)
            assert r.status_code in (201, 404), r.text
            return r.status_code == 201

        for bidder in ("longjiang-coatings", "dalian-marine"):  # once its registration arrived
            await eventually(lambda b=bidder: confirm(b), 60, f"the registration of {bidder}")
        await eventually(lambda: _one(
            a_db, "SELECT count(*) = 2 FROM bidders WHERE auction_id = $1"
            " AND qualified_at IS NOT NULL", uuid.UUID(auction_id)), 60,
            "DepositConfirmed to qualify both bidders at the auction service")

        clock.advance(STARTS - NOW + timedelta(hours=1))
        bid = await a.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                           headers=winner)
        assert bid.status_code == 201, bid.text
        clock.advance(ENDS - clock.now() + timedelta(seconds=1))

        async def closed():
            await auction.state.runtime.scheduler.fire_due()
            return await _one(a_db, "SELECT status = 'closed' FROM auctions WHERE id = $1",
                              uuid.UUID(auction_id))
        await eventually(closed, 30, "the auction to close")

        deal_id = uuid.uuid5(uuid.UUID(auction_id), "deal")

        async def deal():
            r = await s.get(f"/deals/{deal_id}", headers=operator)
            return r.json() if r.status_code == 200 else None
        opened = await eventually(deal, 60, "DealConcluded to open the settlement")
        assert (opened["buyer_id"], opened["deposit_fen"]) == ("longjiang-coatings", DEPOSIT)

        scheduler = settlement.state.runtime.scheduler

        async def fired(ready):  # the service's own scheduler may take the deadline first
            await scheduler.fire_due()
            d = await deal()
            return d if ready(d) else None

        clock.advance(timedelta(days=15, seconds=1))  # due, unpaid
        await eventually(lambda: fired(lambda d: d["overdue_since"]), 30, "the payment overdue")
        clock.advance(timedelta(days=3))  # and the grace period passed
        await eventually(lambda: fired(lambda d: d["status"] == "defaulted"), 30, "the default")

        await eventually(lambda: _one(
            a_db, "SELECT failure = 'winner-defaulted' FROM auctions WHERE id = $1",
            uuid.UUID(auction_id)), 60, "DealDefaulted to fail the auction")
        statuses = await eventually(lambda: _deposits_settled(s, auction_id, operator), 60,
                                    "the deposits to be settled")
        assert statuses == {"longjiang-coatings": "forfeited", "dalian-marine": "released"}


async def _deposits_settled(client, procedure_id: str, who: dict) -> dict | None:
    r = await client.get("/deposits", params={"procedure_id": procedure_id}, headers=who)
    statuses = {d["bidder_id"]: d["status"] for d in r.json()}
    return None if "held" in statuses.values() else statuses
