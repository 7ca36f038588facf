"""A deal settled end to end over HTTP: deposits, schedule, receipts, fees, split, payouts."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.settlement import metrics
from shared.auth import Role
from tests.services.settlement.support import (
    NOW,
    balances,
    concluded,
    deliver,
    ledger_lines,
    operator,
    outbox_events,
    outbox_types,
    with_deposits,
)
from tests.support.services import bearer

PRICE = 186_000_000  # ¥1.86 m
FEE = 3_000_000 + 1_720_000  # 3 % of the first ¥1 m + 2 % of the next ¥0.86 m (fees-example)
DEPOSIT = 15_000_000


async def test_a_deal_from_deposits_to_completion(settlement, common, clock):
    client = settlement
    proc = uuid.uuid4()
    await with_deposits(client, common, proc, {"longjiang-coatings": DEPOSIT,
                                               "dalian-marine": DEPOSIT})
    assert (await balances(client, common))[f"deposits_held:{proc}:dalian-marine"] == -DEPOSIT
    deal = concluded(proc, "longjiang-coatings", PRICE)
    await deliver(client, deal)

    r = await client.get(f"/deals/{deal.deal_id}", headers=operator(common))
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["buyer_fee_fen"], d["seller_fee_fen"], d["deposit_fen"]) == (FEE, FEE, DEPOSIT)
    assert d["outstanding_fen"] == PRICE + FEE - DEPOSIT
    assert d["instalments"] == [{"n": 1, "due_at": (NOW + timedelta(days=15)).isoformat()
                                 .replace("+00:00", "Z"),
                                 "amount_fen": PRICE + FEE - DEPOSIT}]

    # the loser's deposit is released 24 h after the deal, by its durable deadline
    scheduler = client.runtime.scheduler
    clock.advance(timedelta(hours=23))
    await scheduler.fire_due()
    assert await outbox_events(client.db, "cn.techex.deposit.released.v1") == []
    clock.advance(timedelta(hours=1))
    await scheduler.fire_due()
    released = await outbox_events(client.db, "cn.techex.deposit.released.v1")
    assert [(e["bidder_id"], e["reason"]) for e in released] == [("dalian-marine",
                                                                   "not-the-winner")]
    r = await client.get("/deposits", params={"procedure_id": str(proc)},
                         headers=operator(common))
    assert {x["bidder_id"]: x["status"] for x in r.json()} == {
        "longjiang-coatings": "held", "dalian-marine": "released"}

    # two receipts; the second completes the settlement
    first = await client.post(f"/deals/{deal.deal_id}/payments",
                              json={"amount_fen": 100_000_000}, headers=operator(common))
    assert first.status_code == 201, first.text
    assert first.json()["outstanding_fen"] == PRICE + FEE - DEPOSIT - 100_000_000
    settled_before = metrics.SETTLED.labels("230000")._value.get()
    last = await client.post(f"/deals/{deal.deal_id}/payments",
                             json={"amount_fen": PRICE + FEE - DEPOSIT - 100_000_000},
                             headers=operator(common))
    assert last.json()["status"] == "completed", last.text
    assert metrics.SETTLED.labels("230000")._value.get() - settled_before == PRICE

    net = PRICE - FEE
    inventors = net * 70 // 100
    payouts = await outbox_events(client.db, "cn.techex.settlement.payout_made.v1")
    assert {p["recipient"]: p["amount_fen"] for p in payouts} == {
        "seller": net - inventors, "inventor_team": inventors}
    [done] = await outbox_events(client.db, "cn.techex.settlement.completed.v1")
    assert (done["received_fen"], done["price_fen"], done["buyer_id"], done["route"]) == (
        PRICE, PRICE, "longjiang-coatings", "auction")
    assert done["listing_id"] == str(deal.listing_id)

    # every party is square; the bank holds exactly the two fees, which are the exchange's
    b = await balances(client, common)
    assert b["bank"] == 2 * FEE and b["fee_income"] == -2 * FEE
    for account in ("buyer:longjiang-coatings", "seller:hit-university",
                    "inventor_team:hit-university", f"deposits_held:{proc}:longjiang-coatings",
                    f"deposits_held:{proc}:dalian-marine"):
        assert b[account] == 0, account
    # the buyer reads its own statement, a page at a time, with a running balance
    buyer = bearer(common, Role.BUYER, "230100", "longjiang-coatings")
    page = await client.get("/ledger/accounts/buyer:longjiang-coatings/statement",
                            params={"limit": 2}, headers=buyer)
    assert page.status_code == 200, page.text
    rest = await client.get("/ledger/accounts/buyer:longjiang-coatings/statement",
                            params={"after": page.json()["next_cursor"]}, headers=buyer)
    lines = page.json()["lines"] + rest.json()["lines"]
    assert [x["balance_fen"] for x in lines][:2] == [PRICE, PRICE + FEE]
    assert lines[-1]["balance_fen"] == 0 and rest.json()["next_cursor"] is None
    other = await client.get("/ledger/accounts/buyer:dalian-marine/statement", headers=buyer)
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    # a completed deal takes no more money
    again = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 1},
                              headers=operator(common))
    assert again.status_code == 409
    assert again.json()["type"] == "urn:techex:problem:settlement-deal-closed"
    types = await outbox_types(client.db)
    for t in ("deposit.confirmed", "settlement.opened", "settlement.fee_charged",
              "settlement.payment_received", "deposit.applied", "subsidy.assessed"):
        assert f"cn.techex.{t}.v1" in types, t


async def test_instalments_set_by_an_operator_before_the_first_receipt(settlement, common):
    client = settlement
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 50_000_000, route="negotiated")
    await deliver(client, deal)
    due = deal.price_fen + 1_500_000  # 3 % of ¥500,000 = ¥15,000 fee each side
    assert (await client.get(f"/deals/{deal.deal_id}", headers=operator(common))
            ).json()["outstanding_fen"] == due
    plan = [{"due_at": (NOW + timedelta(days=10)).isoformat(), "amount_fen": 20_000_000},
            {"due_at": (NOW + timedelta(days=40)).isoformat(), "amount_fen": due - 20_000_000}]
    bad = await client.put(f"/deals/{deal.deal_id}/schedule",
                           json={"instalments": plan[:1]}, headers=operator(common))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.instalments"
    r = await client.put(f"/deals/{deal.deal_id}/schedule", json={"instalments": plan},
                         headers=operator(common))
    assert r.status_code == 200, r.text
    assert [i["amount_fen"] for i in r.json()["instalments"]] == [20_000_000, due - 20_000_000]
    paid = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 20_000_000},
                             headers=operator(common))
    assert paid.status_code == 201
    locked = await client.put(f"/deals/{deal.deal_id}/schedule", json={"instalments": plan},
                              headers=operator(common))
    assert locked.status_code == 409
    assert locked.json()["type"] == "urn:techex:problem:settlement-schedule-locked"
    elsewhere = await client.put(f"/deals/{deal.deal_id}/schedule", json={"instalments": plan},
                                 headers=operator(common, "210200"))
    assert elsewhere.status_code == 403
    # the parties see the deal; another buyer does not
    mine = await client.get(f"/deals/{deal.deal_id}",
                            headers=bearer(common, Role.BUYER, "230100", "longjiang-coatings"))
    assert mine.status_code == 200 and mine.json()["paid_fen"] == 20_000_000
    seller = await client.get(f"/deals/{deal.deal_id}",
                              headers=bearer(common, Role.SELLER, "230100", "hit-university"))
    assert seller.status_code == 200
    stranger = await client.get(f"/deals/{deal.deal_id}",
                                headers=bearer(common, Role.BUYER, "230100", "dalian-marine"))
    assert stranger.status_code == 403


async def test_a_seller_split_configured_above_the_floor(settlement, common):
    client = settlement
    low = await client.put("/sellers/hit-university/split", json={"inventor_share": "0.6"},
                           headers=operator(common))
    assert low.status_code == 422
    assert low.json()["errors"][0]["field"] == "body.inventor_share"
    r = await client.put("/sellers/hit-university/split", json={"inventor_share": "0.9"},
                         headers=operator(common))
    assert r.status_code == 200, r.text
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 10_000_000, route="negotiated")
    await deliver(client, deal)
    await client.post(f"/deals/{deal.deal_id}/payments",
                      json={"amount_fen": 10_000_000 + 300_000}, headers=operator(common))
    payouts = await outbox_events(client.db, "cn.techex.settlement.payout_made.v1")
    net = 10_000_000 - 300_000
    assert {p["recipient"]: p["amount_fen"] for p in payouts} == {
        "seller": net - net * 9 // 10, "inventor_team": net * 9 // 10}
    assert await ledger_lines(client.db)  # the whole flow posted
