"""Achievements: the seller files and edits, the operator of the region reviews."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.listing import handlers
from services.listing.metrics import count_command
from services.listing.schemas import AchievementIn, AchievementOut, RejectIn, SecurityReviewIn
from services.listing.store import achievements as store
from shared.auth import Role
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.roles import Anyone, Operator, Overseer, Seller
from shared.service import runtime_of

router = APIRouter(tags=["achievements"], responses=PROBLEM_RESPONSES)


def _validity(request: Request) -> timedelta:
    return timedelta(days=runtime_of(request).settings.listing_validity_days)


@router.post("/achievements", status_code=201, response_model=AchievementOut)
async def create(body: AchievementIn, request: Request, seller: Seller,
                 key: IdempotencyKey = None) -> Response:
    """File an achievement as a draft, in the seller's region or one below it."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, seller, key)) as tx:
        a = await handlers.create_achievement(tx, seller, region=body.region,
                                              details=body.details())
        answer = tx.answer(201, AchievementOut.of(a))
    count_command("create-achievement", a.region)
    return answer


@router.put("/achievements/{achievement_id}", response_model=AchievementOut)
async def edit(achievement_id: uuid.UUID, body: AchievementIn, request: Request,
               seller: Seller, key: IdempotencyKey = None) -> Response:
    """Edit a draft or a rejected listing (a rejected one becomes a draft again)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, seller, key)) as tx:
        a = await handlers.edit_achievement(tx, seller, achievement_id, body.details(),
                                            region=body.region)
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("edit-achievement", a.region)
    return answer


@router.post("/achievements/{achievement_id}/submit", response_model=AchievementOut,
             name="submit-achievement",
             summary="Submit a draft for review by the operator of its region")
async def submit(achievement_id: uuid.UUID, request: Request, seller: Seller,
                 key: IdempotencyKey = None) -> Response:
    async with runtime_of(request).transaction(
            await Once.of_request(request, seller, key)) as tx:
        a = await handlers.submit_achievement(tx, seller, achievement_id)
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("submit-achievement", a.region)
    return answer


@router.post("/achievements/{achievement_id}/withdraw", response_model=AchievementOut,
             name="withdraw-achievement",
             summary="Withdraw the listing (not once a procedure runs on it)")
async def withdraw(achievement_id: uuid.UUID, request: Request, seller: Seller,
                   key: IdempotencyKey = None) -> Response:
    async with runtime_of(request).transaction(
            await Once.of_request(request, seller, key)) as tx:
        a = await handlers.withdraw_achievement(tx, seller, achievement_id)
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("withdraw-achievement", a.region)
    return answer


@router.post("/achievements/{achievement_id}/review", response_model=AchievementOut,
             name="start-review", summary="Take a submitted listing into review")
async def start_review(achievement_id: uuid.UUID, request: Request, operator: Operator,
                       key: IdempotencyKey = None) -> Response:
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        a = await handlers.start_review(tx, operator, achievement_id)
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("start-review", a.region)
    return answer


@router.post("/achievements/{achievement_id}/approve", response_model=AchievementOut)
async def approve(achievement_id: uuid.UUID, request: Request, operator: Operator,
                  key: IdempotencyKey = None) -> Response:
    """Publish the listing (an operator of its region or a region above it)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        a = await handlers.approve_achievement(tx, operator, achievement_id,
                                               validity=_validity(request))
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("approve", a.region)
    return answer


@router.post("/achievements/{achievement_id}/reject", response_model=AchievementOut)
async def reject(achievement_id: uuid.UUID, body: RejectIn, request: Request,
                 operator: Operator, key: IdempotencyKey = None) -> Response:
    """Reject the listing with the reason the seller will see."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, operator, key)) as tx:
        a = await handlers.reject_achievement(tx, operator, achievement_id,
                                              reason=body.reason)
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("reject", a.region)
    return answer


@router.post("/achievements/{achievement_id}/security-review", response_model=AchievementOut)
async def security_review(achievement_id: uuid.UUID, body: SecurityReviewIn, request: Request,
                          reviewer: Overseer, key: IdempotencyKey = None) -> Response:
    """Record the export-control and security review a cross-border listing needs."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, reviewer, key)) as tx:
        a = await handlers.record_security_review(tx, reviewer, achievement_id,
                                                  outcome=body.outcome,
                                                  reference=body.reference)
        answer = tx.answer(200, AchievementOut.of(a))
    count_command("security-review", a.region)
    return answer


@router.get("/achievements/{achievement_id}", response_model=AchievementOut)
async def get(achievement_id: uuid.UUID, request: Request, principal: Anyone
              ) -> AchievementOut:
    """A listing: published ones for everyone; others for their seller and operators above."""
    a = await store.get_achievement(runtime_of(request).pool, achievement_id)
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
    rows = await store.seller_achievements(runtime_of(request).pool, seller.subject, limit)
    return [AchievementOut.of(a) for a in rows]


@router.get("/review-queue", response_model=list[AchievementOut])
async def review_queue(request: Request, operator: Operator,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100
                       ) -> list[AchievementOut]:
    """Listings awaiting review in the operator's region and below, oldest first."""
    code = operator.region.code
    prefix = code[:2] if code.endswith("0000") else code[:4] if code.endswith("00") else code
    rows = await store.review_queue(runtime_of(request).pool, prefix, limit)
    return [AchievementOut.of(a) for a in rows]
