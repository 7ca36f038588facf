"""The handlers as the skeleton has them: a command authorises the operator against what it
loads inside its transaction, events leave with their own region, and a keyed command refused
because its deal has not arrived yet runs again once it has."""

from __future__ import annotations

import uuid

import asyncpg

from tests.services.settlement.support import (
    REGION,
    concluded,
    deliver,
    ledger_lines,
    operator,
    outbox_types,
    registered,
)

DEPOSIT = 15_000_000


async def _outbox_regions(db: str, ce_type: str) -> list[str]:
    conn = await asyncpg.connect(db)
    try:
        return [r["region"] for r in await conn.fetch(
            "SELECT region FROM outbox WHERE type = $1 ORDER BY seq", ce_type)]
    finally:
        await conn.close()


async def test_an_operator_elsewhere_is_refused_and_nothing_is_written(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", DEPOSIT))
    body = {"procedure_id": str(proc), "bidder_id": "longjiang-coatings", "amount_fen": DEPOSIT}
    before = await ledger_lines(client.db)
    far = await client.post("/deposits", json=body, headers=operator(common, "210200"))
    assert far.status_code == 403, far.text
    assert await ledger_lines(client.db) == before
    assert "cn.techex.deposit.confirmed.v1" not in await outbox_types(client.db)
    ok = await client.post("/deposits", json=body, headers=operator(common))
    assert ok.status_code == 201, ok.text
    # the event carries the registration's region, and the outbox row has it
    assert await _outbox_regions(client.db, "cn.techex.deposit.confirmed.v1") == [REGION]


async def test_a_keyed_payment_before_its_deal_arrives_runs_again_once_it_has(settlement,
                                                                              common):
    client = settlement
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 50_000_000)
    headers = {**operator(common), "Idempotency-Key": "early-payment"}
    early = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 1_000_000},
                              headers=headers)
    assert early.status_code == 404, early.text
    assert early.json()["type"] == "urn:techex:problem:settlement-unknown-deal"
    await deliver(client, deal)
    again = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 1_000_000},
                              headers=headers)
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert await _outbox_regions(client.db, "cn.techex.settlement.payment_received.v1") == [
        REGION]
