"""Deposits: what BidderRegistered says is owed, confirmed once, released when the procedure
fails; and the duplicate events and bad input that must change nothing."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.settlement import metrics
from shared.auth import Role
from tests.services.settlement.support import (
    balances,
    concluded,
    deliver,
    failed,
    ledger_lines,
    operator,
    outbox_events,
    outbox_types,
    registered,
    with_deposits,
)
from tests.support.services import bearer


async def test_a_deposit_is_confirmed_once_and_qualifies_the_bidder(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", 15_000_000))
    body = {"procedure_id": str(proc), "bidder_id": "longjiang-coatings",
            "amount_fen": 15_000_000, "bank_reference": "ICBC-1"}
    first = await client.post("/deposits", json=body, headers=operator(common))
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "held" and not first.json()["already_confirmed"]
    lines = await ledger_lines(client.db)
    again = await client.post("/deposits", json=body, headers=operator(common))
    assert again.status_code == 200 and again.json()["already_confirmed"]
    assert again.json()["deposit_id"] == first.json()["deposit_id"]
    assert await ledger_lines(client.db) == lines
    [confirmed] = await outbox_events(client.db, "cn.techex.deposit.confirmed.v1")
    assert (confirmed["bidder_id"], confirmed["amount_fen"], confirmed["region"]) == (
        "longjiang-coatings", 15_000_000, "230102")
    await metrics.refresh(client.runtime.pool)
    assert metrics.DEPOSITS_HELD._value.get() == 15_000_000
    # the bidder sees its own deposit only; an operator elsewhere sees none of this region's
    mine = await client.get("/deposits", params={"procedure_id": str(proc)},
                            headers=bearer(common, Role.BUYER, "230100", "longjiang-coatings"))
    assert [d["bidder_id"] for d in mine.json()] == ["longjiang-coatings"]
    theirs = await client.get("/deposits", params={"procedure_id": str(proc)},
                              headers=bearer(common, Role.BUYER, "230100", "dalian-marine"))
    assert theirs.json() == []
    far = await client.get("/deposits", params={"procedure_id": str(proc)},
                           headers=operator(common, "210200"))
    assert far.status_code == 403


async def test_deposits_that_do_not_match_a_registration_are_refused(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", 15_000_000))
    before = await ledger_lines(client.db)
    cases = [
        ({"bidder_id": "nobody", "amount_fen": 15_000_000}, 404,
         "settlement-unknown-registration", "body.bidder_id"),
        ({"bidder_id": "longjiang-coatings", "amount_fen": 14_000_000}, 422,
         "settlement-deposit-mismatch", "body.amount_fen"),
        ({"bidder_id": "longjiang-coatings", "amount_fen": -15_000_000}, 422, "validation",
         "body.amount_fen"),
        ({"bidder_id": "longjiang-coatings", "amount_fen": 1.5}, 422, "validation",
         "body.amount_fen"),
        ({"bidder_id": "longjiang-coatings", "amount_fen": "15000000"}, 422, "validation",
         "body.amount_fen"),
    ]
    for fields, status, slug, field in cases:
        r = await client.post("/deposits", json={"procedure_id": str(proc), **fields},
                              headers=operator(common))
        assert r.status_code == status, (fields, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["type"] == f"urn:techex:problem:{slug}"
        assert any(e["field"].endswith(field) for e in problem["errors"]), problem
    other = await client.post("/deposits", json={"procedure_id": str(uuid.uuid4()),
                                                 "bidder_id": "longjiang-coatings",
                                                 "amount_fen": 15_000_000},
                              headers=operator(common))
    assert other.status_code == 404
    buyer = await client.post("/deposits", json={"procedure_id": str(proc),
                                                 "bidder_id": "longjiang-coatings",
                                                 "amount_fen": 15_000_000},
                              headers=bearer(common, Role.BUYER, "230100", "longjiang-coatings"))
    assert buyer.status_code == 403
    assert await ledger_lines(client.db) == before == []
    assert "cn.techex.deposit.confirmed.v1" not in await outbox_types(client.db)


async def test_duplicate_registrations_and_deals_change_nothing(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await deliver(client, registered(proc, "longjiang-coatings", 15_000_000))
    await deliver(client, registered(proc, "longjiang-coatings", 99))  # redelivered / altered
    await with_deposits(client, common, proc, {"dalian-marine": 15_000_000})
    r = await client.post("/deposits", json={"procedure_id": str(proc),
                                             "bidder_id": "longjiang-coatings",
                                             "amount_fen": 15_000_000}, headers=operator(common))
    assert r.status_code == 201, r.text
    deal = concluded(proc, "longjiang-coatings", 186_000_000)
    await deliver(client, deal)
    lines, types = await ledger_lines(client.db), await outbox_types(client.db)
    deadlines = await _deadlines(client.db)
    await deliver(client, deal)
    assert await ledger_lines(client.db) == lines
    assert await outbox_types(client.db) == types
    assert await _deadlines(client.db) == deadlines
    assert types.count("cn.techex.settlement.opened.v1") == 1


async def test_a_failed_procedure_releases_every_deposit(settlement, common):
    client = settlement
    proc = uuid.uuid4()
    await with_deposits(client, common, proc, {"a-co": 5_000_000, "b-co": 5_000_000})
    await deliver(client, failed(proc))
    await deliver(client, failed(proc))  # redelivered
    released = await outbox_events(client.db, "cn.techex.deposit.released.v1")
    assert sorted((e["bidder_id"], e["reason"]) for e in released) == [
        ("a-co", "procedure-failed"), ("b-co", "procedure-failed")]
    b = await balances(client, common)
    assert b[f"deposits_held:{proc}:a-co"] == 0 and b["bank"] == 0


@pytest.mark.parametrize("amount", [-1, 0, 2.5, "100", None])
async def test_bad_payments_are_refused_and_post_nothing(settlement, common, amount):
    client = settlement
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 10_000_000, route="negotiated")
    await deliver(client, deal)
    before = await ledger_lines(client.db)
    r = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": amount},
                          headers=operator(common))
    assert r.status_code == 422
    assert r.json()["type"] == "urn:techex:problem:validation"
    assert r.json()["errors"][0]["field"] == "body.amount_fen"
    assert await ledger_lines(client.db) == before


async def test_overpayment_and_unknown_deals_are_refused(settlement, common):
    client = settlement
    deal = concluded(uuid.uuid4(), "longjiang-coatings", 10_000_000, route="negotiated")
    await deliver(client, deal)
    before = await ledger_lines(client.db)
    over = await client.post(f"/deals/{deal.deal_id}/payments",
                             json={"amount_fen": 10_300_001}, headers=operator(common))
    assert over.status_code == 422
    assert over.json()["type"] == "urn:techex:problem:settlement-overpayment"
    assert over.json()["outstanding_fen"] == 10_300_000
    unknown = await client.post(f"/deals/{uuid.uuid4()}/payments", json={"amount_fen": 1},
                                headers=operator(common))
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:techex:problem:settlement-unknown-deal"
    assert await ledger_lines(client.db) == before
    # an Idempotency-Key retried gets the first answer; the money is counted once
    headers = {**operator(common), "Idempotency-Key": "receipt-1"}
    first = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 300_000},
                              headers=headers)
    retry = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 300_000},
                              headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert len(await ledger_lines(client.db)) == len(before) + 2


async def _deadlines(db: str) -> list[tuple]:
    conn = await asyncpg.connect(db)
    try:
        return [tuple(r) for r in await conn.fetch(
            "SELECT kind, key, due_at FROM deadlines ORDER BY kind, key")]
    finally:
        await conn.close()
