"""Every command, event reaction and deadline of the settlement service.

Each runs in the transaction context it is given (first argument): it loads what it needs
(``store``), calls the domain (:class:`~services.settlement.domain.deal.Deal` for a deal), saves
the result with its ledger postings and deadlines, and publishes the events with
``tx.publish``; whoever opened the transaction writes them to the outbox as it commits.

HTTP commands, bank callbacks, consumed events and fired deadlines all go through these, so a
step behaves the same whoever triggers it. Every step is idempotent by a natural key (the
deposit of a bidder for a procedure, the deal id, entry ids derived from them, the bank
reference). A command acting for an operator authorises the operator against the region of
what it loaded, inside the transaction.

The money flow of a deal is described in ``domain/deal.py`` (and the postings in
``domain/transactions.py``); deposits are held and released here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from services.settlement import metrics
from services.settlement.domain import transactions as postings
from services.settlement.domain.books import Books
from services.settlement.domain.deal import (
    Deal,
    DealStatus,
    DepositStatus,
    Step,
    Watch,
    deposit_id_for,
    require_owed,
    subsidy_year,
)
from services.settlement.domain.errors import UnknownDeal, UnknownRegistration
from services.settlement.domain.split import require_floor
from services.settlement.schemas import DepositCallback, DepositOut, PaymentCallback
from services.settlement.store import bank, deals, deposits, ledger, sellers
from shared.auth import Principal, authorize_region
from shared.context import Tx
from shared.events.auction import AuctionFailed, BidderRegistered, DealConcluded
from shared.events.settlement import (
    DepositConfirmed,
    DepositReleased,
    PaymentReceived,
    SubsidyAssessed,
)
from shared.scheduler import Deadline, cancel, schedule

RELEASE = "settlement.deposit-release"
"""Deadline: the losers' deposits of a procedure are released (keyed by procedure id)."""
OVERDUE = "settlement.payment-overdue"
"""Deadline: an instalment of a deal is due (keyed by deal id)."""
DEFAULT = "settlement.default"
"""Deadline: the grace after a missed instalment is over (keyed by deal id)."""
_KIND = {Watch.OVERDUE: OVERDUE, Watch.DEFAULT: DEFAULT}


# -- events ----------------------------------------------------------------------------------------
async def on_bidder_registered(tx: Tx, event: BidderRegistered) -> None:
    """What the bidder owes; the first registration stands."""
    await deposits.record_registration(tx.conn, event)


async def on_deal_concluded(tx: Tx, event: DealConcluded, books: Books) -> None:
    """Open the settlement of a concluded deal; a deal already open is left as it is."""
    conn, now = tx.conn, tx.now()
    winner = await deals.winner_deposit(conn, event.procedure_id, event.buyer_id)
    step = Deal.open(event, fees=books.fees_for(event.region, event.route),
                     winner_deposit=winner, payment_due=books.payment_due, at=now)
    if not await deals.insert(conn, step.deal):
        return
    await _save(tx, None, step, now)
    if await deposits.held_unattached(conn, event.procedure_id):
        await schedule(conn, RELEASE, str(event.procedure_id),
                       event.concluded_at + books.release_after)
    if step.deal.paid_in_full:
        await _complete(tx, books, step.deal)


async def on_auction_failed(tx: Tx, event: AuctionFailed) -> None:
    """No deal: every held deposit of the procedure goes back."""
    await _release_deposits(tx, event.procedure_id, "procedure-failed")


# -- deadlines -----------------------------------------------------------------------------------
async def on_release_due(tx: Tx, deadline: Deadline) -> None:
    """A day after the deal: the deposits no deal counts on (the losers') go back."""
    await _release_deposits(tx, uuid.UUID(deadline.key), "not-the-winner")


async def on_payment_due(tx: Tx, deadline: Deadline, books: Books) -> None:
    """At a due date: if what was due is not received, the payment is overdue and the deal
    defaults after the grace period. A deal gone meanwhile has nothing to check."""
    deal = await deals.load(tx.conn, uuid.UUID(deadline.key))
    if deal is not None:
        now = tx.now()
        await _save(tx, deal, deal.check_payment(now, grace=books.grace), now)


