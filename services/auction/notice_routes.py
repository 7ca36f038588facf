"""Negotiated price with public notice (协议定价 + 公示) over HTTP; and the notice's end.

The operator of the listing's region publishes the agreed deal for at least 15 days; anyone
signed in may object while it runs; the operator upholds or dismisses each objection with a
reason; the notice, its objections and their outcomes are public. Each command locks the
notice's row, applies the domain and writes the difference with its events in one transaction.

One deadline per notice, ``notice.end`` keyed by its id, at the end of the period: no upheld
objection → the deal stands (``DealConcluded``); one upheld → failed (``AuctionFailed``,
reason ``objection-upheld``). While objections are still pending at the end, the notice cannot
conclude: the handler looks again every :data:`PENDING_RECHECK`, and resolving the last pending
objection after the end moves the deadline to that moment, so the notice concludes right away.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Final, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from services.auction import procedures_store as store
from services.auction import repository
from services.auction.domain.deals import deal_id_for
from services.auction.domain.notice import (
    MIN_NOTICE_DAYS,
    TRANSFER_MODES,
    BuyerRelation,
    Notice,
    NoticeStatus,
    NoticeTerms,
    ObjectionOutcome,
)
from shared.auth import Principal, Role, authorize_region, require
from shared.bounds import PositiveFen, SubjectId, Text, int_field, text
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.scheduler import Deadline, Handler, schedule
from shared.service import Runtime, runtime_of

log = logging.getLogger(__name__)

router = APIRouter(tags=["notices"], responses=PROBLEM_RESPONSES)

NOTICE_END: Final = "notice.end"
PENDING_RECHECK: Final = timedelta(hours=1)

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Anyone = Annotated[Principal, Depends(require(*Role))]
TransferMode = Literal[tuple(sorted(TRANSFER_MODES))]  # type: ignore[valid-type]


class NoticeIn(BaseModel):
    listing_id: uuid.UUID
    project_name: str = text(200, min_length=1, description="项目名称")
    abstract: str = text(10_000, min_length=1)
    transfer_mode: TransferMode = Field(examples=["transfer"])
    price_fen: Annotated[PositiveFen, Field(description="the agreed price in fen")]
    buyer_id: SubjectId
    buyer_name: str = text(200, min_length=1)
    buyer_relation: BuyerRelation = Field(description=(
        "none, inventor (完成人) or related_party (关联方): stated explicitly, and flagged "
        "in the published notice unless none"))
    days: int = int_field(default=MIN_NOTICE_DAYS, ge=1, le=365,
                          description=f"calendar days, at least {MIN_NOTICE_DAYS}")


class ObjectionIn(BaseModel):
    grounds: str = text(10_000, description="the grounds of the objection (异议)")


class ResolutionIn(BaseModel):
    outcome: ObjectionOutcome
    reason: Text


class ObjectionOut(BaseModel):
    """An objection as published: its grounds and outcome, not who filed it (the events
    keep that for the record)."""

    id: uuid.UUID
    grounds: str
    filed_at: datetime
    outcome: str | None
    reason: str | None
    resolved_at: datetime | None


class NoticeOut(BaseModel):
    id: uuid.UUID
    listing_id: uuid.UUID
    region: str
    status: str
    project_name: str
    abstract: str
    transfer_mode: str
    price_fen: int
    seller_id: str
    buyer_id: str
    buyer_name: str
    buyer_relation: str
    buyer_flagged: bool = Field(description="the buyer is an inventor or a related party")
    published_at: datetime
    days: int
    ends_at: datetime
    closed_at: datetime | None
    deal_id: uuid.UUID | None = Field(default=None, description="once the deal stands")
    pending_objections: int
    objections: list[ObjectionOut]

    @classmethod
    def of(cls, n: Notice) -> NoticeOut:
        t = n.terms
        return cls(
            id=n.id, listing_id=n.listing_id, region=n.region, status=n.status.value,
            project_name=t.project_name, abstract=t.abstract, transfer_mode=t.transfer_mode,
            price_fen=t.price_fen, seller_id=t.seller_id, buyer_id=t.buyer_id,
            buyer_name=t.buyer_name, buyer_relation=t.buyer_relation.value,
            buyer_flagged=t.buyer_relation is not BuyerRelation.NONE,
            published_at=t.published_at, days=t.days, ends_at=n.ends_at,
            closed_at=n.closed_at, pending_objections=len(n.pending),
            deal_id=deal_id_for(n.id) if n.status is NoticeStatus.CONCLUDED else None,
            objections=[ObjectionOut(id=o.id, grounds=o.grounds, filed_at=o.filed_at,
                                     outcome=o.outcome.value if o.outcome else None,
                                     reason=o.reason, resolved_at=o.resolved_at)
                        for o in n.objections])


async def _region(request: Request, notice_id: uuid.UUID) -> str:
    region = await store.procedure_region(runtime_of(request).pool, "notices", notice_id)
    if region is None:
        raise not_found(f"No notice {notice_id}.")
    return region


async def _locked(conn: asyncpg.Connection, notice_id: uuid.UUID) -> Notice:
    notice = await store.load_notice(conn, notice_id, lock=True)
    if notice is None:
        raise not_found(f"No notice {notice_id}.")
    return notice


# -- commands ---------------------------------------------------------------------------------

@router.post("/notices", status_code=201, response_model=NoticeOut)
async def publish(body: NoticeIn, request: Request, operator: Operator,
                  key: IdempotencyKey = None) -> Response:
    """Publish the negotiated deal of a published listing whose pricing route is negotiated."""
    runtime = runtime_of(request)
    listing = await repository.listing_for_auction(runtime.pool, body.listing_id)
    if listing is None:
        raise not_found(f"No listing {body.listing_id} is known to the auction service.")
    authorize_region(operator, listing["region"])
    now = runtime.clock.now()
    async with runtime.unit_of_work(listing["region"],
                                    await Once.of_request(request, operator, key)) as uow:
        listing = await store.lock_listing(uow.conn, body.listing_id, "negotiated")
        terms = NoticeTerms(
            project_name=body.project_name, abstract=body.abstract,
            transfer_mode=body.transfer_mode, price_fen=body.price_fen,
            seller_id=listing["seller_id"], buyer_id=body.buyer_id,
            buyer_name=body.buyer_name, buyer_relation=body.buyer_relation,
            published_at=now, days=body.days)
        notice, events = Notice.publish(terms, listing_id=body.listing_id,
                                        region=listing["region"], actor=operator.subject)
        await store.insert_notice(uow.conn, notice, operator.subject)
        await schedule(uow.conn, NOTICE_END, str(notice.id), notice.ends_at)
        uow.publish(*events)
        return uow.answer(201, NoticeOut.of(notice))


@router.get("/notices/{notice_id}", response_model=NoticeOut)
async def get_notice(notice_id: uuid.UUID, request: Request) -> NoticeOut:
    """The notice as published (no token needed), with its objections and their outcomes."""
    async with runtime_of(request).pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        notice = await store.load_notice(conn, notice_id)
    if notice is None:
        raise not_found(f"No notice {notice_id}.")
    return NoticeOut.of(notice)


@router.post("/notices/{notice_id}/objections", status_code=201, response_model=ObjectionOut)
async def file_objection(notice_id: uuid.UUID, body: ObjectionIn, request: Request,
                         who: Anyone, key: IdempotencyKey = None) -> Response:
    """Object to the notice (异议) while it runs; anyone signed in may."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.unit_of_work(await _region(request, notice_id),
                                    await Once.of_request(request, who, key)) as uow:
        before = await _locked(uow.conn, notice_id)
        after, filed = before.file_objection(who.subject, body.grounds, now)
        await store.save_notice(uow.conn, before, after)
        uow.publish(filed)
        o = after.objections[-1]
        return uow.answer(201, ObjectionOut(id=o.id, grounds=o.grounds, filed_at=o.filed_at,
                                            outcome=None, reason=None, resolved_at=None))


