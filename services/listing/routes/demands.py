"""Technology demands: enterprises post, providers answer the open call (揭榜), the enterprise
picks one; and buyers' saved interests for 精准推送."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.listing import handlers, repository
from services.listing.routes._commands import run_command
from services.listing.schemas import (
    AwardIn,
    DemandIn,
    DemandOut,
    InterestIn,
    InterestOut,
    ProposalIn,
    ProposalOut,
)
from shared.auth import Principal, Role, authorize_region, require
from shared.idempotency import IdempotencyKey
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.service import runtime_of

router = APIRouter(tags=["demands"], responses=PROBLEM_RESPONSES)

Enterprise = Annotated[Principal, Depends(require(Role.BUYER))]
Provider = Annotated[Principal, Depends(require(Role.SELLER))]
Anyone = Annotated[Principal, Depends(require(*Role))]


class Created(BaseModel):
    id: uuid.UUID


async def _demand_region(request: Request, demand_id: uuid.UUID) -> str:
    d = await repository.get_demand(runtime_of(request).pool, demand_id)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    return d.region


@router.post("/demands", status_code=201, response_model=DemandOut)
async def post_demand(body: DemandIn, request: Request, enterprise: Enterprise,
                      key: IdempotencyKey = None) -> Response:
    """Post a technology demand with an open call for solutions."""
    clock = runtime_of(request).clock

    async def command(uow):
        return DemandOut.of(await handlers.post_demand(
            uow, enterprise, region=body.region, title=body.title,
            description=body.description, field=body.field, keywords=tuple(body.keywords),
            mode=body.mode, budget_fen=body.budget_fen, min_trl=body.min_trl,
            deadline=body.deadline, now=clock.now()))

    return await run_command(request, enterprise, name="post-demand", region=body.region,
                             key=key, command=command, status=201)


@router.get("/demands/{demand_id}", response_model=DemandOut)
async def get_demand(demand_id: uuid.UUID, request: Request, _: Anyone) -> DemandOut:
    d = await repository.get_demand(runtime_of(request).pool, demand_id)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    return DemandOut.of(d)


@router.post("/demands/{demand_id}/proposals", status_code=201, response_model=Created)
async def propose(demand_id: uuid.UUID, body: ProposalIn, request: Request,
                  provider: Provider, key: IdempotencyKey = None) -> Response:
    """Answer the demand's open call (揭榜) with a proposal, optionally naming a listing."""
    clock = runtime_of(request).clock
    region = await _demand_region(request, demand_id)

    async def command(uow):
        return Created(id=await handlers.submit_proposal(
            uow, provider, demand_id, listing_id=body.listing_id, price_fen=body.price_fen,
            summary=body.summary, now=clock.now()))

    return await run_command(request, provider, name="propose", region=region, key=key,
                             command=command,
                             status=201)


@router.get("/demands/{demand_id}/proposals", response_model=list[ProposalOut])
async def proposals(demand_id: uuid.UUID, request: Request, principal: Anyone) -> list[dict]:
    """The proposals, for the enterprise that posted the demand and operators of its region."""
    d = await repository.get_demand(runtime_of(request).pool, demand_id)
    if d is None:
        raise not_found(f"No demand {demand_id}.")
    if principal.subject != d.enterprise_id:
        authorize_region(principal, d.region)
        if principal.role not in (Role.OPERATOR, Role.REGULATOR, Role.ADMIN):
            raise not_found(f"No demand {demand_id}.")
    rows = await repository.proposals_of(runtime_of(request).pool, demand_id)
    return [{**dict(r), "id": str(r["id"]),
             "listing_id": str(r["listing_id"]) if r["listing_id"] else None,
             "created_at": r["created_at"].isoformat()} for r in rows]


@router.post("/demands/{demand_id}/award", response_model=DemandOut)
async def award(demand_id: uuid.UUID, body: AwardIn, request: Request,
                enterprise: Enterprise, key: IdempotencyKey = None) -> Response:
    """Pick the winning proposal (揭榜成功)."""
    clock = runtime_of(request).clock
    region = await _demand_region(request, demand_id)

    async def command(uow):
        return DemandOut.of(await handlers.award_demand(
            uow, enterprise, demand_id, body.proposal_id, clock.now()))

    return await run_command(request, enterprise, name="award", region=region, key=key,
                             command=command)


@router.post("/demands/{demand_id}/close", response_model=DemandOut)
async def close(demand_id: uuid.UUID, request: Request, enterprise: Enterprise,
                key: IdempotencyKey = None) -> Response:
    """Withdraw the demand without an award."""
    clock = runtime_of(request).clock
    region = await _demand_region(request, demand_id)

    async def command(uow):
        return DemandOut.of(await handlers.close_demand(uow, enterprise, demand_id,
                                                        clock.now()))

    return await run_command(request, enterprise, name="close", region=region, key=key,
                             command=command)


@router.post("/interests", status_code=201, response_model=Created, tags=["interests"])
async def save_interest(body: InterestIn, request: Request, buyer: Enterprise,
                        key: IdempotencyKey = None) -> Response:
    """Save an interest: each newly published listing of the province that matches it is
    announced by a ``cn.techex.listing.interest_matched.v1`` event (精准推送)."""
    clock = runtime_of(request).clock

    async def command(uow):
        return Created(id=await handlers.save_interest(
            uow, buyer, query=body.query, field=body.field.value if body.field else None,
            min_trl=body.min_trl, max_price_fen=body.max_price_fen, now=clock.now()))

    return await run_command(request, buyer, name="interest", region=buyer.region.code,
                             key=key, command=command, status=201)


@router.get("/interests", tags=["interests"], response_model=list[InterestOut])
async def my_interests(request: Request, buyer: Enterprise) -> list[dict]:
    rows = await repository.buyer_interests(runtime_of(request).pool, buyer.subject)
    return [{**dict(r), "id": str(r["id"]), "created_at": r["created_at"].isoformat()}
            for r in rows]
