"""The settlement of one deal (结算) as an aggregate.

::

    open ──receive…──▶ paid in full ──complete──▶ completed
      │
      └─ a due date passes short (check_payment: overdue)
           └─ the grace passes still short (check_default) ──▶ defaulted

* **open** (from ``DealConcluded``): the buyer owes the price plus the buyer's fee; the seller's
  fee is taken from its proceeds. The winner's held deposit counts toward what the buyer owes
  (at most all of it); it stays held until the deal completes, so a default can still forfeit
  it. One instalment of what is outstanding is due ``payment_due`` after the conclusion.
* **schedule**: an operator may replace the instalments until the first receipt; they are in
  strictly increasing due-date order, after the conclusion, and add up to what is outstanding.
* **receipts** toward what is outstanding, never more. When nothing is outstanding the deal is
  *paid in full* and the handler completes it.
* **complete**: the deposit is applied (any part above what the buyer owed released), the
  inventor team's share of the seller's net moved off the seller's account, both paid out; then
  the province's subsidy policy is assessed for the buyer and the seller.
* **default**: the deal and the fees are reversed, receipts refunded, and the whole deposit is
  forfeited to the seller (and paid on to it) or to the exchange's fee income.

Every transition returns a :class:`Step`: the new state, the events to publish, the ledger
postings to write (computed by :mod:`~services.settlement.domain.transactions`, with fees,
split and subsidy from their own modules) and the deal's deadlines to set or cancel. Nothing
here does I/O: the service loads the deal, calls a transition and saves the step.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from services.settlement.domain import transactions as tx
from services.settlement.domain.errors import (
    DealClosed,
    DepositMismatch,
    InvalidSchedule,
    Overpayment,
    ScheduleLocked,
)
from services.settlement.domain.fees import FeeSchedule, fee_for
from services.settlement.domain.ledger import FEE_INCOME, Posting, buyer, inventor_team, seller
from services.settlement.domain.money import require_fen
from services.settlement.domain.split import split_net
from services.settlement.domain.subsidy import Assessment, Side, SubsidyPolicy, assess
from shared.events.auction import DealConcluded
from shared.events.base import Event
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

__all__ = [
    "SHANGHAI",
    "Deal",
    "DealStatus",
    "Deposit",
    "DepositStatus",
    "ForfeitTo",
    "Step",
    "Timer",
    "Watch",
    "deposit_id_for",
    "require_owed",
    "subsidy_year",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

Route = Literal["auction", "listing", "negotiated"]
Source = Literal["operator", "bank"]
ForfeitTo = Literal["seller", "exchange"]


class DealStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    DEFAULTED = "defaulted"


class DepositStatus(StrEnum):
    HELD = "held"
    APPLIED = "applied"
    RELEASED = "released"
    FORFEITED = "forfeited"


class Watch(StrEnum):
    """The deal's two deadlines."""

    OVERDUE = "overdue"  # an instalment's due date: has what was due been received?
    DEFAULT = "default"  # the end of the grace after it: still short, the deal defaults


@dataclass(frozen=True, slots=True)
class Timer:
    """Set the deadline ``watch`` to ``at`` (moving it if it is pending), or cancel it (None)."""

    watch: Watch
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Deposit:
    """A bidder's deposit (保证金) as a deal sees it: ``amount_fen`` is what is held."""

    deposit_id: uuid.UUID
    amount_fen: int
    status: DepositStatus = DepositStatus.HELD
    deal_id: uuid.UUID | None = None
    settled_at: datetime | None = None

    @property
    def available(self) -> bool:
        """Held, and no deal counts on it yet."""
        return self.status is DepositStatus.HELD and self.deal_id is None

    def settle(self, status: DepositStatus, at: datetime) -> Deposit:
        return replace(self, status=status, settled_at=at)


def deposit_id_for(procedure_id: uuid.UUID, bidder_id: str) -> uuid.UUID:
    """The one deposit of a bidder for a procedure (confirming it again finds it)."""
    return uuid.uuid5(procedure_id, f"deposit:{bidder_id}")


def require_owed(bidder_id: str, owed_fen: int, amount_fen: int) -> None:
    """A deposit is confirmed for exactly what the bidder's registration says it owes."""
    if amount_fen != owed_fen:
        raise DepositMismatch(
            f"Bidder {bidder_id!r} owes a deposit of {owed_fen} fen, not {amount_fen}.",
            errors=[{"field": "body.amount_fen", "message": f"must be {owed_fen}"}],
            expected_fen=owed_fen)


