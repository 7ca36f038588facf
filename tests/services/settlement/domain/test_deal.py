"""The settlement of a deal, example by example: opening, the schedule, receipts, deadlines,
default and completion. Pure: no database; the postings are replayed on a domain ledger."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settlement.domain import transactions as tx
from services.settlement.domain.deal import (
    Deal,
    DealStatus,
    Deposit,
    DepositStatus,
    Step,
    Timer,
    Watch,
    subsidy_year,
)
from services.settlement.domain.errors import (
    DealClosed,
    InvalidAmount,
    InvalidSchedule,
    Overpayment,
    ScheduleLocked,
)
from services.settlement.domain.fees import FeeSchedule, FeeTier
from services.settlement.domain.ledger import (
    BANK,
    FEE_INCOME,
    Ledger,
    buyer,
    deposit_held,
    inventor_team,
    seller,
    subsidy_payable,
    subsidy_receivable,
)
from services.settlement.domain.subsidy import Assessment, Side, parse_policy
from shared.events.auction import DealConcluded
from shared.events.settlement import (
    DealDefaulted,
    DepositApplied,
    DepositForfeited,
    FeeCharged,
    Instalment,
    PaymentOverdue,
    PaymentReceived,
    PaymentScheduleSet,
    PayoutMade,
    SettlementCompleted,
    SettlementOpened,
    SubsidyAssessed,
)

POLICIES = Path(__file__).parents[4] / "services" / "settlement" / "policies"
HLJ = parse_policy((POLICIES / "heilongjiang-2026.json").read_text(encoding="utf-8"))

PROC = uuid.UUID("0b9f3c1e-58a4-4c2e-9d7f-1a2b3c4d5e6f")
DEAL = uuid.uuid5(PROC, "deal")
LISTING = uuid.UUID("3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06")
DEPOSIT = uuid.UUID("7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f")
BUYER, SELLER, REGION = "longjiang-coatings", "hit-university", "230102"
CONCLUDED = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
OPENED = CONCLUDED + timedelta(seconds=3)
DUE_AFTER = timedelta(days=15)
DUE = CONCLUDED + DUE_AFTER
GRACE = timedelta(days=3)
MIN = timedelta(minutes=1)

FEES = FeeSchedule(exchange="test-exchange",
                   tiers=(FeeTier(up_to_fen=None, rate=Decimal("0.02")),))  # 2 % per side
PRICE = 60_000_000  # ¥600,000: above Heilongjiang's ¥500,000 threshold
FEE = 1_200_000
HELD = 6_000_000
SHARE = Decimal("0.70")


def concluded(price_fen: int = PRICE) -> DealConcluded:
    return DealConcluded(deal_id=DEAL, procedure_id=PROC, listing_id=LISTING, route="auction",
                         region=REGION, seller_id=SELLER, buyer_id=BUYER, price_fen=price_fen,
                         concluded_at=CONCLUDED)


def held(amount_fen: int = HELD, **overrides) -> Deposit:
    return Deposit(DEPOSIT, amount_fen, **overrides)


def opening(deposit: Deposit | None = None, *, price_fen: int = PRICE,
            fees: FeeSchedule = FEES) -> Step:
    return Deal.open(concluded(price_fen), fees=fees, winner_deposit=deposit,
                     payment_due=DUE_AFTER, at=OPENED)


def opened(deposit: Deposit | None = None, **kwargs) -> Deal:
    return opening(deposit, **kwargs).deal


def pay(deal: Deal, amount_fen: int, at: datetime = OPENED, reference: str | None = None
        ) -> Step:
    return deal.receive(amount_fen, payment_id=uuid.uuid4(), source="operator",
                        reference=reference, at=at)


def replay(*steps: Step, deposit: int = 0) -> Ledger:
    """The postings of ``steps`` on a ledger that received the winner's deposit first."""
    ledger = Ledger()
    if deposit:
        ledger = ledger.post(tx.deposit_received("deposit:received", lot_id=str(PROC),
                                                 bidder_id=BUYER, amount_fen=deposit))
    for step in steps:
        ledger = ledger.post_all(step.postings)
    return ledger


