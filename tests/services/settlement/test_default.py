"""A winner who does not pay: overdue at the due date, defaulted after the grace period,
the deposit forfeited, DealDefaulted published. Deadlines are fired with a hand-moved clock."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.settlement import metrics
from services.settlement.config import SettlementSettings
from tests.services.settlement.support import (
    NOW,
    balances,
    concluded,
    deliver,
    operator,
    outbox_events,
    with_deposits,
)

PRICE, DEPOSIT = 20_000_000, 2_000_000
FEE = 600_000  # 3 % of ¥200,000, above the ¥1,000 minimum


async def _deal(client, common):
    proc = uuid.uuid4()
    await with_deposits(client, common, proc, {"longjiang-coatings": DEPOSIT,
                                               "dalian-marine": DEPOSIT})
    deal = concluded(proc, "longjiang-coatings", PRICE)
    await deliver(client, deal)
    return proc, deal


async def test_an_unpaid_deal_is_overdue_then_defaults_and_forfeits_to_the_seller(
        settlement, common, clock):
    client = settlement
    scheduler = client.runtime.scheduler
    proc, deal = await _deal(client, common)
    paid = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 5_000_000},
                             headers=operator(common))
    assert paid.status_code == 201

    clock.advance(timedelta(days=15) - timedelta(seconds=1))
    await scheduler.fire_due()
    assert await outbox_events(client.db, "cn.techex.settlement.payment_overdue.v1") == []
    clock.advance(timedelta(seconds=1))
    await scheduler.fire_due()
    [overdue] = await outbox_events(client.db, "cn.techex.settlement.payment_overdue.v1")
    assert overdue["shortfall_fen"] == PRICE + FEE - DEPOSIT - 5_000_000
    await metrics.refresh(client.runtime.pool)
    assert metrics.OVERDUE._value.get() == 1

    clock.advance(timedelta(days=3))  # the grace period
    await scheduler.fire_due()
    [defaulted] = await outbox_events(client.db, "cn.techex.deal.defaulted.v1")
    assert (defaulted["deal_id"], defaulted["procedure_id"], defaulted["forfeited_fen"]) == (
        str(deal.deal_id), str(proc), DEPOSIT)
    assert defaulted["due_at"].startswith((NOW + timedelta(days=15)).date().isoformat())
    [forfeited] = await outbox_events(client.db, "cn.techex.deposit.forfeited.v1")
    assert forfeited["beneficiary"] == "seller:hit-university"
    d = (await client.get(f"/deals/{deal.deal_id}", headers=operator(common))).json()
    assert d["status"] == "defaulted"
    # the deal and fees are reversed, the receipt refunded, the deposit paid to the seller:
    # everybody is square and the exchange keeps nothing
    b = await balances(client, common)
    assert {k: v for k, v in b.items() if v} == {}
    await metrics.refresh(client.runtime.pool)
    assert metrics.OVERDUE._value.get() == 0 and metrics.DEPOSITS_HELD._value.get() == 0
    # a late payment finds the deal closed
    late = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 1},
                             headers=operator(common))
    assert late.status_code == 409
    clock.advance(timedelta(days=30))
    assert await scheduler.fire_due() == 0


class TestConfiguredOtherwise:
    """Forfeits to the exchange; payment due in 5 days, a day of grace."""

    @pytest.fixture
    def settlement_settings(self, database_url) -> SettlementSettings:
        return SettlementSettings(database_url=database_url, forfeit_to="exchange",
                                  default_grace_days=1, payment_due_days=5)

    async def test_a_deposit_forfeited_to_the_exchange(self, settlement, common, clock):
        client = settlement
        await _deal(client, common)
        clock.advance(timedelta(days=6))
        await client.runtime.scheduler.fire_due()  # overdue, then
        await client.runtime.scheduler.fire_due()  # defaulted (grace passed)
        [forfeited] = await outbox_events(client.db, "cn.techex.deposit.forfeited.v1")
        assert forfeited["beneficiary"] == "fee_income"
        b = await balances(client, common)
        assert (b["fee_income"], b["bank"]) == (-DEPOSIT, DEPOSIT)

    async def test_catching_up_within_the_grace_period_prevents_the_default(
            self, settlement, common, clock):
        client = settlement
        _, deal = await _deal(client, common)
        scheduler = client.runtime.scheduler
        clock.advance(timedelta(days=5))
        await scheduler.fire_due()
        assert len(await outbox_events(client.db,
                                       "cn.techex.settlement.payment_overdue.v1")) == 1
        r = await client.post(f"/deals/{deal.deal_id}/payments",
                              json={"amount_fen": PRICE + FEE - DEPOSIT},
                              headers=operator(common))
        assert r.json()["status"] == "completed"
        clock.advance(timedelta(days=2))
        await scheduler.fire_due()
        assert await outbox_events(client.db, "cn.techex.deal.defaulted.v1") == []


async def test_a_later_instalment_left_unpaid_still_defaults(settlement, common, clock):
    client = settlement
    scheduler = client.runtime.scheduler
    _, deal = await _deal(client, common)
    due = PRICE + FEE - DEPOSIT
    plan = [{"due_at": (NOW + timedelta(days=10)).isoformat(), "amount_fen": 1_000_000},
            {"due_at": (NOW + timedelta(days=12)).isoformat(), "amount_fen": due - 1_000_000}]
    r = await client.put(f"/deals/{deal.deal_id}/schedule", json={"instalments": plan},
                         headers=operator(common))
    assert r.status_code == 200, r.text
    clock.advance(timedelta(days=10))
    await scheduler.fire_due()  # the first instalment is overdue
    clock.advance(timedelta(days=2, hours=1))
    paid = await client.post(f"/deals/{deal.deal_id}/payments", json={"amount_fen": 1_000_000},
                             headers=operator(common))  # it is paid, but the second is due now
    assert paid.json()["status"] == "open"
    clock.advance(timedelta(hours=23))
    await scheduler.fire_due()  # the first grace ends: not a default, the second's is later
    assert await outbox_events(client.db, "cn.techex.deal.defaulted.v1") == []
    clock.advance(timedelta(days=2))
    await scheduler.fire_due()
    [defaulted] = await outbox_events(client.db, "cn.techex.deal.defaulted.v1")
    assert defaulted["due_at"].startswith((NOW + timedelta(days=12)).date().isoformat())
    assert (await balances(client, common)).get("buyer:longjiang-coatings") == 0
