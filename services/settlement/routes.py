"""HTTP commands and queries of deposits, deals (schedule, receipts) and sellers' splits.

Operators act in their region subtree; buyers and sellers see their own deposits and deals.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.settlement import settling, store
from services.settlement.books import Books
from services.settlement.domain.errors import InvalidSplit
from services.settlement.problems import UnknownDeal
from services.settlement.schemas import DealOut, DepositOut, ReceiptOut, SplitOut
from shared.auth import Principal, Role, authorize_region, require
from shared.bounds import AwareTimestamp, PositiveFen, Reference, Share, SubjectId
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, forbidden
from shared.service import runtime_of

router = APIRouter(tags=["settlement"], responses=PROBLEM_RESPONSES)

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Viewer = Annotated[Principal, Depends(require(Role.OPERATOR, Role.REGULATOR, Role.BUYER,
                                              Role.SELLER))]
SellerId = Annotated[SubjectId, Path()]


def books_of(request: Request) -> Books:
    return runtime_of(request).part(Books)


def _oversees(p: Principal) -> bool:
    return p.role in (Role.OPERATOR, Role.REGULATOR, Role.ADMIN)


# -- deposits ------------------------------------------------------------------------------------
class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_id: uuid.UUID
    bidder_id: SubjectId
    amount_fen: PositiveFen
    bank_reference: Reference | None = None


@router.post("/deposits", status_code=201, response_model=DepositOut,
             responses={200: {"model": DepositOut, "description": "already confirmed"}})
async def confirm_deposit(body: DepositIn, request: Request, operator: Operator,
                          key: IdempotencyKey = None) -> Response:
    """Record a bidder's deposit as paid (保证金到账); the bidder qualifies. Confirming the
    same deposit again answers 200 with ``already_confirmed`` and posts nothing."""
    runtime = runtime_of(request)
    reg = await store.registration(runtime.pool, body.procedure_id, body.bidder_id)
    if reg is not None:
        authorize_region(operator, reg["region"])
    # An unknown registration is refused inside, before anything is written.
    async with runtime.unit_of_work(reg["region"] if reg else "000000",
                                    await Once.of_request(request, operator, key)) as uow:
        row, fresh, out = await settling.confirm_deposit(
            uow.conn, books_of(request), body.procedure_id, body.bidder_id, body.amount_fen,
            body.bank_reference)
        uow.publish(*out.events)
        return uow.answer(201 if fresh else 200, DepositOut.of(row, already_confirmed=not fresh))


@router.get("/deposits", response_model=list[DepositOut])
async def list_deposits(request: Request, principal: Viewer,
                        procedure_id: Annotated[uuid.UUID, Query()]) -> list[DepositOut]:
    """The deposits of a procedure: all of them for operators and regulators of its region,
    one's own for a bidder."""
    own = None if _oversees(principal) else principal.subject
    rows = await store.deposits_for(runtime_of(request).pool, procedure_id, own)
    for row in rows:
        if own is None:
            authorize_region(principal, row["region"])
    return [DepositOut.of(r) for r in rows]


# -- deals -----------------------------------------------------------------------------------------
async def _visible_deal(request: Request, principal: Principal, deal_id: uuid.UUID
                        ) -> asyncpg.Record:
    d = await store.deal(runtime_of(request).pool, deal_id)
    if d is None:
        raise UnknownDeal(f"No deal {deal_id} is being settled.")
    if _oversees(principal):
        authorize_region(principal, d["region"])
    elif principal.subject not in (d["buyer_id"], d["seller_id"]):
        raise forbidden("Only the deal's parties and its region's operators see it.")
    return d


async def _deal_view(db: asyncpg.Pool | asyncpg.Connection, d: asyncpg.Record) -> DealOut:
    return DealOut.of(d, await store.instalments(db, d["deal_id"]),
                      await store.payments(db, d["deal_id"]))


