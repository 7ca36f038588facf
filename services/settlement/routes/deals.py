"""``/deals/{deal_id}``: a deal's settlement, its payment schedule and its receipts."""

from __future__ import annotations

import uuid

import asyncpg
from fastapi import APIRouter, Request, Response

from services.settlement import handlers
from services.settlement.domain.errors import UnknownDeal
from services.settlement.routes import TheBooks, Viewer, oversees
from services.settlement.schemas import DealOut, PaymentIn, ReceiptOut, ScheduleIn
from services.settlement.store import Db, deals
from shared.auth import authorize_region
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, forbidden
from shared.roles import Operator
from shared.service import runtime_of

router = APIRouter(tags=["settlement"], responses=PROBLEM_RESPONSES)


async def _view(db: Db, d: asyncpg.Record) -> DealOut:
    return DealOut.of(d, await deals.instalments(db, d["deal_id"]),
                      await deals.payments(db, d["deal_id"]))


@router.get("/deals/{deal_id}", response_model=DealOut)
async def get_deal(deal_id: uuid.UUID, request: Request, principal: Viewer) -> DealOut:
    """The deal's settlement: fees, deposit, schedule, receipts and what is outstanding."""
    db = runtime_of(request).pool
    d = await deals.row(db, deal_id)
    if d is None:
        raise UnknownDeal(f"No deal {deal_id} is being settled.")
    if oversees(principal):
        authorize_region(principal, d["region"])
    elif principal.subject not in (d["buyer_id"], d["seller_id"]):
        raise forbidden("Only the deal's parties and its region's operators see it.")
    return await _view(db, d)


@router.put("/deals/{deal_id}/schedule", response_model=DealOut)
async def set_schedule(deal_id: uuid.UUID, body: ScheduleIn, request: Request,
                       operator: Operator, key: IdempotencyKey = None) -> Response:
    """Set instalments (before the first receipt); they must add up to what is outstanding."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        await handlers.set_schedule(
            tx, deal_id, [(i.due_at, i.amount_fen) for i in body.instalments], by=operator)
        return tx.answer(200, await _view(tx.conn, await deals.row(tx.conn, deal_id)))


@router.post("/deals/{deal_id}/payments", status_code=201, response_model=ReceiptOut)
async def record_payment(deal_id: uuid.UUID, body: PaymentIn, request: Request,
                         operator: Operator, books: TheBooks,
                         key: IdempotencyKey = None) -> Response:
    """Record a receipt toward the deal (an operator's entry; use ``Idempotency-Key``)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        receipt = await handlers.record_payment(
            tx, deal_id, body.amount_fen, source="operator", reference=body.reference,
            books=books, by=operator)
        return tx.answer(201, receipt)
