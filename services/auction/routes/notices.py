"""Negotiated price with public notice (协议定价 + 公示) over HTTP: publish, read, object,
resolve."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.auction import handlers
from services.auction.domain.notice import Objection
from services.auction.schemas import (
    NoticeIn,
    NoticeOut,
    ObjectionIn,
    ObjectionOut,
    ResolutionIn,
    viewer_of,
)
from services.auction.store import notices as store
from shared.auth import Principal, optional_principal
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.roles import Anyone, Operator
from shared.service import runtime_of

router = APIRouter(tags=["notices"], responses=PROBLEM_RESPONSES)


def _objection(o: Objection) -> ObjectionOut:
    return ObjectionOut(id=o.id, grounds=o.grounds, filed_at=o.filed_at,
                        outcome=o.outcome.value if o.outcome else None, reason=o.reason,
                        resolved_at=o.resolved_at)


@router.post("/notices", status_code=201, response_model=NoticeOut)
async def publish(body: NoticeIn, request: Request, operator: Operator,
                  key: IdempotencyKey = None) -> Response:
    """Publish the negotiated deal of a published listing whose pricing route is negotiated."""
    once = await Once.of_request(request, operator, key)
    async with runtime_of(request).transaction(once) as tx:
        notice = await handlers.publish_notice(tx, operator, body)
        return tx.answer(201, NoticeOut.of(notice))


@router.get("/notices/{notice_id}", response_model=NoticeOut)
async def get_notice(notice_id: uuid.UUID, request: Request,
                     principal: Annotated[Principal | None, Depends(optional_principal)]
                     ) -> NoticeOut:
    """The notice as published (no token needed), with its objections and their outcomes;
    the operators and regulators of its region also see the name and contact of whoever
    objected without an account."""
    async with runtime_of(request).pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        notice = await store.load_notice(conn, notice_id)
        oversees = notice is not None and viewer_of(
            principal, region=notice.region, seller_id=notice.terms.seller_id,
            closed=False).sees_identities
        objectors = await store.objectors(conn, notice_id) if oversees else None
    if notice is None:
        raise not_found(f"No notice {notice_id}.")
    return NoticeOut.of(notice, objectors)


@router.post("/notices/{notice_id}/objections", status_code=201, response_model=ObjectionOut)
async def file_objection(notice_id: uuid.UUID, body: ObjectionIn, request: Request,
                         who: Anyone, key: IdempotencyKey = None) -> Response:
    """Object to the notice (异议) while it runs; anyone signed in may."""
    once = await Once.of_request(request, who, key)
    async with runtime_of(request).transaction(once) as tx:
        objection = await handlers.file_objection(tx, notice_id, who.subject, body.grounds)
        return tx.answer(201, _objection(objection))


@router.post("/notices/{notice_id}/objections/{objection_id}/resolve",
             response_model=ObjectionOut)
async def resolve_objection(notice_id: uuid.UUID, objection_id: uuid.UUID,
                            body: ResolutionIn, request: Request, operator: Operator,
                            key: IdempotencyKey = None) -> Response:
    """Uphold or dismiss an objection, with the reason (published), until the notice
    concludes; only an operator of the notice's region may."""
    once = await Once.of_request(request, operator, key)
    async with runtime_of(request).transaction(once) as tx:
        objection = await handlers.resolve_objection(tx, operator, notice_id, objection_id,
                                                     body.outcome, body.reason)
        return tx.answer(200, _objection(objection))