@dataclass(frozen=True, slots=True)
class Step:
    """What a transition did: the new state, the events to publish, the postings to write (in
    order) and the deadlines to set or cancel. A refused command raises instead; a deadline that
    no longer applies is a step with nothing in it."""

    deal: Deal
    events: tuple[Event, ...] = ()
    postings: tuple[Posting, ...] = ()
    timers: tuple[Timer, ...] = ()


def subsidy_year(at: datetime) -> int:
    """The year a completion is assessed in: the Shanghai calendar's."""
    return at.astimezone(SHANGHAI).year


@dataclass(frozen=True, slots=True)
class Deal:
    deal_id: uuid.UUID
    procedure_id: uuid.UUID
    listing_id: uuid.UUID
    route: Route
    region: str
    seller_id: str
    buyer_id: str
    price_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    concluded_at: datetime
    deposit: Deposit | None = None
    """The winner's deposit counting toward what the buyer owes, if it held one."""
    deposit_fen: int = 0
    """The part of the deposit that counts: at most what the buyer owes."""
    paid_fen: int = 0
    """Receipts so far, the deposit not included."""
    schedule: tuple[Instalment, ...] = ()
    status: DealStatus = DealStatus.OPEN
    overdue_since: datetime | None = None
    completed_at: datetime | None = None
    defaulted_at: datetime | None = None

    # -- reading ----------------------------------------------------------------------------
    @property
    def owed_fen(self) -> int:
        """What the buyer owes in all: the price and the buyer's fee."""
        return self.price_fen + self.buyer_fee_fen

    @property
    def outstanding_fen(self) -> int:
        return self.owed_fen - self.deposit_fen - self.paid_fen

    @property
    def is_open(self) -> bool:
        return self.status is DealStatus.OPEN

    @property
    def paid_in_full(self) -> bool:
        """Open with nothing outstanding: the deal is to be completed."""
        return self.is_open and self.outstanding_fen == 0

    def first_unpaid(self) -> tuple[Instalment, int] | None:
        """The first instalment the receipts do not cover yet, with the cumulative amount due
        by its date."""
        cumulative = 0
        for inst in self.schedule:
            cumulative += inst.amount_fen
            if cumulative > self.paid_fen:
                return inst, cumulative
        return None

    def _require_open(self) -> None:
        if not self.is_open:
            raise DealClosed(f"The settlement of deal {self.deal_id} is {self.status.value}.",
                             deal_status=self.status.value)

    @property
    def _key(self) -> str:
        return f"deal:{self.deal_id}"

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, concluded: DealConcluded, *, fees: FeeSchedule,
             winner_deposit: Deposit | None, payment_due: timedelta, at: datetime) -> Step:
        """Open the settlement of a concluded deal. ``winner_deposit`` is the buyer's deposit
        for the procedure, if any; it counts only if it is held and unattached."""
        e = concluded
        buyer_fee = fee_for(e.price_fen, fees)
        seller_fee = fee_for(e.price_fen, fees)
        deposit, deposit_fen = None, 0
        if winner_deposit is not None and winner_deposit.available:
            deposit = replace(winner_deposit, deal_id=e.deal_id)
            deposit_fen = min(winner_deposit.amount_fen, e.price_fen + buyer_fee)
        outstanding = e.price_fen + buyer_fee - deposit_fen
        plan = (Instalment(n=1, due_at=e.concluded_at + payment_due, amount_fen=outstanding),
                ) if outstanding else ()
        deal = cls(deal_id=e.deal_id, procedure_id=e.procedure_id, listing_id=e.listing_id,
                   route=e.route, region=e.region, seller_id=e.seller_id, buyer_id=e.buyer_id,
                   price_fen=e.price_fen, buyer_fee_fen=buyer_fee, seller_fee_fen=seller_fee,
                   concluded_at=e.concluded_at, deposit=deposit, deposit_fen=deposit_fen,
                   schedule=plan)
        postings = [tx.deal_agreed(f"{deal._key}:agreed", buyer_id=e.buyer_id,
                                   seller_id=e.seller_id, price_fen=e.price_fen)]
        for party, fen in ((buyer(e.buyer_id), buyer_fee), (seller(e.seller_id), seller_fee)):
            if fen:
                postings.append(tx.fee_charged(f"{deal._key}:fee:{party.kind.value}",
                                               party=party, amount_fen=fen))
        events: list[Event] = [SettlementOpened(
            deal_id=e.deal_id, procedure_id=e.procedure_id, region=e.region,
            buyer_id=e.buyer_id, seller_id=e.seller_id, price_fen=e.price_fen,
            buyer_fee_fen=buyer_fee, seller_fee_fen=seller_fee, deposit_fen=deposit_fen,
            outstanding_fen=outstanding, instalments=list(plan), opened_at=at)]
        events += [FeeCharged(deal_id=e.deal_id, region=e.region, side=side, party_id=party_id,
                              amount_fen=fen, schedule=fees.exchange, charged_at=at)
                   for side, party_id, fen in (("buyer", e.buyer_id, buyer_fee),
                                               ("seller", e.seller_id, seller_fee))]
        timers = (Timer(Watch.OVERDUE, plan[0].due_at),) if plan else ()
        return Step(deal, tuple(events), tuple(postings), timers)

    # -- the schedule and receipts ----------------------------------------------------------
    def set_schedule(self, plan: Sequence[tuple[datetime, int]], *, by: str, at: datetime
                     ) -> Step:
        """Replace the schedule: instalments ``(due_at, amount_fen)`` in due-date order adding
        up to what is outstanding, before the first receipt."""
        self._require_open()
        if self.paid_fen > 0:
            raise ScheduleLocked(f"Deal {self.deal_id} has received {self.paid_fen} fen already.")
        errors = []
        for i, (due, _) in enumerate(plan):
            if due <= self.concluded_at:
                errors.append({"field": f"body.instalments.{i}.due_at",
                               "message": "must be after the deal was concluded"})
            if i and due <= plan[i - 1][0]:
                errors.append({"field": f"body.instalments.{i}.due_at",
                               "message": "due dates must strictly increase"})
        total = sum(fen for _, fen in plan)
        if total != self.outstanding_fen:
            errors.append({"field": "body.instalments",
                           "message": f"amounts add up to {total} fen, not the outstanding "
                                      f"{self.outstanding_fen} fen"})
        if errors:
            raise InvalidSchedule("The schedule is not valid.", errors=errors)
        rows = tuple(Instalment(n=i + 1, due_at=due, amount_fen=fen)
                     for i, (due, fen) in enumerate(plan))
        deal = replace(self, schedule=rows, overdue_since=None)
        return Step(deal, (PaymentScheduleSet(deal_id=self.deal_id, region=self.region,
                                              set_by=by, instalments=list(rows), set_at=at),),
                    timers=(Timer(Watch.DEFAULT, None), Timer(Watch.OVERDUE, rows[0].due_at)))

    def receive(self, amount_fen: int, *, payment_id: uuid.UUID, source: Source,
                reference: str | None, at: datetime) -> Step:
        """A receipt toward what is outstanding (never more). Caught up with what is due, the
        deal stops being overdue and watches the next due date; paid in full, it is to be
        completed (:attr:`paid_in_full`)."""
        self._require_open()
        require_fen(amount_fen, "amount_fen")
        if amount_fen > self.outstanding_fen:
            raise Overpayment(
                f"Deal {self.deal_id} has {self.outstanding_fen} fen outstanding; "
                f"{amount_fen} is too much.",
                errors=[{"field": "body.amount_fen",
                         "message": f"at most {self.outstanding_fen}"}],
                outstanding_fen=self.outstanding_fen)
        deal = replace(self, paid_fen=self.paid_fen + amount_fen)
        posting = tx.payment_received(f"payment:{payment_id}", buyer_id=self.buyer_id,
                                      amount_fen=amount_fen)
        event = PaymentReceived(
            deal_id=self.deal_id, region=self.region, payment_id=payment_id,
            buyer_id=self.buyer_id, amount_fen=amount_fen, paid_fen=deal.paid_fen,
            outstanding_fen=deal.outstanding_fen, source=source, reference=reference,
            received_at=at)
        timers: tuple[Timer, ...] = ()
        nxt = deal.first_unpaid() if deal.outstanding_fen else None
        if nxt is not None and nxt[0].due_at > at:  # caught up: watch the next due date
            deal = replace(deal, overdue_since=None)
            timers = (Timer(Watch.DEFAULT, None), Timer(Watch.OVERDUE, nxt[0].due_at))
        return Step(deal, (event,), (posting,), timers)

    # -- deadlines --------------------------------------------------------------------------
    def check_payment(self, at: datetime, *, grace: timedelta) -> Step:
        """At a due date: if what was due is not received, the payment is overdue and the deal
        defaults ``grace`` after the due date unless it catches up."""
        found = self.first_unpaid() if self.is_open else None
        if found is None:
            return Step(self)
        inst, cumulative = found
        if inst.due_at > at:
            return Step(self, timers=(Timer(Watch.OVERDUE, inst.due_at),))
        default_at = inst.due_at + grace
        deal = replace(self, overdue_since=self.overdue_since or inst.due_at)
        return Step(deal, (PaymentOverdue(
            deal_id=self.deal_id, region=self.region, buyer_id=self.buyer_id,
            instalment=inst.n, due_at=inst.due_at, shortfall_fen=cumulative - self.paid_fen,
            default_at=default_at, detected_at=at),),
            timers=(Timer(Watch.DEFAULT, default_at),))

    def check_default(self, at: datetime, *, grace: timedelta, forfeit_to: ForfeitTo
                      ) -> Step:
        """After the grace: a deal still short of an instalment due defaults; one that caught
        up on it but is short of a later one waits for that one's grace."""
        found = self.first_unpaid() if self.is_open else None
        if found is None:
            return Step(self)
        inst, _ = found
        if inst.due_at + grace > at:
            return Step(self, timers=(Timer(Watch.DEFAULT, inst.due_at + grace),))
        return self.default(at, due_at=inst.due_at, forfeit_to=forfeit_to)

    def default(self, at: datetime, *, due_at: datetime, forfeit_to: ForfeitTo) -> Step:
        """The buyer defaulted (违约) on what was due at ``due_at``: the deal and the fees are
        reversed, receipts refunded, the whole deposit forfeited to the seller (paid on to it)
        or to the exchange's fee income, as configured."""
        self._require_open()
        key = self._key
        postings = [tx.deal_cancelled(f"{key}:cancelled", buyer_id=self.buyer_id,
                                      seller_id=self.seller_id, price_fen=self.price_fen)]
        for party, fen in ((buyer(self.buyer_id), self.buyer_fee_fen),
                           (seller(self.seller_id), self.seller_fee_fen)):
            if fen:
                postings.append(tx.fee_reversed(f"{key}:fee:{party.kind.value}:reversed",
                                                party=party, amount_fen=fen))
        if self.paid_fen:
            postings.append(tx.refund(f"{key}:refund", buyer_id=self.buyer_id,
                                      amount_fen=self.paid_fen))
        events: list[Event] = []
        deposit, forfeited = self.deposit, 0
        if deposit is not None:
            forfeited = deposit.amount_fen
            beneficiary = seller(self.seller_id) if forfeit_to == "seller" else FEE_INCOME
            postings.append(tx.deposit_forfeited(
                f"{key}:deposit-forfeited", lot_id=str(self.procedure_id),
                bidder_id=self.buyer_id, amount_fen=forfeited, beneficiary=beneficiary))
            if forfeit_to == "seller":  # the compensation is paid on to the seller
                postings.append(tx.payout(f"{key}:forfeit-payout", to=beneficiary,
                                          amount_fen=forfeited))
            deposit = deposit.settle(DepositStatus.FORFEITED, at)
            events.append(DepositForfeited(
                deposit_id=deposit.deposit_id, procedure_id=self.procedure_id,
                bidder_id=self.buyer_id, amount_fen=forfeited, region=self.region,
                deal_id=self.deal_id, beneficiary=beneficiary.id, forfeited_at=at))
        events.append(DealDefaulted(
            deal_id=self.deal_id, procedure_id=self.procedure_id, listing_id=self.listing_id,
            region=self.region, buyer_id=self.buyer_id, forfeited_fen=forfeited,
            due_at=due_at, defaulted_at=at))
        deal = replace(self, status=DealStatus.DEFAULTED, defaulted_at=at, overdue_since=None,
                       deposit=deposit)
        return Step(deal, tuple(events), tuple(postings), _STOP_WATCHING)

    # -- completion -------------------------------------------------------------------------
    def complete(self, at: datetime, *, inventor_share: Decimal,
                 policy: SubsidyPolicy | None = None, earlier: Iterable[Assessment] = ()
                 ) -> Step:
        """Complete a deal paid in full: apply the deposit, split the seller's net and pay both
        parts out, then assess ``policy`` (the province's for :func:`subsidy_year` of ``at``,
        if any) for the buyer and the seller, ``earlier`` being that policy's assessments of
        the same project and year."""
        self._require_open()
        if self.outstanding_fen:
            raise ValueError(f"Deal {self.deal_id} still has {self.outstanding_fen} fen "
                             "outstanding: only a deal paid in full completes.")
        key = self._key
        postings: list[Posting] = []
        events: list[Event] = []
        deposit = self.deposit
        if deposit is not None and self.deposit_fen:
            postings.append(tx.deposit_applied(
                f"{key}:deposit-applied", lot_id=str(self.procedure_id), buyer_id=self.buyer_id,
                amount_fen=self.deposit_fen))
            if deposit.amount_fen > self.deposit_fen:  # more than the buyer owed: the rest back
                postings.append(tx.deposit_released(
                    f"deposit:{deposit.deposit_id}:excess-released",
                    lot_id=str(self.procedure_id), bidder_id=self.buyer_id,
                    amount_fen=deposit.amount_fen - self.deposit_fen))
            deposit = deposit.settle(DepositStatus.APPLIED, at)
            events.append(DepositApplied(
                deposit_id=deposit.deposit_id, procedure_id=self.procedure_id,
                bidder_id=self.buyer_id, amount_fen=self.deposit_fen, region=self.region,
                deal_id=self.deal_id, applied_at=at))
        split = split_net(self.price_fen, self.seller_fee_fen, inventor_share)
        if split.inventor_fen:
            postings.append(tx.split_to_inventors(f"{key}:split", seller_id=self.seller_id,
                                                  amount_fen=split.inventor_fen))
        for kind, account, fen in (("seller", seller(self.seller_id), split.institution_fen),
                                   ("inventor_team", inventor_team(self.seller_id),
                                    split.inventor_fen)):
            if fen:
                postings.append(tx.payout(f"{key}:payout:{kind}", to=account, amount_fen=fen))
                events.append(PayoutMade(
                    deal_id=self.deal_id, region=self.region, account=account.id,
                    recipient=kind, amount_fen=fen, inventor_share=str(split.inventor_share),
                    paid_at=at))
        received = self.price_fen  # 实际到账金额: the price, received in full (deposit included)
        events.append(SettlementCompleted(
            deal_id=self.deal_id, listing_id=self.listing_id, region=self.region,
            received_fen=received, completed_at=at, procedure_id=self.procedure_id,
            route=self.route, seller_id=self.seller_id, buyer_id=self.buyer_id,
            price_fen=self.price_fen, concluded_at=self.concluded_at))
        if policy is not None:
            for event, posting in self._assess(policy, received, at, list(earlier)):
                events.append(event)
                if posting is not None:
                    postings.append(posting)
        deal = replace(self, status=DealStatus.COMPLETED, completed_at=at, overdue_since=None,
                       deposit=deposit)
        return Step(deal, tuple(events), tuple(postings), _STOP_WATCHING)

    def _assess(self, policy: SubsidyPolicy, received_fen: int, at: datetime,
                earlier: list[Assessment]) -> list[tuple[SubsidyAssessed, Posting | None]]:
        """The buyer's, then the seller's assessment. The project is the listing; with "one
        side per project per year" the first side granted, of this deal or an earlier one of
        the same listing, blocks the other."""
        year, project = subsidy_year(at), str(self.listing_id)
        out: list[tuple[SubsidyAssessed, Posting | None]] = []
        for side, recipient in ((Side.BUYER, self.buyer_id), (Side.SELLER, self.seller_id)):
            a = assess(policy, received_fen, side, project, year, earlier,
                       seller_in_province=self.region[:2] == policy.region_code[:2])
            earlier.append(a)
            assessment_id = uuid.uuid5(self.deal_id, f"subsidy:{side.value}")
            posting = tx.subsidy_assessed(
                f"subsidy:{assessment_id}", policy_id=policy.policy_id, recipient_id=recipient,
                amount_fen=a.amount_fen) if a.granted else None
            out.append((SubsidyAssessed(
                assessment_id=assessment_id, deal_id=self.deal_id, policy_id=policy.policy_id,
                project_id=project, year=year, side=side.value, recipient_id=recipient,
                region=self.region, received_fen=received_fen, amount_fen=a.amount_fen,
                commissioner_share_fen=a.commissioner_share_fen, reasons=list(a.reasons),
                assessed_at=at), posting))
        return out


_STOP_WATCHING = (Timer(Watch.OVERDUE, None), Timer(Watch.DEFAULT, None))
