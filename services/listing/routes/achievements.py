"""Achievements: the seller files and edits, the operator of the region reviews."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.listing import handlers, repository
from services.listing.domain.errors import NotEditable
from services.listing.routes._commands import run_command
from services.listing.schemas import AchievementIn, AchievementOut, RejectIn, SecurityReviewIn
from shared.auth import Principal, Role, require
from shared.idempotency import IdempotencyKey
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.service import runtime_of

router = APIRouter(tags=["achievements"], responses=PROBLEM_RESPONSES)

Seller = Annotated[Principal, Depends(require(Role.SELLER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Reviewer = Annotated[Principal, Depends(require(Role.OPERATOR, Role.REGULATOR))]
Anyone = Annotated[Principal, Depends(require(*Role))]


async def _region_of(request: Request, achievement_id: uuid.UUID) -> str:
    a = await repository.get_achievement(runtime_of(request).pool, achievement_id)
    if a is None:
        raise not_found(f"No achievement {achievement_id}.")
    return a.region


def _validity(request: Request) -> timedelta:
    return timedelta(days=runtime_of(request).settings.listing_validity_days)


@router.post("/achievements", status_code=201, response_model=AchievementOut)
async def create(body: AchievementIn, request: Request, seller: Seller,
                 key: IdempotencyKey = None) -> Response:
    """File an achievement as a draft, in the seller's region or one below it."""
    clock = runtime_of(request).clock

    async def command(uow):
        return AchievementOut.of(await handlers.create_achievement(
            uow, seller, region=body.region, details=body.details(), now=clock.now()))

    return await run_command(request, seller, name="create-achievement", region=body.region,
                             key=key, command=command, status=201)


@router.put("/achievements/{achievement_id}", response_model=AchievementOut)
async def edit(achievement_id: uuid.UUID, body: AchievementIn, request: Request,
               seller: Seller, key: IdempotencyKey = None) -> Response:
    """Edit a draft or a rejected listing (a rejected one becomes a draft again)."""
    clock = runtime_of(request).clock
    region = await _region_of(request, achievement_id)

    async def command(uow):
        if body.region != region:
            raise NotEditable(detail="A listing's region cannot change; file a new one.")
        return AchievementOut.of(await handlers.edit_achievement(
            uow, seller, achievement_id, body.details(), clock.now()))

    return await run_command(request, seller, name="edit-achievement", region=region, key=key,
                             command=command)


def _transition(path: str, name: str, role: Role, handler, summary: str) -> None:
    """A command route that only names the listing (submit, withdraw, start review)."""

    @router.post(f"/achievements/{{achievement_id}}/{path}", response_model=AchievementOut,
                 name=name, summary=summary)
    async def transition(achievement_id: uuid.UUID, request: Request,
                         principal: Principal = Depends(require(role)),  # noqa: B008
                         key: IdempotencyKey = None) -> Response:
        clock = runtime_of(request).clock
        region = await _region_of(request, achievement_id)

        async def command(uow):
            return AchievementOut.of(await handler(uow, principal, achievement_id, clock.now()))

        return await run_command(request, principal, name=name, region=region, key=key,
                                 command=command)


_transition("submit", "submit-achievement", Role.SELLER, handlers.submit_achievement,
            "Submit a draft for review by the operator of its region")
_transition("withdraw", "withdraw-achievement", Role.SELLER, handlers.withdraw_achievement,
            "Withdraw the listing (not once a procedure runs on it)")
_transition("review", "start-review", Role.OPERATOR, handlers.start_review,
            "Take a submitted listing into review")


@router.post("/achievements/{achievement_id}/approve", response_model=AchievementOut)
async def approve(achievement_id: uuid.UUID, request: Request, operator: Operator,
                  key: IdempotencyKey = None) -> Response:
    """Publish the listing (an operator of its region or a region above it)."""
    clock = runtime_of(request).clock
    region = await _region_of(request, achievement_id)

    async def command(uow):
        return AchievementOut.of(await handlers.approve_achievement(
            uow, operator, achievement_id, validity=_validity(request), now=clock.now()))

    return await run_command(request, operator, name="approve", region=region, key=key,
                             command=command)


@router.post("/achievements/{achievement_id}/reject", response_model=AchievementOut)
async def reject(achievement_id: uuid.UUID, body: RejectIn, request: Request,
                 operator: Operator, key: IdempotencyKey = None) -> Response:
    """Reject the listing with the reason the seller will see."""
    clock = runtime_of(request).clock
    region = await _region_of(request, achievement_id)

    async def command(uow):
        return AchievementOut.of(await handlers.reject_achievement(
            uow, operator, achievement_id, reason=body.reason, now=clock.now()))

    return await run_command(request, operator, name="reject", region=region, key=key,
                             command=command)


@router.post("/achievements/{achievement_id}/security-review", response_model=AchievementOut)
async def security_review(achievement_id: uuid.UUID, body: SecurityReviewIn, request: Request,
                          reviewer: Reviewer, key: IdempotencyKey = None) -> Response:
    """Record the export-control and security review a cross-border listing needs."""
    clock = runtime_of(request).clock
    region = await _region_of(request, achievement_id)

    async def command(uow):
        return AchievementOut.of(await handlers.record_security_review(
            uow, reviewer, achievement_id, outcome=body.outcome, reference=body.reference,
            now=clock.now()))

    return await run_command(request, reviewer, name="security-review", region=region,
                             key=key, command=command)


@router.get("/achievements/{achievement_id}", response_model=AchievementOut)
async def get(achievement_id: uuid.UUID, request: Request, principal: Anyone
              ) -> AchievementOut:
    """A listing: published ones for everyone; others for their seller and operators above."""
    a = await repository.get_achievement(runtime_of(request).pool, achievement_id)
    visible = a is not None and (
        a.status.value in ("published", "in_transaction", "traded")
        or a.seller_id == principal.subject
        or (principal.role in (Role.OPERATOR, Role.REGULATOR, Role.ADMIN)
            and principal.region.contains(a.region)))
    if not visible:
        raise not_found(f"No achievement {achievement_id}.")
    return AchievementOut.of(a)


@router.get("/my/achievements", response_model=list[AchievementOut])
async def mine(request: Request, seller: Seller,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AchievementOut]:
    """The seller's own listings, newest first."""
    rows = await repository.seller_achievements(runtime_of(request).pool, seller.subject, limit)
    return [AchievementOut.of(a) for a in rows]


@router.get("/review-queue", response_model=list[AchievementOut])
async def review_queue(request: Request, operator: Operator,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100
                       ) -> list[AchievementOut]:
    """Listings awaiting review in the operator's region and below, oldest first."""
    code = operator.region.code
    prefix = code[:2] if code.endswith("0000") else code[:4] if code.endswith("00") else code
    rows = await repository.review_queue(runtime_of(request).pool, prefix, limit)
    return [AchievementOut.of(a) for a in rows]
