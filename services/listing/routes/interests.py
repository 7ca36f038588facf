"""Buyers' saved interests (精准推送): each newly published listing that matches one is
announced to its buyer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.listing import handlers
from services.listing.metrics import count_command
from services.listing.schemas import Created, InterestIn, InterestOut
from services.listing.store import demands as store
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Buyer
from shared.service import runtime_of

router = APIRouter(tags=["interests"], responses=PROBLEM_RESPONSES)


@router.post("/interests", status_code=201, response_model=Created)
async def save_interest(body: InterestIn, request: Request, buyer: Buyer,
                        key: IdempotencyKey = None) -> Response:
    """Save an interest: each newly published listing of the province that matches it is
    announced by a ``cn.techex.listing.interest_matched.v1`` event (精准推送)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, buyer, key)) as tx:
        interest_id = await handlers.save_interest(
            tx, buyer, query=body.query, field=body.field.value if body.field else None,
            min_trl=body.min_trl, max_price_fen=body.max_price_fen)
        answer = tx.answer(201, Created(id=interest_id))
    count_command("interest", buyer.region.code)
    return answer


@router.get("/interests", response_model=list[InterestOut])
async def my_interests(request: Request, buyer: Buyer) -> list[dict]:
    rows = await store.buyer_interests(runtime_of(request).pool, buyer.subject)
    return [{**dict(r), "id": str(r["id"]), "created_at": r["created_at"].isoformat()}
            for r in rows]
