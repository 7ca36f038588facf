"""A listing trade (挂牌交易) with exactly one qualified buyer, end to end across the four service
processes: the announcement period runs out in working days and the deal is made at the listed
price, with the buyer's deposit counted toward it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.auth import Role
from tests.support.exchange import Exchange
from tests.support.listing import achievement

pytestmark = pytest.mark.timeout(300)

LISTED = 48_000_000     # ¥480,000
DEPOSIT = 4_800_000
BUYER = "songbei-biotech"


async def test_one_qualified_buyer_makes_the_deal_at_the_listed_price(exchange: Exchange):
    ex = exchange
    seller = ex.as_(Role.SELLER, "230109", "neau")           # 松北区, 哈尔滨
    operator = ex.as_(Role.OPERATOR, "230100", "harbin-exchange")
    buyer = ex.as_(Role.BUYER, "230109", BUYER)

    draft = achievement(title="寒地水稻耐冷高产育种技术", field="agriculture",
                        pricing_route="listing", ip_type="plant_variety", region="230109",
                        ip_numbers=["CNA20191234.5"], keywords=["水稻", "耐冷", "育种"],
                        holders=[{"name": "东北农业大学", "kind": "university"}],
                        reference_price_fen=LISTED)
    lid = (await ex.call("listing", "POST", "/achievements", seller, expect=201,
                         json=draft))["id"]
    await ex.call("listing", "POST", f"/achievements/{lid}/submit", seller)
    await ex.call("listing", "POST", f"/achievements/{lid}/review", operator)
    await ex.call("listing", "POST", f"/achievements/{lid}/approve", operator)

    trade = await ex.once_published("/listing-trades", {
        "listing_id": lid, "listed_price_fen": LISTED, "increment_fen": 1_000_000,
        "deposit_fen": DEPOSIT, "working_days": 5}, operator)
    tid = trade["id"]
    await ex.call("auction", "POST", f"/listing-trades/{tid}/registrations", buyer, expect=201)

    await ex.confirm_deposit(operator, tid, BUYER, DEPOSIT)

    # The period ends in working days; the buyer has qualified by then.
    period_end = datetime.fromisoformat(trade["period_ends_at"])
    ex.advance(period_end - ex.now() + timedelta(seconds=5))
    closed = await ex.until("auction", f"/listing-trades/{tid}", operator,
                            lambda t: t["status"] != "announced", "the period to end")
    assert (closed["status"], closed["winner_id"], closed["price_fen"]) == (
        "closed", BUYER, LISTED), closed
    assert closed["qualified_buyers"] == 1 and closed["bids"] == []

    deal = await ex.until("settlement", f"/deals/{closed['deal_id']}", operator, lambda d: True,
                          "the deal to reach the settlement service")
    assert (deal["route"], deal["price_fen"], deal["deposit_fen"]) == ("listing", LISTED, DEPOSIT)
    assert deal["outstanding_fen"] == LISTED + deal["buyer_fee_fen"] - DEPOSIT
    listing = await ex.call("listing", "GET", f"/achievements/{lid}", seller)
    assert listing["status"] == "in_transaction"
