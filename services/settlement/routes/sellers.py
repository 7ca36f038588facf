"""``/sellers/{seller_id}/split``: a seller's income split between institution and inventors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.settlement import handlers
from services.settlement.routes import TheBooks, Viewer, oversees
from services.settlement.schemas import SplitIn, SplitOut
from services.settlement.store import sellers
from shared.bounds import SubjectId
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, forbidden
from shared.roles import Operator
from shared.service import runtime_of

router = APIRouter(tags=["settlement"], responses=PROBLEM_RESPONSES)

SellerId = Annotated[SubjectId, Path()]


@router.put("/sellers/{seller_id}/split", response_model=SplitOut)
async def set_split(seller_id: SellerId, body: SplitIn, request: Request, operator: Operator,
                    books: TheBooks, key: IdempotencyKey = None) -> Response:
    """Configure a seller's income split; never below the exchange's floor (default 70 %)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        await handlers.set_split(tx, seller_id, body.inventor_share, books=books, by=operator)
        return tx.answer(200, SplitOut(seller_id=seller_id,
                                       inventor_share=str(body.inventor_share)))


@router.get("/sellers/{seller_id}/split", response_model=SplitOut)
async def get_split(seller_id: SellerId, request: Request, principal: Viewer,
                    books: TheBooks) -> SplitOut:
    if not oversees(principal) and principal.subject != seller_id:
        raise forbidden("A seller sees its own split only.")
    share = await sellers.inventor_share(runtime_of(request).pool, seller_id)
    return SplitOut(seller_id=seller_id,
                    inventor_share=str(share if share is not None
                                       else books.default_inventor_share),
                    configured=share is not None)