async def on_grace_over(tx: Tx, deadline: Deadline, books: Books) -> None:
    """After the grace: a deal still short of an instalment due defaults."""
    deal = await deals.load(tx.conn, uuid.UUID(deadline.key))
    if deal is not None:
        now = tx.now()
        await _save(tx, deal, deal.check_default(now, grace=books.grace,
                                                 forfeit_to=books.forfeit_to), now)


# -- deposits ------------------------------------------------------------------------------------
async def confirm_deposit(tx: Tx, procedure_id: uuid.UUID, bidder_id: str, amount_fen: int,
                          reference: str | None, *, by: Principal | None = None
                          ) -> tuple[asyncpg.Record, bool]:
    """Hold the bidder's deposit: ``(deposit, newly confirmed?)``. Confirming a deposit already
    held answers it again and posts nothing. ``by``: the operator, authorised for the
    registration's region (None: the bank)."""
    conn = tx.conn
    reg = await deposits.registration(conn, procedure_id, bidder_id)
    if reg is None:
        raise UnknownRegistration(
            f"Bidder {bidder_id!r} is not registered for procedure {procedure_id}.",
            errors=[{"field": "body.bidder_id", "message": "no such registration"}])
    if by is not None:
        authorize_region(by, reg["region"])
    require_owed(bidder_id, reg["deposit_fen"], amount_fen)
    now = tx.now()
    deposit_id = deposit_id_for(procedure_id, bidder_id)
    row = await deposits.insert_deposit(conn, deposit_id, reg, reference, now)
    if row is None:
        return await deposits.deposit_of(conn, procedure_id, bidder_id), False
    await ledger.post(conn, [postings.deposit_received(
        f"deposit:{deposit_id}:received", lot_id=str(procedure_id), bidder_id=bidder_id,
        amount_fen=amount_fen)], now)
    tx.publish(DepositConfirmed(
        deposit_id=deposit_id, procedure_id=procedure_id, bidder_id=bidder_id,
        amount_fen=amount_fen, region=reg["region"], confirmed_at=now))
    return row, True


async def _release_deposits(tx: Tx, procedure_id: uuid.UUID,
                            reason: Literal["not-the-winner", "procedure-failed"]) -> None:
    """Give back every held deposit of the procedure no deal counts on."""
    conn, now = tx.conn, tx.now()
    for d in await deposits.held_unattached(conn, procedure_id):
        await ledger.post(conn, [postings.deposit_released(
            f"deposit:{d['deposit_id']}:released", lot_id=str(procedure_id),
            bidder_id=d["bidder_id"], amount_fen=d["amount_fen"])], now)
        await deposits.settle_deposit(conn, d["deposit_id"], DepositStatus.RELEASED.value, now)
        tx.publish(DepositReleased(
            deposit_id=d["deposit_id"], procedure_id=procedure_id, bidder_id=d["bidder_id"],
            amount_fen=d["amount_fen"], region=d["region"], reason=reason, released_at=now))


# -- a deal's schedule and receipts ----------------------------------------------------------------
async def set_schedule(tx: Tx, deal_id: uuid.UUID, plan: list[tuple[datetime, int]], *,
                       by: Principal) -> None:
    """Replace the schedule: instalments in due-date order adding up to what is outstanding."""
    deal = await _load(tx, deal_id, by)
    now = tx.now()
    await _save(tx, deal, deal.set_schedule(plan, by=by.subject, at=now), now)


async def record_payment(tx: Tx, deal_id: uuid.UUID, amount_fen: int, *,
                         source: Literal["operator", "bank"], reference: str | None,
                         books: Books, by: Principal | None = None) -> dict[str, Any]:
    """A receipt toward the deal; completes the settlement when nothing is outstanding.
    Answers the receipt (``schemas.ReceiptOut``)."""
    deal = await _load(tx, deal_id, by)
    payment_id = uuid.uuid5(deal_id, f"bank:{reference}") if source == "bank" else uuid.uuid4()
    now = tx.now()
    step = deal.receive(amount_fen, payment_id=payment_id, source=source, reference=reference,
                        at=now)
    await _save(tx, deal, step, now)
    paid = step.deal
    if paid.paid_in_full:
        await _complete(tx, books, paid)
    return {"payment_id": str(payment_id), "deal_id": str(deal_id), "amount_fen": amount_fen,
            "paid_fen": paid.paid_fen, "outstanding_fen": paid.outstanding_fen,
            "status": (DealStatus.COMPLETED if paid.paid_in_full else DealStatus.OPEN).value}


