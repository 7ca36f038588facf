"""The settlement's steps over the database: each runs in the caller's transaction, loads what
it needs, calls the domain (:class:`~services.settlement.domain.deal.Deal` for a deal), saves
the result with its ledger postings and answers the events to publish with it.

HTTP commands, bank callbacks, event handlers and deadline handlers all go through these, so a
step behaves the same whoever triggers it. Every step is idempotent by a natural key (the
deposit of a bidder for a procedure, the deal id, entry ids derived from them).

The money flow of a deal is described in ``domain/deal.py`` (and the postings in
``domain/transactions.py``); deposits are held and released here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from services.settlement import ledger_store, store
from services.settlement import metrics as m
from services.settlement.books import Books
from services.settlement.domain import transactions as tx
from services.settlement.domain.deal import (
    Deal,
    DealStatus,
    DepositStatus,
    Step,
    Watch,
    subsidy_year,
)
from services.settlement.domain.errors import DepositMismatch
from services.settlement.problems import UnknownDeal, UnknownRegistration
from shared.events import Event
from shared.events.auction import DealConcluded
from shared.events.settlement import (
    DepositConfirmed,
    DepositReleased,
    PaymentReceived,
    SettlementCompleted,
    SubsidyAssessed,
)
from shared.scheduler import cancel, schedule

RELEASE = "settlement.deposit-release"
OVERDUE = "settlement.payment-overdue"
DEFAULT = "settlement.default"
_KIND = {Watch.OVERDUE: OVERDUE, Watch.DEFAULT: DEFAULT}


@dataclass
class Outcome:
    """What a step did: the events to publish (the business counters follow from them once
    it commits) and, for a receipt, the answer."""

    events: list[Event] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Outcome) -> None:
        self.events += other.events

    def count(self) -> None:
        for e in self.events:
            if isinstance(e, SettlementCompleted):
                m.SETTLED.labels(province_of(e.region)).inc(e.received_fen)
            elif isinstance(e, SubsidyAssessed) and e.amount_fen:
                m.SUBSIDIES.labels(province_of(e.region)).inc(e.amount_fen)


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
                           reason: Literal["not-the-winner", "procedure-failed"]) -> Outcome:
    """Give back every held deposit of the procedure no deal counts on."""
    now = books.clock.now()
    out = Outcome()
    for d in await store.held_unattached(conn, procedure_id):
        await ledger_store.post(conn, [tx.deposit_released(
            f"deposit:{d['deposit_id']}:released", lot_id=str(procedure_id),
            bidder_id=d["bidder_id"], amount_fen=d["amount_fen"])], now)
        await store.settle_deposit(conn, d["deposit_id"], DepositStatus.RELEASED.value, now)
        out.events.append(DepositReleased(
            deposit_id=d["deposit_id"], procedure_id=procedure_id, bidder_id=d["bidder_id"],
            amount_fen=d["amount_fen"], region=d["region"], reason=reason, released_at=now))
    return out


# -- a deal: load, call the domain, save -----------------------------------------------------------
async def _load(conn: asyncpg.Connection, deal_id: uuid.UUID) -> Deal:
    deal = await store.load_deal(conn, deal_id)
    if deal is None:
        raise UnknownDeal(f"No deal {deal_id} is being settled.")
    return deal


async def _save(conn: asyncpg.Connection, before: Deal | None, step: Step, at: datetime
                ) -> Outcome:
    """Write what ``step`` changed (``before`` None: the deal was just inserted), post its
    entries, set or cancel its deadlines; the outcome holds its events."""
    deal = step.deal
    if deal != before:
        await store.save_deal(conn, deal)
    if deal.deposit is not None and deal.deposit != (before.deposit if before else None):
        await store.save_deposit(conn, deal.deposit)
    if before is None or deal.schedule != before.schedule:
        await store.replace_instalments(conn, deal.deal_id, deal.schedule)
    for e in step.events:  # the append-only records a step announces
        if isinstance(e, PaymentReceived):
            await store.insert_payment(conn, e)
        elif isinstance(e, SubsidyAssessed):
            await store.insert_assessment(conn, e)
    if step.postings:
        await ledger_store.post(conn, step.postings, at, deal.deal_id)
    for t in step.timers:
        if t.at is None:
            await cancel(conn, _KIND[t.watch], str(deal.deal_id))
        else:
            await schedule(conn, _KIND[t.watch], str(deal.deal_id), t.at)
    return Outcome(list(step.events))


# -- opening a deal ------------------------------------------------------------------------------
async def open_deal(conn: asyncpg.Connection, books: Books, e: DealConcluded) -> Outcome:
    """Open the settlement of a concluded deal; a deal already open is left as it is."""
    now = books.clock.now()
    winner = await store.winner_deposit(conn, e.procedure_id, e.buyer_id)
    step = Deal.open(e, fees=books.fees, winner_deposit=winner, payment_due=books.payment_due,
                     at=now)
    if not await store.insert_deal(conn, step.deal):
        return Outcome()
    out = await _save(conn, None, step, now)
    if await store.held_unattached(conn, e.procedure_id):
        await schedule(conn, RELEASE, str(e.procedure_id), e.concluded_at + books.release_after)
    if step.deal.paid_in_full:
        out.extend(await _complete(conn, books, step.deal))
    return out


# -- the schedule and receipts -------------------------------------------------------------------
async def set_schedule(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID,
                       plan: list[tuple[datetime, int]], by: str) -> Outcome:
    """Replace the schedule: instalments in due-date order adding up to what is outstanding."""
    deal = await _load(conn, deal_id)
    now = books.clock.now()
    return await _save(conn, deal, deal.set_schedule(plan, by=by, at=now), now)


async def record_payment(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID,
                         amount_fen: int, source: Literal["operator", "bank"],
                         reference: str | None) -> Outcome:
    """A receipt toward the deal; completes the settlement when nothing is outstanding."""
    deal = await _load(conn, deal_id)
    now = books.clock.now()
    payment_id = uuid.uuid5(deal_id, f"bank:{reference}") if source == "bank" else uuid.uuid4()
    step = deal.receive(amount_fen, payment_id=payment_id, source=source, reference=reference,
                        at=now)
    out = await _save(conn, deal, step, now)
    paid = step.deal
    if paid.paid_in_full:
        out.extend(await _complete(conn, books, paid))
    out.body = {"payment_id": str(payment_id), "deal_id": str(deal_id), "amount_fen": amount_fen,
                "paid_fen": paid.paid_fen, "outstanding_fen": paid.outstanding_fen,
                "status": (DealStatus.COMPLETED if paid.paid_in_full else DealStatus.OPEN).value}
    return out


# -- deadlines ----------------------------------------------------------------------------------
async def check_overdue(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID) -> Outcome:
    """At a due date: if what was due is not received, the payment is overdue and the deal
    defaults after the grace period."""
    deal = await store.load_deal(conn, deal_id)
    if deal is None:
        return Outcome()
    now = books.clock.now()
    return await _save(conn, deal, deal.check_payment(now, grace=books.grace), now)


async def check_default(conn: asyncpg.Connection, books: Books, deal_id: uuid.UUID) -> Outcome:
    """After the grace: a deal still short of an instalment due defaults."""
    deal = await store.load_deal(conn, deal_id)
    if deal is None:
        return Outcome()
    now = books.clock.now()
    step = deal.check_default(now, grace=books.grace, forfeit_to=books.forfeit_to)
    return await _save(conn, deal, step, now)


# -- completion and subsidies ----------------------------------------------------------------------
async def _complete(conn: asyncpg.Connection, books: Books, deal: Deal) -> Outcome:
    """Complete a deal paid in full, assessing the subsidy policy of its province for the
    year of the completion (Shanghai calendar), if there is one."""
    now = books.clock.now()
    share = await store.inventor_share(conn, deal.seller_id) or books.default_inventor_share
    year = subsidy_year(now)
    policy = books.policy_for(deal.region, year)
    earlier = (await store.assessments_of(conn, policy.policy_id, str(deal.listing_id), year)
               if policy is not None else [])
    step = deal.complete(now, inventor_share=Decimal(share), policy=policy, earlier=earlier)
    return await _save(conn, deal, step, now)
