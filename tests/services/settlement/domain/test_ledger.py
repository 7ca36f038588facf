"""The ledger: postings balance, balances are derived, duplicates and bad amounts refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.domain import transactions as tx
from services.settlement.domain.errors import (
    DuplicateEntry,
    InvalidAccount,
    InvalidAmount,
    UnbalancedPosting,
)
from services.settlement.domain.ledger import (
    BANK,
    FEE_INCOME,
    Account,
    AccountKind,
    Ledger,
    Line,
    Posting,
    buyer,
    credit,
    debit,
    deposit_held,
    inventor_team,
    seller,
    subsidy_payable,
)

# -- building blocks -------------------------------------------------------------------------

def test_account_ids_round_trip():
    assert buyer("42").id == "buyer:42"
    assert Account.parse("buyer:42") == buyer("42")
    assert Account.parse("fee_income") == FEE_INCOME
    assert Account.parse("deposits_held:lot-7:b3") == deposit_held("lot-7", "b3")
    with pytest.raises(InvalidAccount):
        Account.parse("wallet:1")
    with pytest.raises(InvalidAccount):
        Account(AccountKind.BUYER)  # a buyer account needs an owner


@pytest.mark.parametrize("bad", [-1, 1.5, 100.0, Decimal("100"), "100", True, None])
def test_line_refuses_negative_or_non_integer_amounts(bad):
    with pytest.raises(InvalidAmount) as e:
        Line(BANK, debit_fen=bad)
    assert e.value.slug == "settlement-invalid-amount"


def test_line_is_one_sided():
    with pytest.raises(UnbalancedPosting):
        Line(BANK, debit_fen=1, credit_fen=1)
    with pytest.raises(UnbalancedPosting):
        Line(BANK)


def test_posting_refuses_unbalanced_or_single_line():
    with pytest.raises(UnbalancedPosting) as e:
        Posting("e1", (debit(BANK, 100), credit(buyer("b"), 99)))
    assert e.value.slug == "settlement-unbalanced-posting"
    assert e.value.extensions == {"entry_id": "e1", "debit_fen": 100, "credit_fen": 99}
    with pytest.raises(UnbalancedPosting):
        Posting("e2", (debit(BANK, 0 + 1),))
    with pytest.raises(UnbalancedPosting):
        Posting("", (debit(BANK, 1), credit(buyer("b"), 1)))


def test_posting_with_several_lines_balances():
    p = Posting("e1", (debit(BANK, 1000), credit(buyer("b"), 600), credit(FEE_INCOME, 400)))
    assert p.total_debit_fen == p.total_credit_fen == 1000


def test_duplicate_entry_is_refused_and_changes_nothing():
    first = tx.payment_received("pay-1", buyer_id="b", amount_fen=500)
    ledger = Ledger().post(first)
    again = tx.refund("pay-1", buyer_id="b", amount_fen=10)
    with pytest.raises(DuplicateEntry) as e:
        ledger.post(again)
    assert e.value.status == 409
    with pytest.raises(DuplicateEntry):
        ledger.post(first)
    assert ledger.postings == (first,)
    assert ledger.balance(BANK) == 500


def test_post_returns_a_new_ledger():
    empty = Ledger()
    one = empty.post(tx.payment_received("p", buyer_id="b", amount_fen=5))
    assert empty.postings == () and len(one.postings) == 1


def test_zero_amount_steps_refused():
    with pytest.raises(InvalidAmount):
        tx.payment_received("p", buyer_id="b", amount_fen=0)
    with pytest.raises(InvalidAmount):
        tx.payment_received("p", buyer_id="b", amount_fen=-5)


def test_fee_and_payout_refuse_wrong_accounts():
    with pytest.raises(InvalidAccount):
        tx.fee_charged("f", party=BANK, amount_fen=5)
    with pytest.raises(InvalidAccount):
        tx.payout("o", to=buyer("b"), amount_fen=5)
    with pytest.raises(InvalidAccount):
        tx.deposit_forfeited("d", lot_id="l", bidder_id="b", amount_fen=5, beneficiary=BANK)


def test_a_whole_auction_settles_to_zero():
    """Deposits, a deal, instalments, fees both sides, the split and payouts."""
    steps = [
        tx.deposit_received("d-w", lot_id="lot", bidder_id="w", amount_fen=100_000),
        tx.deposit_received("d-l", lot_id="lot", bidder_id="l", amount_fen=100_000),
        tx.deposit_released("r-l", lot_id="lot", bidder_id="l", amount_fen=100_000),
        tx.deal_agreed("deal", buyer_id="w", seller_id="s", price_fen=1_000_000),
        tx.deposit_applied("apply", lot_id="lot", buyer_id="w", amount_fen=100_000),
        tx.fee_charged("fee-b", party=buyer("w"), amount_fen=30_000),
        tx.fee_charged("fee-s", party=seller("s"), amount_fen=30_000),
        tx.payment_received("pay-1", buyer_id="w", amount_fen=500_000),
        tx.payment_received("pay-2", buyer_id="w", amount_fen=430_000),
        tx.split_to_inventors("split", seller_id="s", amount_fen=679_000),
        tx.payout("out-s", to=seller("s"), amount_fen=291_000),
        tx.payout("out-i", to=inventor_team("s"), amount_fen=679_000),
    ]
    ledger = Ledger().post_all(steps)
    assert ledger.balance(buyer("w")) == 0
    assert ledger.balance(seller("s")) == 0
    assert ledger.balance(inventor_team("s")) == 0
    assert ledger.balance(deposit_held("lot", "w")) == 0
    assert ledger.balance(FEE_INCOME) == -60_000  # a credit balance: the exchange's income
    assert ledger.balance(BANK) == 60_000
    tb = ledger.trial_balance()
    assert tb.difference_fen == 0
    assert sum(r.balance_fen for r in tb.rows) == 0
    stmt = ledger.statement(buyer("w"))
    assert [s.entry_id for s in stmt] == ["deal", "apply", "fee-b", "pay-1", "pay-2"]
    assert [s.balance_fen for s in stmt] == [1_000_000, 900_000, 930_000, 430_000, 0]


def test_a_default_forfeits_the_deposit_and_cancels_the_deal():
    ledger = Ledger().post_all([
        tx.deposit_received("d", lot_id="lot", bidder_id="w", amount_fen=50_000),
        tx.deal_agreed("deal", buyer_id="w", seller_id="s", price_fen=400_000),
        tx.deal_cancelled("cancel", buyer_id="w", seller_id="s", price_fen=400_000),
        tx.deposit_forfeited("forfeit", lot_id="lot", bidder_id="w", amount_fen=50_000,
                             beneficiary=seller("s")),
        tx.payout("comp", to=seller("s"), amount_fen=50_000),
    ])
    assert ledger.balance(buyer("w")) == 0
    assert ledger.balance(seller("s")) == 0
    assert ledger.balance(BANK) == 0
    assert ledger.trial_balance().difference_fen == 0


# -- properties ------------------------------------------------------------------------------

IDS = st.sampled_from(["a", "b", "c"])
AMOUNTS = st.integers(min_value=1, max_value=10**12)


def _step(kind: str, n: int, p: str, q: str, amount: int) -> Posting:
    e = f"{kind}-{n}"
    match kind:
        case "deposit":
            return tx.deposit_received(e, lot_id="lot", bidder_id=p, amount_fen=amount)
        case "release":
            return tx.deposit_released(e, lot_id="lot", bidder_id=p, amount_fen=amount)
        case "deal":
            return tx.deal_agreed(e, buyer_id=p, seller_id=q, price_fen=amount)
        case "apply":
            return tx.deposit_applied(e, lot_id="lot", buyer_id=p, amount_fen=amount)
        case "payment":
            return tx.payment_received(e, buyer_id=p, amount_fen=amount)
        case "refund":
            return tx.refund(e, buyer_id=p, amount_fen=amount)
        case "fee_buyer":
            return tx.fee_charged(e, party=buyer(p), amount_fen=amount)
        case "fee_seller":
            return tx.fee_charged(e, party=seller(q), amount_fen=amount)
        case "split":
            return tx.split_to_inventors(e, seller_id=q, amount_fen=amount)
        case "payout_seller":
            return tx.payout(e, to=seller(q), amount_fen=amount)
        case "payout_inventors":
            return tx.payout(e, to=inventor_team(q), amount_fen=amount)
        case "cancel":
            return tx.deal_cancelled(e, buyer_id=p, seller_id=q, price_fen=amount)
        case "default":
            return tx.deposit_forfeited(e, lot_id="lot", bidder_id=p, amount_fen=amount,
                                        beneficiary=seller(q))
        case "subsidy":
            return tx.subsidy_received(e, recipient_id=p, amount_fen=amount)
        case "subsidy_payout":
            return tx.payout(e, to=subsidy_payable(p), amount_fen=amount)
    raise AssertionError(kind)


KINDS = ["deposit", "release", "deal", "apply", "payment", "refund", "fee_buyer", "fee_seller",
         "split", "payout_seller", "payout_inventors", "cancel", "default", "subsidy",
         "subsidy_payout"]
STEPS = st.lists(st.tuples(st.sampled_from(KINDS), IDS, IDS, AMOUNTS), max_size=40)


@settings(max_examples=200, deadline=None)
@given(STEPS)
def test_any_sequence_of_steps_keeps_the_books_balanced(steps):
    postings = [_step(k, n, p, q, a) for n, (k, p, q, a) in enumerate(steps)]
    ledger = Ledger().post_all(postings)
    for p in ledger.postings:
        assert p.total_debit_fen == p.total_credit_fen
        assert all(isinstance(x.debit_fen, int) and isinstance(x.credit_fen, int)
                   for x in p.lines)
    tb = ledger.trial_balance()
    assert tb.difference_fen == 0
    assert sum(r.balance_fen for r in tb.rows) == 0
    for row in tb.rows:
        lines = [x for p in postings for x in p.lines if x.account == row.account]
        assert row.debit_fen == sum(x.debit_fen for x in lines)
        assert row.credit_fen == sum(x.credit_fen for x in lines)
        assert ledger.balance(row.account) == sum(x.debit_fen - x.credit_fen for x in lines)
        stmt = ledger.statement(row.account)
        assert len(stmt) == len(lines)
        assert (stmt[-1].balance_fen if stmt else 0) == ledger.balance(row.account)


@settings(max_examples=100, deadline=None)
@given(STEPS.filter(bool), st.data())
def test_reposting_any_entry_id_changes_nothing(steps, data):
    postings = [_step(k, n, p, q, a) for n, (k, p, q, a) in enumerate(steps)]
    ledger = Ledger().post_all(postings)
    victim = data.draw(st.sampled_from(postings))
    kind, p, q, amount = data.draw(st.tuples(st.sampled_from(KINDS), IDS, IDS, AMOUNTS))
    dup = _step(kind, 0, p, q, amount)
    dup = Posting(victim.entry_id, dup.lines, dup.memo)
    with pytest.raises(DuplicateEntry):
        ledger.post(dup)
    assert ledger.postings == tuple(postings)
    assert ledger.trial_balance() == Ledger().post_all(postings).trial_balance()


@given(st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True),
                 st.decimals(allow_nan=False), st.text(max_size=3), st.booleans()))
def test_negative_or_non_integer_amounts_never_post(bad):
    with pytest.raises(InvalidAmount):
        tx.payment_received("p", buyer_id="b", amount_fen=bad)
    with pytest.raises(InvalidAmount):
        Posting("p", (Line(BANK, debit_fen=bad), credit(buyer("b"), 1)))


@given(AMOUNTS, AMOUNTS)
def test_unequal_sides_never_post(a, b):
    if a == b:
        return
    with pytest.raises(UnbalancedPosting):
        Posting("p", (debit(BANK, a), credit(buyer("b"), b)))