def types(events: Iterable[object]) -> list[type]:
    return [type(e) for e in events]


def ids(step: Step) -> list[str]:
    return [p.entry_id for p in step.postings]


# -- opening ------------------------------------------------------------------------------------
def test_opening_charges_both_fees_and_counts_the_winners_deposit() -> None:
    step = opening(held())
    d = step.deal
    assert (d.buyer_fee_fen, d.seller_fee_fen) == (FEE, FEE)
    assert d.owed_fen == PRICE + FEE
    assert d.deposit == held(deal_id=DEAL) and d.deposit_fen == HELD
    assert d.outstanding_fen == PRICE + FEE - HELD and d.paid_fen == 0
    assert d.status is DealStatus.OPEN and d.is_open and not d.paid_in_full
    assert d.schedule == (Instalment(n=1, due_at=DUE, amount_fen=PRICE + FEE - HELD),)
    assert step.timers == (Timer(Watch.OVERDUE, DUE),)
    assert ids(step) == [f"deal:{DEAL}:agreed", f"deal:{DEAL}:fee:buyer",
                         f"deal:{DEAL}:fee:seller"]


def test_opening_announces_the_settlement_and_each_fee() -> None:
    opened_, *fees = opening(held()).events
    assert isinstance(opened_, SettlementOpened)
    assert (opened_.deal_id, opened_.region, opened_.price_fen, opened_.deposit_fen,
            opened_.outstanding_fen, opened_.opened_at) == (
        DEAL, REGION, PRICE, HELD, PRICE + FEE - HELD, OPENED)
    assert opened_.instalments == [Instalment(n=1, due_at=DUE, amount_fen=PRICE + FEE - HELD)]
    assert [(f.side, f.party_id, f.amount_fen, f.schedule) for f in fees] == [
        ("buyer", BUYER, FEE, "test-exchange"), ("seller", SELLER, FEE, "test-exchange")]
    assert types(fees) == [FeeCharged, FeeCharged]


def test_opening_books_what_the_buyer_owes_and_the_seller_is_owed() -> None:
    ledger = replay(opening(held()), deposit=HELD)
    assert ledger.balance(buyer(BUYER)) == PRICE + FEE
    assert ledger.balance(seller(SELLER)) == -(PRICE - FEE)
    assert ledger.balance(FEE_INCOME) == -2 * FEE
    # the deposit stays held until the deal completes, so a default can still forfeit it
    assert ledger.balance(deposit_held(str(PROC), BUYER)) == -HELD


@pytest.mark.parametrize("deposit", [
    None,
    held(deal_id=uuid.uuid4()),                      # another deal counts on it already
    held(status=DepositStatus.RELEASED),
    held(status=DepositStatus.FORFEITED),
])
def test_only_a_held_unattached_deposit_counts(deposit: Deposit | None) -> None:
    d = opened(deposit)
    assert d.deposit is None and d.deposit_fen == 0
    assert d.outstanding_fen == PRICE + FEE


def test_a_free_schedule_charges_nothing_but_still_announces_both_sides() -> None:
    free = FeeSchedule(exchange="free", tiers=(FeeTier(up_to_fen=None, rate=Decimal(0)),))
    step = opening(fees=free)
    assert ids(step) == [f"deal:{DEAL}:agreed"]
    assert [e.amount_fen for e in step.events if isinstance(e, FeeCharged)] == [0, 0]


def test_a_deposit_covering_everything_leaves_nothing_to_schedule() -> None:
    step = opening(held(PRICE * 2))
    d = step.deal
    assert d.deposit_fen == PRICE + FEE  # at most what the buyer owes
    assert d.outstanding_fen == 0 and d.paid_in_full
    assert d.schedule == () and step.timers == ()


def test_transitions_leave_the_old_state_as_it_was() -> None:
    d = opened(held())
    pay(d, 1_000)
    assert d.paid_fen == 0
    with pytest.raises(FrozenInstanceError):
        d.paid_fen = 1  # type: ignore[misc]


