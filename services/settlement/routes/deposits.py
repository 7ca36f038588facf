"""``/deposits``: bidders' deposits confirmed by an operator, and listed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.settlement import handlers
from services.settlement.routes import Viewer, oversees
from services.settlement.schemas import DepositIn, DepositOut
from services.settlement.store import deposits
from shared.auth import authorize_region
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Operator
from shared.service import runtime_of

router = APIRouter(tags=["settlement"], responses=PROBLEM_RESPONSES)


@router.post("/deposits", status_code=201, response_model=DepositOut,
             responses={200: {"model": DepositOut, "description": "already confirmed"}})
async def confirm_deposit(body: DepositIn, request: Request, operator: Operator,
                          key: IdempotencyKey = None) -> Response:
    """Record a bidder's deposit as paid (保证金到账); the bidder qualifies. Confirming the
    same deposit again answers 200 with ``already_confirmed`` and posts nothing."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        row, fresh = await handlers.confirm_deposit(
            tx, body.procedure_id, body.bidder_id, body.amount_fen, body.bank_reference,
            by=operator)
        return tx.answer(201 if fresh else 200, DepositOut.of(row, already_confirmed=not fresh))


@router.get("/deposits", response_model=list[DepositOut])
async def list_deposits(request: Request, principal: Viewer,
                        procedure_id: Annotated[uuid.UUID, Query()]) -> list[DepositOut]:
    """The deposits of a procedure: all of them for operators and regulators of its region,
    one's own for a bidder."""
    own = None if oversees(principal) else principal.subject
    rows = await deposits.deposits_for(runtime_of(request).pool, procedure_id, own)
    for row in rows:
        if own is None:
            authorize_region(principal, row["region"])
    return [DepositOut.of(r) for r in rows]
