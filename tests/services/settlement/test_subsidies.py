"""Subsidy policies (as data) evaluated on completed settlements, through the service: the
worked Heilongjiang examples, one side per project per year, the regional report."""

from __future__ import annotations

import uuid

from services.settlement import metrics
from shared.auth import Role
from tests.services.settlement.support import concluded, deliver, operator, outbox_events
from tests.support.services import bearer


async def _settle(client, common, price_fen: int, *, listing_id: uuid.UUID | None = None,
                  region: str = "230102") -> uuid.UUID:
    """A negotiated deal paid in full; returns its deal id."""
    deal = concluded(uuid.uuid4(), "longjiang-coatings", price_fen, route="negotiated",
                     listing_id=listing_id, region=region)
    await deliver(client, deal)
    due = (await client.get(f"/deals/{deal.deal_id}", headers=operator(common, region[:4] + "00"))
           ).json()["outstanding_fen"]
    r = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": due},
                          headers=operator(common, region[:4] + "00"))
    assert r.json()["status"] == "completed", r.text
    return deal.deal_id


def _of(assessments: list[dict], deal_id: uuid.UUID) -> dict[str, int]:
    return {a["side"]: a["amount_fen"] for a in assessments if a["deal_id"] == str(deal_id)}


async def test_the_heilongjiang_worked_examples(settlement, common):
    client = settlement
    before = metrics.SUBSIDIES.labels("230000")._value.get()
    below = await _settle(client, common, 40_000_000)       # ¥400,000
    at = await _settle(client, common, 50_000_000)          # ¥500,000
    capped = await _settle(client, common, 500_000_000)     # ¥5,000,000
    assessed = await outbox_events(client.db, "cn.techex.subsidy.assessed.v1")
    assert _of(assessed, below) == {"buyer": 0, "seller": 0}
    # the buyer is granted first; the other side of the same project and year gets nothing
    assert _of(assessed, at) == {"buyer": 15_000_000, "seller": 0}
    assert _of(assessed, capped) == {"buyer": 100_000_000, "seller": 0}
    [seller] = [a for a in assessed if a["deal_id"] == str(at) and a["side"] == "seller"]
    assert "only one side per project per year" in seller["reasons"][0]
    [buyer] = [a for a in assessed if a["deal_id"] == str(at) and a["side"] == "buyer"]
    assert buyer["commissioner_share_fen"] == 1_500_000  # 10 % may reward the commissioner
    assert metrics.SUBSIDIES.labels("230000")._value.get() - before == 115_000_000

    r = await client.get("/ledger/trial-balance", headers=operator(common))
    b = {a["account"]: a["balance_fen"] for a in r.json()["accounts"]}
    assert b["subsidies_payable:longjiang-coatings"] == -115_000_000
    assert b["subsidies_receivable:heilongjiang-2026"] == 115_000_000


async def test_a_second_deal_of_the_same_project_in_the_year_gets_nothing(settlement, common):
    client = settlement
    listing = uuid.uuid4()
    first = await _settle(client, common, 60_000_000, listing_id=listing)
    second = await _settle(client, common, 80_000_000, listing_id=listing)
    assessed = await outbox_events(client.db, "cn.techex.subsidy.assessed.v1")
    assert _of(assessed, first) == {"buyer": 18_000_000, "seller": 0}
    assert _of(assessed, second) == {"buyer": 0, "seller": 0}


async def test_the_report_rolls_up_by_region_prefix(settlement, common):
    client = settlement
    await _settle(client, common, 50_000_000, region="230102")   # Harbin
    await _settle(client, common, 100_000_000, region="230202")  # Qiqihar
    await _settle(client, common, 100_000_000, region="130102")  # Shijiazhuang (Hebei: both sides)
    regulator = bearer(common, Role.REGULATOR, "230000")
    province = await client.get("/subsidies/report", params={"region": "230000", "year": 2026},
                                headers=regulator)
    assert province.status_code == 200, province.text
    p = province.json()
    assert (p["amount_fen"], p["granted"], p["level"]) == (15_000_000 + 30_000_000, 2, "province")
    assert [r["region"] for r in p["by_region"]] == ["230102", "230202"]
    city = await client.get("/subsidies/report", params={"region": "230100", "year": 2026},
                            headers=regulator)
    assert city.json()["amount_fen"] == 15_000_000
    hebei = await client.get("/subsidies/report", params={"region": "130000", "year": 2026},
                             headers=bearer(common, Role.REGULATOR, "130000"))
    assert hebei.json()["by_side"]["buyer"]["amount_fen"] == 5_000_000
    assert hebei.json()["by_side"]["seller"]["amount_fen"] == 5_000_000
    outside = await client.get("/subsidies/report", params={"region": "130000", "year": 2026},
                               headers=regulator)
    assert outside.status_code == 403
    bad = await client.get("/subsidies/report", params={"region": "23", "year": 2026},
                           headers=regulator)
    assert bad.status_code == 422
