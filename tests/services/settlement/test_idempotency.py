"""Every command of the settlement service with an Idempotency-Key, over HTTP against the real
database: a retry is answered with the first answer and posts nothing to the ledger."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.services.settlement.support import (
    NOW,
    concluded,
    deliver,
    ledger_lines,
    operator,
    outbox_types,
    registered,
)
from tests.support.services import retried

PRICE, DEPOSIT = 186_000_000, 15_000_000


async def test_deposit_schedule_payment_and_split_once(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", DEPOSIT))
    deposit = await retried(client, "POST", "/deposits", key="dep-1", headers=operator(common),
                            json={"procedure_id": str(proc), "bidder_id": "longjiang-coatings",
                                  "amount_fen": DEPOSIT})
    assert deposit.status_code == 201 and not deposit.json()["already_confirmed"]
    deal = concluded(proc, "longjiang-coatings", PRICE)
    await deliver(client, deal)
    lines = await ledger_lines(client.db)
    outstanding = (await client.get(f"/deals/{deal.deal_id}", headers=operator(common))
                   ).json()["outstanding_fen"]
    schedule = await retried(client, "PUT", f"/deals/{deal.deal_id}/schedule", key="sch-1",
                             headers=operator(common), json={"instalments": [
                                 {"due_at": (NOW + timedelta(days=10)).isoformat(),
                                  "amount_fen": outstanding - 1_000_000},
                                 {"due_at": (NOW + timedelta(days=40)).isoformat(),
                                  "amount_fen": 1_000_000}]})
    assert schedule.status_code == 200 and len(schedule.json()["instalments"]) == 2
    paid = await retried(client, "POST", f"/deals/{deal.deal_id}/payments", key="pay-1",
                         headers=operator(common), json={"amount_fen": 50_000_000})
    assert paid.status_code == 201
    assert len(await ledger_lines(client.db)) > len(lines)
    after_payment = await ledger_lines(client.db)
    # Too much, refused by the command: stored as the key's answer, nothing posted.
    too_much = await retried(client, "POST", f"/deals/{deal.deal_id}/payments", key="pay-2",
                             headers=operator(common), json={"amount_fen": PRICE * 10})
    assert too_much.json()["type"] == "urn:techex:problem:settlement-overpayment", too_much.text
    assert too_much.headers["content-type"] == "application/problem+json"
    assert await ledger_lines(client.db) == after_payment
    split = await retried(client, "PUT", "/sellers/hit-university/split", key="split-1",
                          headers=operator(common), json={"inventor_share": "0.8"})
    assert split.json() == {"seller_id": "hit-university", "inventor_share": "0.8",
                            "configured": True}
    types = await outbox_types(client.db)
    assert types.count("cn.techex.deposit.confirmed.v1") == 1
    assert types.count("cn.techex.settlement.schedule_set.v1") == 1
    assert types.count("cn.techex.settlement.payment_received.v1") == 1


async def test_the_same_key_for_another_payment_is_refused(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    deal = concluded(proc, "longjiang-coatings", PRICE)
    await deliver(client, deal)
    headers = {**operator(common), "Idempotency-Key": "pay-once"}
    first = await client.post(f"/deals/{deal.deal_id}/payments", headers=headers,
                              json={"amount_fen": 1_000_000})
    assert first.status_code == 201
    lines = await ledger_lines(client.db)
    other = await client.post(f"/deals/{deal.deal_id}/payments", headers=headers,
                              json={"amount_fen": 2_000_000})
    assert other.status_code == 422
    assert other.json()["type"] == "urn:techex:problem:idempotency-key-reused"
    assert await ledger_lines(client.db) == lines
