"""A negotiated deal with public notice (协议定价 + 公示), end to end across the four service
processes: the seller lists, an operator approves and publishes the agreed deal, someone objects,
the operator dismisses the objection, the notice runs out and the deal stands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.auth import Role
from tests.support.exchange import Exchange
from tests.support.listing import achievement

pytestmark = pytest.mark.timeout(300)

PRICE = 86_000_000  # ¥860,000


async def test_a_notice_with_one_dismissed_objection_ends_in_a_deal(exchange: Exchange):
    ex = exchange
    seller = ex.as_(Role.SELLER, "230102", "hit-university")
    operator = ex.as_(Role.OPERATOR, "230100", "harbin-exchange")
    public = ex.as_(Role.BUYER, "230103", "nangang-robotics")

    draft = achievement(title="低温环境锂电池自加热管理技术", pricing_route="negotiated",
                        field="energy", keywords=["锂电池", "低温", "自加热"],
                        abstract="电池包在零下30摄氏度环境下5分钟内自加热至可用温度。",
                        reference_price_fen=PRICE)
    listing = await ex.call("listing", "POST", "/achievements", seller, expect=201, json=draft)
    lid = listing["id"]
    await ex.call("listing", "POST", f"/achievements/{lid}/submit", seller)
    await ex.call("listing", "POST", f"/achievements/{lid}/review", operator)
    await ex.call("listing", "POST", f"/achievements/{lid}/approve", operator)

    notice_body = {"listing_id": lid, "project_name": "低温环境锂电池自加热管理技术",
                   "abstract": "电池包在零下30摄氏度环境下5分钟内自加热至可用温度。",
                   "transfer_mode": "transfer", "price_fen": PRICE,
                   "buyer_id": "longjiang-coatings", "buyer_name": "龙江涂料有限公司",
                   "buyer_relation": "none", "days": 15}

    notice = await ex.once_published("/notices", notice_body, operator)
    nid = notice["id"]
    assert notice["status"] == "published" and notice["buyer_flagged"] is False

    await ex.until("listing", f"/achievements/{lid}", seller,
                   lambda a: a["status"] == "in_transaction", "the listing to be in transaction")

    objection = await ex.call("auction", "POST", f"/notices/{nid}/objections", public,
                              expect=201, json={"grounds": "该技术与我公司在先专利存在重叠。"})
    await ex.call("auction", "POST", f"/notices/{nid}/objections/{objection['id']}/resolve",
                  operator, json={"outcome": "dismissed",
                                  "reason": "经核查，异议人所称专利与本成果权利要求不重叠。"})

    ex.advance(timedelta(days=16))
    concluded = await ex.until("auction", f"/notices/{nid}", public,
                               lambda n: n["status"] != "published", "the notice to end")
    assert concluded["status"] == "concluded"
    [published_objection] = concluded["objections"]
    assert published_objection["outcome"] == "dismissed"
    assert published_objection["reason"].startswith("经核查")

    listing = await ex.call("listing", "GET", f"/achievements/{lid}", seller)
    assert listing["status"] == "in_transaction"

    # The deal is settled on the agreed price; a negotiated deal holds no deposit.
    deal = await ex.until("settlement", f"/deals/{concluded['deal_id']}", operator,
                          lambda d: True, "the deal to reach the settlement service")
    assert (deal["route"], deal["buyer_id"], deal["price_fen"], deal["deposit_fen"]) == (
        "negotiated", "longjiang-coatings", PRICE, 0)