# -- the schedule -------------------------------------------------------------------------------
def test_an_operator_replaces_the_schedule_before_the_first_receipt() -> None:
    d = replace(opened(held()), overdue_since=DUE)
    rest = d.outstanding_fen
    plan = [(DUE, 20_000_000), (DUE + timedelta(days=30), rest - 20_000_000)]
    step = d.set_schedule(plan, by="operator-230100", at=OPENED)
    assert step.deal.schedule == (Instalment(n=1, due_at=DUE, amount_fen=20_000_000),
                                  Instalment(n=2, due_at=DUE + timedelta(days=30),
                                             amount_fen=rest - 20_000_000))
    assert step.deal.overdue_since is None
    assert step.timers == (Timer(Watch.DEFAULT, None), Timer(Watch.OVERDUE, DUE))
    (event,) = step.events
    assert isinstance(event, PaymentScheduleSet)
    assert (event.set_by, event.instalments, event.set_at) == (
        "operator-230100", list(step.deal.schedule), OPENED)
    assert step.postings == ()


def test_an_invalid_schedule_names_every_fault() -> None:
    d = opened(held())
    plan = [(CONCLUDED, 1_000), (CONCLUDED - MIN, 2_000)]
    with pytest.raises(InvalidSchedule) as e:
        d.set_schedule(plan, by="op", at=OPENED)
    assert e.value.errors == [
        {"field": "body.instalments.0.due_at", "message": "must be after the deal was concluded"},
        {"field": "body.instalments.1.due_at", "message": "must be after the deal was concluded"},
        {"field": "body.instalments.1.due_at", "message": "due dates must strictly increase"},
        {"field": "body.instalments",
         "message": f"amounts add up to 3000 fen, not the outstanding {d.outstanding_fen} fen"},
    ]
    assert e.value.type == "urn:techex:problem:settlement-invalid-schedule"


def test_the_schedule_is_locked_once_receipts_start() -> None:
    d = pay(opened(held()), 1_000).deal
    with pytest.raises(ScheduleLocked) as e:
        d.set_schedule([(DUE, d.outstanding_fen)], by="op", at=OPENED)
    assert e.value.status == 409


# -- receipts -----------------------------------------------------------------------------------
def test_a_receipt_counts_toward_what_is_outstanding() -> None:
    d = opened(held())
    payment_id = uuid.uuid4()
    step = d.receive(10_000_000, payment_id=payment_id, source="bank", reference="ICBC-1",
                     at=OPENED + MIN)
    assert step.deal.paid_fen == 10_000_000
    assert step.deal.outstanding_fen == d.outstanding_fen - 10_000_000
    (event,) = step.events
    assert isinstance(event, PaymentReceived)
    assert (event.payment_id, event.amount_fen, event.paid_fen, event.outstanding_fen,
            event.source, event.reference, event.received_at) == (
        payment_id, 10_000_000, 10_000_000, step.deal.outstanding_fen, "bank", "ICBC-1",
        OPENED + MIN)
    assert ids(step) == [f"payment:{payment_id}"]
    # not behind: the next due date is (still) the one watched
    assert step.timers == (Timer(Watch.DEFAULT, None), Timer(Watch.OVERDUE, DUE))


def test_an_overpayment_is_refused_with_what_is_outstanding() -> None:
    d = opened(held())
    with pytest.raises(Overpayment) as e:
        pay(d, d.outstanding_fen + 1)
    assert e.value.to_dict()["outstanding_fen"] == d.outstanding_fen
    assert e.value.errors == [{"field": "body.amount_fen",
                               "message": f"at most {d.outstanding_fen}"}]