@router.get("/deals/{deal_id}", response_model=DealOut)
async def get_deal(deal_id: uuid.UUID, request: Request, principal: Viewer) -> DealOut:
    """The deal's settlement: fees, deposit, schedule, receipts and what is outstanding."""
    d = await _visible_deal(request, principal, deal_id)
    return await _deal_view(runtime_of(request).pool, d)


class InstalmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: AwareTimestamp
    amount_fen: PositiveFen


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instalments: list[InstalmentIn] = Field(min_length=1, max_length=60)


async def _operated_deal(request: Request, operator: Principal, deal_id: uuid.UUID
                         ) -> asyncpg.Record:
    d = await store.deal(runtime_of(request).pool, deal_id)
    if d is None:
        raise UnknownDeal(f"No deal {deal_id} is being settled.")
    authorize_region(operator, d["region"])
    return d


@router.put("/deals/{deal_id}/schedule", response_model=DealOut)
async def set_schedule(deal_id: uuid.UUID, body: ScheduleIn, request: Request,
                       operator: Operator, key: IdempotencyKey = None) -> Response:
    """Set instalments (before the first receipt); they must add up to what is outstanding."""
    d = await _operated_deal(request, operator, deal_id)
    async with runtime_of(request).unit_of_work(
            d["region"], await Once.of_request(request, operator, key)) as uow:
        out = await settling.set_schedule(
            uow.conn, books_of(request), deal_id,
            [(i.due_at, i.amount_fen) for i in body.instalments], operator.subject)
        uow.publish(*out.events)
        return uow.answer(200, await _deal_view(uow.conn, await store.deal(uow.conn, deal_id)))


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: PositiveFen
    reference: Reference | None = None


@router.post("/deals/{deal_id}/payments", status_code=201, response_model=ReceiptOut)
async def record_payment(deal_id: uuid.UUID, body: PaymentIn, request: Request,
                         operator: Operator, key: IdempotencyKey = None) -> Response:
    """Record a receipt toward the deal (an operator's entry; use ``Idempotency-Key``)."""
    d = await _operated_deal(request, operator, deal_id)
    runtime = runtime_of(request)
    async with runtime.unit_of_work(d["region"],
                                    await Once.of_request(request, operator, key)) as uow:
        out = await settling.record_payment(uow.conn, books_of(request), deal_id,
                                            body.amount_fen, "operator", body.reference)
        uow.publish(*out.events)
        answer = uow.answer(201, out.body)
    out.count()
    return answer


# -- sellers' income split -------------------------------------------------------------------------
class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inventor_share: Annotated[Share, Field(description="the inventor team's share of the net")]


@router.put("/sellers/{seller_id}/split", response_model=SplitOut)
async def set_split(seller_id: SellerId, body: SplitIn, request: Request, operator: Operator,
                    key: IdempotencyKey = None) -> Response:
    """Configure a seller's income split; never below the exchange's floor (default 70 %)."""
    books = books_of(request)
    if body.inventor_share < books.min_inventor_share:
        raise InvalidSplit(
            f"The inventor share may not be below {books.min_inventor_share}.",
            errors=[{"field": "body.inventor_share",
                     "message": f"at least {books.min_inventor_share}"}])
    runtime = runtime_of(request)
    async with runtime.unit_of_work(str(operator.region),
                                    await Once.of_request(request, operator, key)) as uow:
        await store.set_inventor_share(uow.conn, seller_id, body.inventor_share,
                                       operator.subject, runtime.clock.now())
        return uow.answer(200, SplitOut(seller_id=seller_id,
                                        inventor_share=str(body.inventor_share)))


@router.get("/sellers/{seller_id}/split", response_model=SplitOut)
async def get_split(seller_id: SellerId, request: Request, principal: Viewer) -> SplitOut:
    if not _oversees(principal) and principal.subject != seller_id:
        raise forbidden("A seller sees its own split only.")
    share = await store.inventor_share(runtime_of(request).pool, seller_id)
    return SplitOut(seller_id=seller_id,
                    inventor_share=str(share if share is not None
                                       else books_of(request).default_inventor_share),
                    configured=share is not None)
