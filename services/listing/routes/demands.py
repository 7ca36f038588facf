"""Technology demands: enterprises post, providers answer the open call (揭榜), the enterprise
picks one."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.listing import handlers
from services.listing.metrics import count_command
from services.listing.schemas import AwardIn, Created, DemandIn, DemandOut, ProposalIn, ProposalOut
from services.listing.store import demands as store
from shared.auth import Role, authorize_region
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.roles import Anyone, Buyer, Seller
from shared.service import runtime_of

router = APIRouter(tags=["demands"], responses=PROBLEM_RESPONSES)


@router.post("/demands", status_code=201, response_model=DemandOut)
async def post_demand(body: DemandIn, request: Request, enterprise: Buyer,
                      key: IdempotencyKey = None) -> Response:
    """Post a technology demand with an open call for solutions."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, enterprise, key)) as tx:
        d = await handlers.post_demand(
            tx, enterprise, region=body.region, title=body.title,
            description=body.description, field=body.field, keywords=tuple(body.keywords),
            mode=body.mode, budget_fen=body.budget_fen, min_trl=body.min_trl,
            deadline=body.deadline)
        answer = tx.answer(201, DemandOut.of(d))
    count_command("post-demand", d.region)
    return answer


@router.get("/demands/{demand_id}", response_model=DemandOut)
async def get_demand(demand_id: uuid.UUID, request: Request, _: Anyone) -> DemandOut:
    d = await store.get_demand(runtime_of(request).pool, demand_id)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    return DemandOut.of(d)


@router.post("/demands/{demand_id}/proposals", status_code=201, response_model=Created)
async def propose(demand_id: uuid.UUID, body: ProposalIn, request: Request,
                  provider: Seller, key: IdempotencyKey = None) -> Response:
    """Answer the demand's open call (揭榜) with a proposal, optionally naming a listing."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, provider, key)) as tx:
        proposal_id, d = await handlers.submit_proposal(
            tx, provider, demand_id, listing_id=body.listing_id, price_fen=body.price_fen,
            summary=body.summary)
        answer = tx.answer(201, Created(id=proposal_id))
    count_command("propose", d.region)
    return answer


@router.get("/demands/{demand_id}/proposals", response_model=list[ProposalOut])
async def proposals(demand_id: uuid.UUID, request: Request, principal: Anyone) -> list[dict]:
    """The proposals, for the enterprise that posted the demand and operators of its region."""
    d = await store.get_demand(runtime_of(request).pool, demand_id)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    if principal.subject != d.enterprise_id:
        authorize_region(principal, d.region)
        if principal.role not in (Role.OPERATOR, Role.REGULATOR, Role.ADMIN):
            raise not_found(f"No demand {demand_id}.")
    rows = await store.proposals_of(runtime_of(request).pool, demand_id)
    return [{**dict(r), "id": str(r["id"]),
             "listing_id": str(r["listing_id"]) if r["listing_id"] else None,
             "created_at": r["created_at"].isoformat()} for r in rows]


@router.post("/demands/{demand_id}/award", response_model=DemandOut)
async def award(demand_id: uuid.UUID, body: AwardIn, request: Request,
                enterprise: Buyer, key: IdempotencyKey = None) -> Response:
    """Pick the winning proposal (揭榜成功)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, enterprise, key)) as tx:
        d = await handlers.award_demand(tx, enterprise, demand_id, body.proposal_id)
        answer = tx.answer(200, DemandOut.of(d))
    count_command("award", d.region)
    return answer


@router.post("/demands/{demand_id}/close", response_model=DemandOut)
async def close(demand_id: uuid.UUID, request: Request, enterprise: Buyer,
                key: IdempotencyKey = None) -> Response:
    """Withdraw the demand without an award."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, enterprise, key)) as tx:
        d = await handlers.close_demand(tx, enterprise, demand_id)
        answer = tx.answer(200, DemandOut.of(d))
    count_command("close", d.region)
    return answer