@pytest.mark.parametrize("amount", [0, -5])
def test_a_receipt_is_a_positive_amount(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        pay(opened(held()), amount)


def test_the_last_receipt_leaves_the_deal_paid_in_full() -> None:
    d = opened(held())
    step = pay(d, d.outstanding_fen)
    assert step.deal.paid_in_full and step.deal.status is DealStatus.OPEN
    assert step.timers == ()  # the completion stops the watch


def test_catching_up_ends_the_overdue_and_watches_the_next_due_date() -> None:
    d = opened(held())
    rest = d.outstanding_fen
    later = DUE + timedelta(days=30)
    d = d.set_schedule([(DUE, 20_000_000), (later, rest - 20_000_000)], by="op",
                       at=OPENED).deal
    d = d.check_payment(DUE + MIN, grace=GRACE).deal
    assert d.overdue_since == DUE
    short = pay(d, 5_000_000, DUE + 2 * MIN)  # still short of the first instalment
    assert short.deal.overdue_since == DUE and short.timers == ()
    caught_up = pay(short.deal, 15_000_000, DUE + 3 * MIN)
    assert caught_up.deal.overdue_since is None
    assert caught_up.timers == (Timer(Watch.DEFAULT, None), Timer(Watch.OVERDUE, later))


# -- deadlines and default ----------------------------------------------------------------------
def test_a_due_date_checked_early_is_watched_again() -> None:
    step = opened(held()).check_payment(DUE - MIN, grace=GRACE)
    assert step.events == () and step.timers == (Timer(Watch.OVERDUE, DUE),)


def test_a_due_date_passed_short_makes_the_payment_overdue() -> None:
    d = pay(opened(held()), 10_000_000).deal
    step = d.check_payment(DUE + MIN, grace=GRACE)
    (event,) = step.events
    assert isinstance(event, PaymentOverdue)
    assert (event.instalment, event.due_at, event.shortfall_fen, event.default_at,
            event.detected_at) == (1, DUE, d.outstanding_fen, DUE + GRACE, DUE + MIN)
    assert step.deal.overdue_since == DUE
    assert step.timers == (Timer(Watch.DEFAULT, DUE + GRACE),)
    # detected again later, it stays overdue since the first due date
    assert step.deal.check_payment(DUE + 2 * MIN, grace=GRACE).deal.overdue_since == DUE


def test_the_default_waits_for_the_end_of_the_grace() -> None:
    step = opened(held()).check_default(DUE + GRACE - MIN, grace=GRACE, forfeit_to="seller")
    assert step.deal.is_open and step.events == ()
    assert step.timers == (Timer(Watch.DEFAULT, DUE + GRACE),)


def test_a_deal_still_short_after_the_grace_defaults_and_forfeits_the_deposit() -> None:
    opening_ = opening(held())
    paid = pay(opening_.deal, 10_000_000)
    overdue = paid.deal.check_payment(DUE, grace=GRACE)
    step = overdue.deal.check_default(DUE + GRACE, grace=GRACE, forfeit_to="seller")
    d = step.deal
    assert d.status is DealStatus.DEFAULTED and d.defaulted_at == DUE + GRACE
    assert d.overdue_since is None
    assert d.deposit == held(deal_id=DEAL, status=DepositStatus.FORFEITED,
                             settled_at=DUE + GRACE)
    key = f"deal:{DEAL}"
    assert ids(step) == [f"{key}:cancelled", f"{key}:fee:buyer:reversed",
                         f"{key}:fee:seller:reversed", f"{key}:refund",
                         f"{key}:deposit-forfeited", f"{key}:forfeit-payout"]
    forfeited, defaulted = step.events
    assert isinstance(forfeited, DepositForfeited) and isinstance(defaulted, DealDefaulted)
    assert (forfeited.amount_fen, forfeited.beneficiary) == (HELD, f"seller:{SELLER}")
    assert (defaulted.forfeited_fen, defaulted.due_at, defaulted.listing_id) == (
        HELD, DUE, LISTING)
    assert step.timers == (Timer(Watch.OVERDUE, None), Timer(Watch.DEFAULT, None))
    ledger = replay(opening_, paid, step, deposit=HELD)
    for account in (buyer(BUYER), seller(SELLER), FEE_INCOME, BANK,
                    deposit_held(str(PROC), BUYER)):
        assert ledger.balance(account) == 0, account  # refunded, and the seller paid the deposit


def test_a_deposit_forfeited_to_the_exchange_stays_in_its_income() -> None:
    opening_ = opening(held())
    step = opening_.deal.default(DUE + GRACE, due_at=DUE, forfeit_to="exchange")
    assert f"deal:{DEAL}:forfeit-payout" not in ids(step)
    assert step.events[0].beneficiary == "fee_income"
    ledger = replay(opening_, step, deposit=HELD)
    assert ledger.balance(FEE_INCOME) == -HELD and ledger.balance(BANK) == HELD


def test_a_default_without_deposit_or_receipts_only_reverses_the_deal() -> None:
    step = opened().default(DUE + GRACE, due_at=DUE, forfeit_to="seller")
    assert types(step.events) == [DealDefaulted]
    assert step.events[0].forfeited_fen == 0
    assert len(step.postings) == 3  # the deal and both fees


def closed(how: str) -> Deal:
    d = opened(held())
    if how == "completed":
        return pay(d, d.outstanding_fen).deal.complete(OPENED, inventor_share=SHARE).deal
    return d.default(DUE + GRACE, due_at=DUE, forfeit_to="seller").deal


@pytest.mark.parametrize("how", ["completed", "defaulted"])
def test_deadlines_of_a_closed_deal_do_nothing(how: str) -> None:
    d = closed(how)
    assert d.check_payment(DUE + GRACE, grace=GRACE) == Step(d)
    assert d.check_default(DUE + GRACE, grace=GRACE, forfeit_to="seller") == Step(d)


@pytest.mark.parametrize("how", ["completed", "defaulted"])
def test_a_closed_deal_refuses_commands(how: str) -> None:
    d = closed(how)
    for command in (lambda: pay(d, 1), lambda: d.set_schedule([(DUE, 1)], by="op", at=OPENED),
                    lambda: d.complete(OPENED, inventor_share=SHARE),
                    lambda: d.default(DUE, due_at=DUE, forfeit_to="seller")):
        with pytest.raises(DealClosed) as e:
            command()
        assert e.value.to_dict()["deal_status"] == how
        assert e.value.type == "urn:techex:problem:settlement-deal-closed"


# -- completion -----------------------------------------------------------------------------------
def completed(deposit: Deposit | None = None, **kwargs) -> tuple[Ledger, Step]:
    steps = [opening(deposit)]
    if steps[0].deal.outstanding_fen:
        steps.append(pay(steps[0].deal, steps[0].deal.outstanding_fen))
    step = steps[-1].deal.complete(OPENED + MIN, **({"inventor_share": SHARE} | kwargs))
    return replay(*steps, step, deposit=deposit.amount_fen if deposit else 0), step


def test_completion_applies_the_deposit_splits_the_net_and_pays_both_parts() -> None:
    ledger, step = completed(held())
    d = step.deal
    assert d.status is DealStatus.COMPLETED and d.completed_at == OPENED + MIN
    assert d.deposit == held(deal_id=DEAL, status=DepositStatus.APPLIED, settled_at=OPENED + MIN)
    key = f"deal:{DEAL}"
    assert ids(step) == [f"{key}:deposit-applied", f"{key}:split", f"{key}:payout:seller",
                         f"{key}:payout:inventor_team"]
    assert types(step.events) == [DepositApplied, PayoutMade, PayoutMade, SettlementCompleted]
    net = PRICE - FEE
    inventors = 41_160_000  # 70 % of the net
    assert [(e.recipient, e.amount_fen, e.inventor_share) for e in step.events[1:3]] == [
        ("seller", net - inventors, "0.70"), ("inventor_team", inventors, "0.70")]
    done = step.events[-1]
    assert (done.received_fen, done.price_fen, done.route, done.concluded_at) == (
        PRICE, PRICE, "auction", CONCLUDED)
    assert step.timers == (Timer(Watch.OVERDUE, None), Timer(Watch.DEFAULT, None))
    for account in (buyer(BUYER), seller(SELLER), inventor_team(SELLER),
                    deposit_held(str(PROC), BUYER)):
        assert ledger.balance(account) == 0, account
    assert ledger.balance(BANK) == -ledger.balance(FEE_INCOME) == 2 * FEE


def test_a_deposit_above_what_the_buyer_owed_is_partly_released() -> None:
    ledger, step = completed(held(PRICE * 2))
    assert f"deposit:{DEPOSIT}:excess-released" in ids(step)
    assert step.events[0].amount_fen == PRICE + FEE  # what counted toward the price
    assert ledger.balance(deposit_held(str(PROC), BUYER)) == 0
    assert ledger.balance(buyer(BUYER)) == 0


def test_all_to_the_institution_when_the_inventors_share_is_nil() -> None:
    _, step = completed(inventor_share=Decimal(0))
    assert f"deal:{DEAL}:split" not in ids(step)
    assert [e.recipient for e in step.events if isinstance(e, PayoutMade)] == ["seller"]


def test_only_a_deal_paid_in_full_completes() -> None:
    with pytest.raises(ValueError, match="outstanding"):
        opened(held()).complete(OPENED, inventor_share=SHARE)


def test_the_subsidy_year_is_shanghais() -> None:
    assert subsidy_year(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == 2027
    assert subsidy_year(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == 2026


def test_completion_assesses_the_buyer_then_the_seller() -> None:
    ledger, step = completed(held(), policy=HLJ)
    buyer_a, seller_a = (e for e in step.events if isinstance(e, SubsidyAssessed))
    assert (buyer_a.side, buyer_a.recipient_id, buyer_a.amount_fen,
            buyer_a.commissioner_share_fen) == ("buyer", BUYER, 18_000_000, 1_800_000)
    assert (buyer_a.project_id, buyer_a.year, buyer_a.received_fen) == (
        str(LISTING), 2026, PRICE)
    assert buyer_a.assessment_id == uuid.uuid5(DEAL, "subsidy:buyer")
    assert seller_a.amount_fen == 0 and "only one side" in seller_a.reasons[0]
    assert ids(step)[-1] == f"subsidy:{buyer_a.assessment_id}"  # the granted one only
    assert ledger.balance(subsidy_receivable(HLJ.policy_id)) == 18_000_000
    assert ledger.balance(subsidy_payable(BUYER)) == -18_000_000


def test_an_earlier_deal_of_the_project_blocks_both_sides() -> None:
    first = Assessment(HLJ.policy_id, str(LISTING), 2026, Side.SELLER, PRICE, 1, 0, ())
    _, step = completed(policy=HLJ, earlier=[first])
    assert [e.amount_fen for e in step.events if isinstance(e, SubsidyAssessed)] == [0, 0]
    assert not any(p.entry_id.startswith("subsidy:") for p in step.postings)


def test_no_policy_no_assessment() -> None:
    _, step = completed(held())
    assert not any(isinstance(e, SubsidyAssessed) for e in step.events)


# -- property -----------------------------------------------------------------------------------
@given(price=st.integers(1, 400_000_000), deposit=st.integers(0, 50_000_000),
       cuts=st.lists(st.floats(0.01, 0.99), max_size=5))
def test_any_receipts_that_pay_in_full_settle_every_party_to_zero(
        price: int, deposit: int, cuts: list[float]) -> None:
    opening_ = opening(held(deposit) if deposit else None, price_fen=price)
    steps, d = [opening_], opening_.deal
    for cut in cuts:
        amount = int(d.outstanding_fen * cut)
        if amount:
            steps.append(pay(d, amount))
            d = steps[-1].deal
    if d.outstanding_fen:
        steps.append(pay(d, d.outstanding_fen))
        d = steps[-1].deal
    assert d.paid_in_full
    steps.append(d.complete(OPENED, inventor_share=SHARE))
    ledger = replay(*steps, deposit=deposit)
    for account in (buyer(BUYER), seller(SELLER), inventor_team(SELLER),
                    deposit_held(str(PROC), BUYER)):
        assert ledger.balance(account) == 0, account
    assert ledger.balance(BANK) == -ledger.balance(FEE_INCOME)
    assert ledger.trial_balance().difference_fen == 0
