"""A partner's buyer in this deployment's auction with its own token: Tianjin's auction and
settlement services (real PostgreSQL and Kafka) trust Hebei's issuer, whose JWK set is served
over HTTP; Hebei's ``jizhong-steel`` registers, its deposit is confirmed, it bids, wins and
sees its deal, all as ``hebei:jizhong-steel``."""

from __future__ import annotations

import contextlib
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
from shared.kafka import delete_topics
from shared.settings import CommonSettings
from tests.services.auction.test_api import ENDS, NOW, STARTS, _announced
from tests.support.auction_processes import eventually
from tests.support.partners import HEBEI_ISSUER, Issuer, JwksServer, tianjin_file
from tests.support.services import bearer, running

pytestmark = pytest.mark.timeout(240)

DEPOSIT = 100_000
BIDDER = "hebei:jizhong-steel"


async def _one(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
async def tianjin(common, tmp_path):
    """Tianjin's settings trusting Hebei's issuer, and Hebei's issuer."""
    hebei = Issuer(HEBEI_ISSUER)
    with JwksServer(hebei.jwks).running() as jwks:
        path = tianjin_file(tmp_path, common.topic_prefix, hebei=(HEBEI_ISSUER, jwks.url))
        settings = CommonSettings(kafka_bootstrap_servers=common.kafka_bootstrap_servers,
                                  topic_prefix=common.topic_prefix, topic_partitions=2,
                                  federation_file=path)
        yield settings, hebei
    for alias in ("hebei", "beijing"):  # mirrored partner topics a consumer may have made
        with contextlib.suppress(Exception):
            await delete_topics(common.kafka_bootstrap_servers,
                                f"{alias}.{common.topic_prefix}.")


async def test_a_partner_buyer_registers_pays_bids_and_sees_its_deal(new_database, tianjin):
    common, hebei = tianjin
    clock = ManualClock(NOW)
    a_db, s_db = await new_database(), await new_database()
    auction = auction_app(AuctionSettings(database_url=a_db), common, clock=clock)
    settlement = settlement_app(SettlementSettings(database_url=s_db), common, clock=clock)
    async with running(auction) as a, running(settlement) as s:
        a.db = a_db
        operator = bearer(common, Role.OPERATOR, "230100")
        buyer = hebei.bearer("jizhong-steel", region="130109")
        auction_id = await _announced(a, common)

        r = await a.post(f"/auctions/{auction_id}/registrations", headers=buyer)
        assert r.status_code == 201, r.text
        assert (r.json()["bidder_id"], r.json()["deposit_fen"]) == (BIDDER, DEPOSIT)
        refused = await a.post(f"/auctions/{auction_id}/registrations",
                               headers=hebei.bearer("hb-operator", "operator", "130000"))
        assert refused.status_code == 403

        async def confirm():
            r = await s.post("/deposits", json={"procedure_id": auction_id, "bidder_id": BIDDER,
                                                "amount_fen": DEPOSIT}, headers=operator)
            assert r.status_code in (201, 404), r.text
            return r.status_code == 201

        await eventually(confirm, 60, "the partner buyer's registration at settlement")
        own = await s.get("/deposits", params={"procedure_id": auction_id}, headers=buyer)
        assert [(d["bidder_id"], d["status"]) for d in own.json()] == [(BIDDER, "held")]
        await eventually(lambda: _one(
            a_db, "SELECT qualified_at IS NOT NULL FROM bidders WHERE auction_id = $1"
            " AND bidder_id = $2", uuid.UUID(auction_id), BIDDER), 60,
            "DepositConfirmed to qualify the partner buyer")

        clock.advance(STARTS - NOW + timedelta(hours=1))
        bid = await a.post(f"/auctions/{auction_id}/bids", json={"amount_fen": 1_000_000},
                           headers=buyer)
        assert bid.status_code == 201, bid.text
        view = (await a.get(f"/auctions/{auction_id}", headers=buyer)).json()
        assert view["your_number"] == view["high_bidder_number"]
        clock.advance(ENDS - clock.now() + timedelta(seconds=1))

        async def closed():
            await auction.state.runtime.scheduler.fire_due()
            return await _one(a_db, "SELECT status = 'closed' FROM auctions WHERE id = $1",
                              uuid.UUID(auction_id))
        await eventually(closed, 30, "the auction to close")

        deal_id = uuid.uuid5(uuid.UUID(auction_id), "deal")

        async def deal():
            r = await s.get(f"/deals/{deal_id}", headers=buyer)
            return r.json() if r.status_code == 200 else None
        opened = await eventually(deal, 60, "DealConcluded to open the partner buyer's deal")
        assert opened["buyer_id"] == BIDDER
        # A local account of the same name is another party: it does not see the deal.
        namesake = bearer(common, Role.BUYER, "120101", "jizhong-steel")
        assert (await s.get(f"/deals/{deal_id}", headers=namesake)).status_code == 403