# -- sellers' income split -------------------------------------------------------------------------
async def set_split(tx: Tx, seller_id: str, inventor_share: Decimal, *, books: Books,
                    by: Principal) -> None:
    """Configure a seller's income split; never below the exchange's floor."""
    require_floor(inventor_share, books.min_inventor_share)
    await sellers.set_inventor_share(tx.conn, seller_id, inventor_share, by.subject, tx.now())


# -- bank callbacks ------------------------------------------------------------------------------
async def apply_bank_callback(tx: Tx, cb: DepositCallback | PaymentCallback, *, books: Books
                              ) -> dict[str, Any]:
    """Apply a (verified) bank notice once per bank ``reference``: the same reference again is
    answered with the first result and ``duplicate: true``."""
    if not await bank.claim(tx.conn, cb.reference, cb.kind, tx.now()):
        return {"reference": cb.reference, "duplicate": True,
                "result": await bank.result(tx.conn, cb.reference)}
    if isinstance(cb, DepositCallback):
        row, fresh = await confirm_deposit(tx, cb.procedure_id, cb.bidder_id, cb.amount_fen,
                                           cb.reference)
        result = {"kind": "deposit",
                  **DepositOut.of(row, already_confirmed=not fresh).model_dump(mode="json")}
    else:
        result = {"kind": "payment",
                  **await record_payment(tx, cb.deal_id, cb.amount_fen, source="bank",
                                         reference=cb.reference, books=books)}
    await bank.set_result(tx.conn, cb.reference, result)
    return {"reference": cb.reference, "duplicate": False, "result": result}


# -- a deal: load, call the domain, save -----------------------------------------------------------
async def _load(tx: Tx, deal_id: uuid.UUID, by: Principal | None) -> Deal:
    """The deal, locked; ``by`` (an operator) must act in its region."""
    deal = await deals.load(tx.conn, deal_id)
    if deal is None:
        raise UnknownDeal(f"No deal {deal_id} is being settled.")
    if by is not None:
        authorize_region(by, deal.region)
    return deal


async def _save(tx: Tx, before: Deal | None, step: Step, at: datetime) -> None:
    """Write what ``step`` changed (``before`` None: the deal was just inserted), post its
    entries, set or cancel its deadlines, publish (and count) its events."""
    conn, deal = tx.conn, step.deal
    if deal != before:
        await deals.save(conn, deal)
    if deal.deposit is not None and deal.deposit != (before.deposit if before else None):
        await deals.save_deposit(conn, deal.deposit)
    if before is None or deal.schedule != before.schedule:
        await deals.replace_instalments(conn, deal.deal_id, deal.schedule)
    for e in step.events:  # the append-only records a step announces
        if isinstance(e, PaymentReceived):
            await deals.insert_payment(conn, e)
        elif isinstance(e, SubsidyAssessed):
            await deals.insert_assessment(conn, e)
    if step.postings:
        await ledger.post(conn, step.postings, at, deal.deal_id)
    for t in step.timers:
        if t.at is None:
            await cancel(conn, _KIND[t.watch], str(deal.deal_id))
        else:
            await schedule(conn, _KIND[t.watch], str(deal.deal_id), t.at)
    tx.publish(*step.events)
    metrics.count(step.events)


async def _complete(tx: Tx, books: Books, deal: Deal) -> None:
    """Complete a deal paid in full, assessing the subsidy policy of its province for the
    year of the completion (Shanghai calendar), if there is one."""
    now = tx.now()
    share = await sellers.inventor_share(tx.conn, deal.seller_id) or books.default_inventor_share
    year = subsidy_year(now)
    policy = books.policy_for(deal.region, year)
    earlier = (await deals.assessments_of(tx.conn, policy.policy_id, str(deal.listing_id), year)
               if policy is not None else [])
    step = deal.complete(now, inventor_share=Decimal(share), policy=policy, earlier=earlier)
    await _save(tx, deal, step, now)