@router.post("/notices/{notice_id}/objections/{objection_id}/resolve",
             response_model=ObjectionOut)
async def resolve_objection(notice_id: uuid.UUID, objection_id: uuid.UUID,
                            body: ResolutionIn, request: Request, operator: Operator,
                            key: IdempotencyKey = None) -> Response:
    """Uphold or dismiss an objection, with the reason (published), until the notice
    concludes; only an operator of the notice's region may."""
    runtime = runtime_of(request)
    region = await _region(request, notice_id)
    authorize_region(operator, region)
    now = runtime.clock.now()
    async with runtime.unit_of_work(region, await Once.of_request(request, operator, key)) as uow:
        await store.lock_pending_deadline(uow.conn, NOTICE_END, str(notice_id))
        before = await _locked(uow.conn, notice_id)
        after, resolved = before.resolve_objection(
            objection_id, body.outcome, reason=body.reason, operator=operator.subject, at=now)
        await store.save_notice(uow.conn, before, after)
        if now >= after.ends_at and not after.pending:
            # The notice was only waiting for this: let it conclude now.
            await schedule(uow.conn, NOTICE_END, str(notice_id), now)
        uow.publish(resolved)
        o = next(o for o in after.objections if o.id == objection_id)
        return uow.answer(200, ObjectionOut(
            id=o.id, grounds=o.grounds, filed_at=o.filed_at,
            outcome=o.outcome.value if o.outcome else None, reason=o.reason,
            resolved_at=o.resolved_at))


# -- the end of the notice --------------------------------------------------------------------

def deadline_handlers(runtime: Runtime) -> dict[str, Handler]:
    async def notice_end(conn: asyncpg.Connection, deadline: Deadline) -> None:
        now = runtime.clock.now()
        before = await store.load_notice(conn, uuid.UUID(deadline.key), lock=True)
        if before is None or before.status is not NoticeStatus.PUBLISHED:
            return
        if now < before.ends_at:  # fired early (clock skew): come back at the end
            await schedule(conn, NOTICE_END, deadline.key, before.ends_at)
            return
        if before.pending:
            log.info("notice %s ended with %d objection(s) pending; looking again at %s",
                     before.id, len(before.pending), (now + PENDING_RECHECK).isoformat())
            await schedule(conn, NOTICE_END, deadline.key, now + PENDING_RECHECK)
            return
        after, events = before.conclude(now)
        await store.save_notice(conn, before, after)
        await runtime.outbox.add(conn, events, region=after.region)

    return {NOTICE_END: notice_end}
