"""The settlement's steps over the database: each runs in the caller's transaction, posts its
balanced entries to the ledger and answers the events to publish with it.

HTTP commands, bank callbacks, event handlers and deadline handlers all go through these, so a
step behaves the same whoever triggers it. Every step is idempotent by a natural key (the
deposit of a bidder for a procedure, the deal id, entry ids derived from them).

Money flow of a deal (see ``domain/transactions.py`` for the postings):

* open: the buyer owes the price (``deal_agreed``) plus the buyer's fee; the seller's fee is
  taken from its proceeds. The winner's held deposit counts toward what the buyer owes; it
  stays in ``deposits_held`` until the deal completes, so a default can still forfeit it.
* receipts: ``payment_received`` until price + buyer's fee − deposit is paid (no overpayment).
* complete: ``deposit_applied``, the inventor team's share moved off the seller's account
  (``split_to_inventors``), both paid out; then the subsidy assessment.
* default: the deal and the fees are reversed, any receipts refunded, and the deposit is
  forfeited to the seller (paid out to it as compensation) or to the exchange's income,
  as configured (``forfeit_to``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.settlement import ledger_store, store
from services.settlement import metrics as m
from services.settlement.books import Books
from services.settlement.domain import transactions as tx
from services.settlement.domain.fees import fee_for
from services.settlement.domain.ledger import FEE_INCOME, buyer, inventor_team, seller
from services.settlement.domain.split import split_net
from services.settlement.domain.subsidy import Assessment, Side, assess
from services.settlement.problems import (
    DealClosed,
    DepositMismatch,
    InvalidSchedule,
    Overpayment,
    ScheduleLocked,
    UnknownDeal,
    UnknownRegistration,
)
from shared.events import Event
from shared.events.auction import DealConcluded
from shared.events.settlement import (
    DealDefaulted,
    DepositApplied,
    DepositConfirmed,
    DepositForfeited,
    DepositReleased,
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
from shared.scheduler import cancel, schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")

RELEASE = "settlement.deposit-release"
OVERDUE = "settlement.payment-overdue"
DEFAULT = "settlement.default"


@dataclass
class Outcome:
    """What a step did: the events to publish and the counters to add once it commits."""

    events: list[Event] = field(default_factory=list)
    settled: list[tuple[str, int]] = field(default_factory=list)  # (province, fen)
    subsidies: list[tuple[str, int]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Outcome) -> None:
        self.events += other.events
        self.settled += other.settled
        self.subsidies += other.subsidies

    def count(self) -> None:
        for province, fen in self.settled:
            m.SETTLED.labels(province).inc(fen)
        for province, fen in self.subsidies:
            m.SUBSIDIES.labels(province).inc(fen)


def deposit_id_for(procedure_id: uuid.UUID, bidder_id: str) -> uuid.UUID:
    return uuid.uuid5(procedure_id, f"deposit:{bidder_id}")


def province_of(region: str) -> str:
    return region[:2] + "0000"


# -- deposits ------------------------------------------------------------------------------------
async def confirm_deposit(conn: asyncpg.Connection, books: Books, procedure_id: uuid.UUID,
                          bidder_id: str, amount_fen: int, reference: str | None
                          ) -> tuple[asyncpg.Record, bool, Outcome]:
    """Hold the bidder's deposit: ``(deposit, newly confirmed?, outcome)``. Confirming a
    deposit already held answers it again and posts nothing."""
    reg = await store.registration(conn, procedure_id, bidder_id)
    if reg is None:
        raise UnknownRegistration(
            f"Bidder {bidder_id!r} is not registered for procedure {procedure_id}.",
            errors=[{"field": "body.bidder_id", "message": "no such registration"}])
    if amount_fen != reg["deposit_fen"]:
        raise DepositMismatch(
            f"Bidder {bidder_id!r} owes a deposit of {reg['deposit_fen']} fen, not {amount_fen}.",
            errors=[{"field": "body.amount_fen",
                     "message": f"must be {reg['deposit_fen']}"}],
            expected_fen=reg["deposit_fen"])
    now = books.clock.now()
    deposit_id = deposit_id_for(procedure_id, bidder_id)
    row = await store.insert_deposit(conn, deposit_id, reg, reference, now)
    if row is None:
        return await store.deposit_of(conn, procedure_id, bidder_id), False, Outcome()
    await ledger_store.post(conn, [tx.deposit_received(
        f"deposit:{deposit_id}:received", lot_id=str(procedure_id), bidder_id=bidder_id,
        amount_fen=amount_fen)], now)
    return row, True, Outcome([DepositConfirmed(
        deposit_id=deposit_id, procedure_id=procedure_id, bidder_id=bidder_id,
        amount_fen=amount_fen, region=reg["region"], confirmed_at=now)])


async def release_deposits(conn: asyncpg.Connection, books: Books, procedure_id: uuid.UUID,
                           reason: str) -> Outcome:
    """Give back every held deposit of the procedure no deal counts on."""
    now = books.clock.now()
    out = Outcome()
    for d in await store.held_unattached(conn, procedure_id):
        await ledger_store.post(conn, [tx.deposit_released(
            f"deposit:{d['deposit_id']}:released", lot_id=str(procedure_id),
            bidder_id=d["bidder_id"], amount_fen=d["amount_fen"])], now)
        await store.settle_deposit(conn, d["deposit_id"], "released", now)
        out.events.append(DepositReleased(
            deposit_id=d["deposit_id"], procedure_id=procedure_id, bidder_id=d["bidder_id"],
            amount_fen=d["amount_fen"], region=d["region"], reason=reason, released_at=now))
    return out


# -- opening a deal ------------------------------------------------------------------------------
async def open_deal(conn: asyncpg.Connection, books: Books, e: DealConcluded) -> Outcome:
    """Open the settlement of a concluded deal; a deal already open is left as it is."""
    buyer_fee = fee_for(e.price_fen, books.fees)
    seller_fee = fee_for(e.price_fen, books.fees)
    if not await store.insert_deal(conn, e, buyer_fee, seller_fee):
        return Outcome()
    now = books.clock.now()
    deposit_fen = 0
    winner = await store.deposit_of(conn, e.procedure_id, e.buyer_id, lock=True)
    if winner is not None and winner["status"] == "held" and winner["deal_id"] is None:
        deposit_fen = min(winner["amount_fen"], e.price_fen + buyer_fee)
        await store.attach_deposit(conn, winner["deposit_id"], e.deal_id)
        await store.set_deal_deposit(conn, e.deal_id, winner["deposit_id"], deposit_fen)
    postings = [tx.deal_agreed(f"deal:{e.deal_id}:agreed", buyer_id=e.buyer_id,
                               seller_id=e.seller_id, price_fen=e.price_fen)]
    for party, fen in ((buyer(e.buyer_id), buyer_fee), (seller(e.seller_id), seller_fee)):
        if fen:
            postings.append(tx.fee_charged(f"deal:{e.deal_id}:fee:{party.kind.value}",
                                           party=party, amount_fen=fen))
    await ledger_store.post(conn, postings, now, e.deal_id)
    outstanding = e.price_fen + buyer_fee - deposit_fen
    plan = [Instalment(n=1, due_at=e.concluded_at + books.payment_due, amount_fen=outstanding)
            ] if outstanding else []
    await store.replace_instalments(conn, e.deal_id, [(i.n, i.due_at, i.amount_fen)
                                                      for i in plan])
    out = Outcome([
        SettlementOpened(
            deal_id=e.deal_id, procedure_id=e.procedure_id, region=e.region,
            buyer_id=e.buyer_id, seller_id=e.seller_id, price_fen=e.price_fen,
            buyer_fee_fen=buyer_fee, seller_fee_fen=seller_fee, deposit_fen=deposit_fen,
            outstanding_fen=outstanding, instalments=plan, opened_at=now),
        *(FeeCharged(deal_id=e.deal_id, region=e.region, side=side, party_id=party, amount_fen=fen,
                     schedule=books.fees.exchange, charged_at=now)
          for side, party, fen in (("buyer", e.buyer_id, buyer_fee),
                                   ("seller", e.seller_id, seller_fee))),
    ])
    if plan:
        await schedule(conn, OVERDUE, str(e.deal_id), plan[0].due_at)
    if await store.held_unattached(conn, e.procedure_id):
        await schedule(conn, RELEASE, str(e.procedure_id), e.concluded_at + books.release_after)
    if not outstanding:
        out.extend(await _complete(conn, books, e.deal_id))
    return out


# -- the schedule and receipts -------------------------------------------------------------------
async def _open_deal_row(conn: asyncpg.Connection, deal_id: uuid.UUID) -> asyncpg.Record:
    d = await store.deal(conn, deal_id, lock=True)
    if d is None:
        raise UnknownDeal(f"No deal {deal_id} is being settled.")
    if d["status"] != "open":
        raise DealClosed(f"The settlement of deal {deal_id} is {d['status']}.",
                         deal_status=d["status"])
    return d


async def set_schedule(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID,
                       plan: list[tuple[datetime, int]], by: str) -> Outcome:
    """Replace the schedule: instalments in due-date order adding up to what is outstanding."""
    d = await _open_deal_row(conn, deal_id)
    if d["paid_fen"] > 0:
        raise ScheduleLocked(f"Deal {deal_id} has received {d['paid_fen']} fen already.")
    errors = []
    for i, (due, _) in enumerate(plan):
        if due <= d["concluded_at"]:
            errors.append({"field": f"body.instalments.{i}.due_at",
                           "message": "must be after the deal was concluded"})
        if i and due <= plan[i - 1][0]:
            errors.append({"field": f"body.instalments.{i}.due_at",
                           "message": "due dates must strictly increase"})
    total = sum(fen for _, fen in plan)
    if total != d["outstanding_fen"]:
        errors.append({"field": "body.instalments",
                       "message": f"amounts add up to {total} fen, not the outstanding "
                                  f"{d['outstanding_fen']} fen"})
    if errors:
        raise InvalidSchedule("The schedule is not valid.", errors=errors)
    rows = [Instalment(n=i + 1, due_at=due, amount_fen=fen) for i, (due, fen) in enumerate(plan)]
    await store.replace_instalments(conn, deal_id, [(r.n, r.due_at, r.amount_fen) for r in rows])
    await store.set_overdue(conn, deal_id, None)
    await cancel(conn, DEFAULT, str(deal_id))
    await schedule(conn, OVERDUE, str(deal_id), rows[0].due_at)
    return Outcome([PaymentScheduleSet(deal_id=deal_id, region=d["region"], set_by=by,
                                       instalments=rows, set_at=books.clock.now())])


async def _first_unpaid(conn: asyncpg.Connection, deal_id: uuid.UUID, paid: int
                        ) -> asyncpg.Record | None:
    for inst in await store.instalments(conn, deal_id):
        if inst["cumulative_fen"] > paid:
            return inst
    return None


async def record_payment(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID,
                         amount_fen: int, source: str, reference: str | None) -> Outcome:
    """A receipt toward the deal; completes the settlement when nothing is outstanding."""
    d = await _open_deal_row(conn, deal_id)
    if amount_fen > d["outstanding_fen"]:
        raise Overpayment(
            f"Deal {deal_id} has {d['outstanding_fen']} fen outstanding; {amount_fen} is too much.",
            errors=[{"field": "body.amount_fen",
                     "message": f"at most {d['outstanding_fen']}"}],
            outstanding_fen=d["outstanding_fen"])
    now = books.clock.now()
    payment_id = uuid.uuid5(deal_id, f"bank:{reference}") if source == "bank" else uuid.uuid4()
    await store.insert_payment(conn, payment_id, deal_id, amount_fen, source, reference, now)
    await ledger_store.post(conn, [tx.payment_received(
        f"payment:{payment_id}", buyer_id=d["buyer_id"], amount_fen=amount_fen)], now, deal_id)
    await store.add_paid(conn, deal_id, amount_fen)
    paid, outstanding = d["paid_fen"] + amount_fen, d["outstanding_fen"] - amount_fen
    out = Outcome([PaymentReceived(
        deal_id=deal_id, region=d["region"], payment_id=payment_id, buyer_id=d["buyer_id"],
        amount_fen=amount_fen, paid_fen=paid, outstanding_fen=outstanding, source=source,
        reference=reference, received_at=now)])
    out.body = {"payment_id": str(payment_id), "deal_id": str(deal_id), "amount_fen": amount_fen,
                "paid_fen": paid, "outstanding_fen": outstanding}
    if outstanding == 0:
        out.extend(await _complete(conn, books, deal_id))
        out.body["status"] = "completed"
        return out
    out.body["status"] = "open"
    nxt = await _first_unpaid(conn, deal_id, paid)
    if nxt is not None and nxt["due_at"] > now:  # caught up: watch the next due date
        await store.set_overdue(conn, deal_id, None)
        await cancel(conn, DEFAULT, str(deal_id))
        await schedule(conn, OVERDUE, str(deal_id), nxt["due_at"])
    return out


# -- deadlines ----------------------------------------------------------------------------------
async def check_overdue(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID) -> Outcome:
    """At a due date: if what was due is not received, the payment is overdue and the deal
    defaults after the grace period."""
    d = await store.deal(conn, deal_id, lock=True)
    if d is None or d["status"] != "open":
        return Outcome()
    now = books.clock.now()
    inst = await _first_unpaid(conn, deal_id, d["paid_fen"])
    if inst is None:
        return Outcome()
    if inst["due_at"] > now:
        await schedule(conn, OVERDUE, str(deal_id), inst["due_at"])
        return Outcome()
    default_at = inst["due_at"] + books.grace
    await store.set_overdue(conn, deal_id, d["overdue_since"] or inst["due_at"])
    await schedule(conn, DEFAULT, str(deal_id), default_at)
    return Outcome([PaymentOverdue(
        deal_id=deal_id, region=d["region"], buyer_id=d["buyer_id"], instalment=inst["n"],
        due_at=inst["due_at"], shortfall_fen=inst["cumulative_fen"] - d["paid_fen"],
        default_at=default_at, detected_at=now)])


async def check_default(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID) -> Outcome:
    """After the grace: a deal still short of an instalment due defaults."""
    d = await store.deal(conn, deal_id, lock=True)
    if d is None or d["status"] != "open":
        return Outcome()
    now = books.clock.now()
    inst = await _first_unpaid(conn, deal_id, d["paid_fen"])
    if inst is None:
        return Outcome()
    if inst["due_at"] + books.grace > now:  # caught up on one instalment, a later one is due
        await schedule(conn, DEFAULT, str(deal_id), inst["due_at"] + books.grace)
        return Outcome()
    return await _default(conn, books, d, inst["due_at"])


async def _default(conn: asyncpg.Connection, books: Books, d: asyncpg.Record,
                   due_at: datetime) -> Outcome:
    now = books.clock.now()
    deal_id = d["deal_id"]
    key = f"deal:{deal_id}"
    postings = [tx.deal_cancelled(f"{key}:cancelled", buyer_id=d["buyer_id"],
                                  seller_id=d["seller_id"], price_fen=d["price_fen"])]
    for party, fen in ((buyer(d["buyer_id"]), d["buyer_fee_fen"]),
                       (seller(d["seller_id"]), d["seller_fee_fen"])):
        if fen:
            postings.append(tx.fee_reversed(f"{key}:fee:{party.kind.value}:reversed",
                                            party=party, amount_fen=fen))
    if d["paid_fen"]:
        postings.append(tx.refund(f"{key}:refund", buyer_id=d["buyer_id"],
                                  amount_fen=d["paid_fen"]))
    out = Outcome()
    forfeited = 0
    if d["deposit_id"]:  # the whole deposit is forfeited
        forfeited = (await store.deposit(conn, d["deposit_id"]))["amount_fen"]
        beneficiary = seller(d["seller_id"]) if books.forfeit_to == "seller" else FEE_INCOME
        postings.append(tx.deposit_forfeited(
            f"{key}:deposit-forfeited", lot_id=str(d["procedure_id"]), bidder_id=d["buyer_id"],
            amount_fen=forfeited, beneficiary=beneficiary))
        if books.forfeit_to == "seller":  # the compensation is paid on to the seller
            postings.append(tx.payout(f"{key}:forfeit-payout", to=beneficiary,
                                      amount_fen=forfeited))
        await store.settle_deposit(conn, d["deposit_id"], "forfeited", now)
        out.events.append(DepositForfeited(
            deposit_id=d["deposit_id"], procedure_id=d["procedure_id"], bidder_id=d["buyer_id"],
            amount_fen=forfeited, region=d["region"], deal_id=deal_id,
            beneficiary=beneficiary.id, forfeited_at=now))
    await ledger_store.post(conn, postings, now, deal_id)
    await store.close_deal(conn, deal_id, "defaulted", now)
    await cancel(conn, OVERDUE, str(deal_id))
    await cancel(conn, DEFAULT, str(deal_id))
    out.events.append(DealDefaulted(
        deal_id=deal_id, procedure_id=d["procedure_id"], listing_id=d["listing_id"],
        region=d["region"], buyer_id=d["buyer_id"], forfeited_fen=forfeited,
        due_at=due_at, defaulted_at=now))
    return out


# -- completion and subsidies ----------------------------------------------------------------------
async def _complete(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID) -> Outcome:
    d = await store.deal(conn, deal_id, lock=True)
    now = books.clock.now()
    key = f"deal:{deal_id}"
    postings = []
    out = Outcome()
    if d["deposit_fen"]:
        postings.append(tx.deposit_applied(f"{key}:deposit-applied", lot_id=str(d["procedure_id"]),
                                           buyer_id=d["buyer_id"], amount_fen=d["deposit_fen"]))
        held = (await store.deposit(conn, d["deposit_id"]))["amount_fen"]
        if held > d["deposit_fen"]:  # a deposit larger than all the buyer owed: the rest back
            postings.append(tx.deposit_released(
                f"deposit:{d['deposit_id']}:excess-released", lot_id=str(d["procedure_id"]),
                bidder_id=d["buyer_id"], amount_fen=held - d["deposit_fen"]))
        await store.settle_deposit(conn, d["deposit_id"], "applied", now)
        out.events.append(DepositApplied(
            deposit_id=d["deposit_id"], procedure_id=d["procedure_id"], bidder_id=d["buyer_id"],
            amount_fen=d["deposit_fen"], region=d["region"], deal_id=deal_id, applied_at=now))
    share = (await store.inventor_share(conn, d["seller_id"])
             or books.default_inventor_share)
    split = split_net(d["price_fen"], d["seller_fee_fen"], Decimal(share))
    if split.inventor_fen:
        postings.append(tx.split_to_inventors(f"{key}:split", seller_id=d["seller_id"],
                                              amount_fen=split.inventor_fen))
    for kind, account, fen in (("seller", seller(d["seller_id"]), split.institution_fen),
                               ("inventor_team", inventor_team(d["seller_id"]),
                                split.inventor_fen)):
        if fen:
            postings.append(tx.payout(f"{key}:payout:{kind}", to=account, amount_fen=fen))
            out.events.append(PayoutMade(deal_id=deal_id, region=d["region"], account=account.id,
                                         recipient=kind, amount_fen=fen,
                                         inventor_share=str(split.inventor_share), paid_at=now))
    await ledger_store.post(conn, postings, now, deal_id)
    await store.close_deal(conn, deal_id, "completed", now)
    await cancel(conn, OVERDUE, str(deal_id))
    await cancel(conn, DEFAULT, str(deal_id))
    received = d["price_fen"]  # 实际到账金额: the price, received in full (deposit included)
    out.events.append(SettlementCompleted(
        deal_id=deal_id, listing_id=d["listing_id"], region=d["region"], received_fen=received,
        completed_at=now, procedure_id=d["procedure_id"], route=d["route"],
        seller_id=d["seller_id"], buyer_id=d["buyer_id"], price_fen=d["price_fen"],
        concluded_at=d["concluded_at"]))
    out.settled.append((province_of(d["region"]), received))
    out.extend(await assess_subsidies(conn, books, d, received))
    return out


async def assess_subsidies(conn: asyncpg.Connection, books: Books, d: asyncpg.Record,
                           received_fen: int) -> Outcome:
    """Evaluate the province's policy for the buyer, then the seller, of a completed deal.

    The project is the listing; the year is the completion's (Shanghai calendar). With "one
    side per project per year", the first side granted — of this deal or an earlier one of the
    same listing — blocks the other.
    """
    now = books.clock.now()
    year = now.astimezone(SHANGHAI).year
    policy = books.policy_for(d["region"], year)
    if policy is None:
        return Outcome()
    project = str(d["listing_id"])
    earlier = [Assessment(r["policy_id"], r["project_id"], r["year"], Side(r["side"]),
                          r["received_fen"], r["amount_fen"], r["commissioner_share_fen"],
                          tuple(json.loads(r["reasons"])))
               for r in await store.assessments_of(conn, policy.policy_id, project, year)]
    out = Outcome()
    for side, recipient in ((Side.BUYER, d["buyer_id"]), (Side.SELLER, d["seller_id"])):
        a = assess(policy, received_fen, side, project, year, earlier,
                   seller_in_province=d["region"][:2] == policy.region_code[:2])
        assessment_id = uuid.uuid5(d["deal_id"], f"subsidy:{side.value}")
        fresh = await store.insert_assessment(
            conn, assessment_id=assessment_id, deal_id=d["deal_id"], policy_id=policy.policy_id,
            project_id=project, year=year, side=side.value, recipient_id=recipient,
            region=d["region"], received_fen=received_fen, amount_fen=a.amount_fen,
            commissioner_share_fen=a.commissioner_share_fen, reasons=json.dumps(list(a.reasons)),
            assessed_at=now)
        if not fresh:
            continue
        earlier.append(a)
        if a.granted:
            await ledger_store.post(conn, [tx.subsidy_assessed(
                f"subsidy:{assessment_id}", policy_id=policy.policy_id, recipient_id=recipient,
                amount_fen=a.amount_fen)], now, d["deal_id"])
            out.subsidies.append((province_of(d["region"]), a.amount_fen))
        out.events.append(SubsidyAssessed(
            assessment_id=assessment_id, deal_id=d["deal_id"], policy_id=policy.policy_id,
            project_id=project, year=year, side=side.value, recipient_id=recipient,
            region=d["region"], received_fen=received_fen, amount_fen=a.amount_fen,
            commissioner_share_fen=a.commissioner_share_fen, reasons=list(a.reasons),
            assessed_at=now))
    return out
