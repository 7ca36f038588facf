"""The regulator's queries: procedures by region, route, outcome and period, and the bids and
objections of any procedure — all from the archive, whatever the services hold now."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.records.handlers import BEIJING
from services.records.schemas import (
    BidRow,
    BidSequence,
    ObjectionRow,
    Objections,
    Outcome,
    ProcedurePage,
    ProcedureRow,
    Route,
)
from services.records.store import archive, procedures
from shared.auth import Principal, authorize_region
from shared.events.auction import BidAccepted, BidRejected, ObjectionFiled, ObjectionResolved
from shared.federation import NATIONAL_REGION
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.roles import Overseer
from shared.service import runtime_of

router = APIRouter(tags=["regulator"], responses=PROBLEM_RESPONSES)

Day = Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2199, 12, 31))]
RegionQuery = Annotated[str | None, Query(pattern=r"^[0-9]{6}$",
                                          description="GB/T 2260 code; its subtree")]


def _start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), BEIJING).astimezone(UTC)


@router.get("/procedures", response_model=ProcedurePage)
async def search_procedures(
    request: Request, who: Overseer, region: RegionQuery = None, route: Route | None = None,
    outcome: Outcome | None = None, since: Annotated[date | None, Query(
        alias="from", ge=date(2000, 1, 1), le=date(2199, 12, 31),
        description="announced on or after (Asia/Shanghai)")] = None,
    until: Annotated[date | None, Query(
        alias="to", ge=date(2000, 1, 1), le=date(2199, 12, 31),
        description="announced before (Asia/Shanghai)")] = None,
    after: Annotated[uuid.UUID | None, Query(description="the last id of the previous page")]
    = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ProcedurePage:
    """The procedures announced in a period, in ``region``'s subtree (the caller's own region
    without it), by route and outcome, as the archive tells them."""
    target = str(authorize_region(who, region or str(who.region)))
    rows = await procedures.search(
        runtime_of(request).pool, region=None if target == NATIONAL_REGION else target, route=route,
        outcome=outcome, since=_start(since), until=_start(until),
        after=str(after) if after else None, limit=limit)
    items = [ProcedureRow(**{**dict(r), "region": r["region"].strip()}) for r in rows]
    return ProcedurePage(items=items,
                         next_after=items[-1].procedure_id if len(items) == limit else None)


async def _procedure(request: Request, who: Principal, procedure_id: uuid.UUID):
    row = await procedures.one(runtime_of(request).pool, str(procedure_id))
    if row is None:
        raise not_found(f"The archive holds no procedure {procedure_id}.")
    authorize_region(who, row["region"].strip())
    return row


@router.get("/procedures/{procedure_id}/bids", response_model=BidSequence)
async def bid_sequence(request: Request, who: Overseer, procedure_id: uuid.UUID) -> BidSequence:
    """Every bid of the procedure in the order the exchange decided them: accepted (with its
    number and the end it set) and rejected (with the reason and the minimum then)."""
    await _procedure(request, who, procedure_id)
    events = await archive.of_subject(runtime_of(request).pool, str(procedure_id),
                                      [BidAccepted.ce_type(), BidRejected.ce_type()])
    items = []
    for e in events:
        p = e.payload
        accepted = e.type == BidAccepted.ce_type()
        items.append(BidRow(
            seq=e.seq, event_id=e.event_id, at=e.time,
            outcome="accepted" if accepted else "rejected",
            sequence=p.get("sequence"), bidder_id=p["bidder_id"], amount_fen=p["amount_fen"],
            automatic=p.get("automatic"), reason=p.get("reason"),
            minimum_fen=p.get("minimum_fen"), ends_at=p.get("ends_at")))
    return BidSequence(procedure_id=str(procedure_id), items=items)


@router.get("/procedures/{procedure_id}/objections", response_model=Objections)
async def objections(request: Request, who: Overseer, procedure_id: uuid.UUID) -> Objections:
    """The objections filed against a notice (公示异议) and their outcomes, in order."""
    await _procedure(request, who, procedure_id)
    events = await archive.of_subject(runtime_of(request).pool, str(procedure_id),
                                      [ObjectionFiled.ce_type(), ObjectionResolved.ce_type()])
    return Objections(procedure_id=str(procedure_id), items=[ObjectionRow(
        seq=e.seq, event_id=e.event_id, at=e.time, objection_id=e.payload["objection_id"],
        kind="filed" if e.type == ObjectionFiled.ce_type() else "resolved",
        details={k: v for k, v in e.payload.items()
                 if k not in ("procedure_id", "objection_id", "region", "occurred_at")})
        for e in events])
