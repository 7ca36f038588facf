"""The archive's hash chain: its head and digests, and its check for the regulator."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.records import handlers
from services.records.domain.chain import Checked
from services.records.schemas import PublicChainHead, PublicDigest, PublicDigests, Verification
from services.records.store import archive, digests
from shared.problems import PROBLEM_RESPONSES
from shared.ratelimit import per_address, rate_limited
from shared.roles import Regulator
from shared.service import runtime_of

router = APIRouter(tags=["chain"], responses=PROBLEM_RESPONSES)
public_router = APIRouter(
    prefix="/public", tags=["public"], dependencies=[per_address("public")],
    responses={**{s: PROBLEM_RESPONSES[s] for s in (422, 503)}, **rate_limited("public")})

Day = Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2199, 12, 31))]


def _digest(row) -> PublicDigest:
    return PublicDigest(day=row["day"], seq=row["seq"], head=bytes(row["head"]).hex(),
                        events=row["events"], digested_at=row["digested_at"])


@public_router.get("/chain", response_model=PublicChainHead)
async def chain_head(request: Request) -> PublicChainHead:
    """The archive's hash chain now: its last row and that row's hash, and the last digest."""
    pool = runtime_of(request).pool
    seq, head = await archive.head(pool)
    latest = await digests.listing(pool, 1, None)
    return PublicChainHead(seq=seq, head=head.hex(),
                           last_digest=_digest(latest[0]) if latest else None)


@public_router.get("/chain/digests", response_model=PublicDigests)
async def chain_digests(request: Request, before: Day = None,
                        limit: Annotated[int, Query(ge=1, le=366)] = 31) -> PublicDigests:
    """The published daily digests, newest first: keep them, and compare later."""
    rows = await digests.listing(runtime_of(request).pool, limit, before)
    items = [_digest(r) for r in rows]
    return PublicDigests(items=items,
                         next_before=items[-1].day if len(items) == limit else None)


@router.get("/chain/verification", response_model=Verification)
async def verification(request: Request, regulator: Regulator,
                       since: Annotated[date | None, Query(alias="from", ge=date(2000, 1, 1),
                                                           le=date(2199, 12, 31))] = None,
                       ) -> Verification:
    """Recompute the chain from the first row archived on ``from`` (Asia/Shanghai) — from
    the first row without it — against its rows and the published digests: ``ok``, or the
    first bad row and why. (``bin/techex records verify`` runs the same check.)"""
    del regulator
    async with runtime_of(request).pool.acquire() as conn:
        checked = await handlers.verify_chain(conn, since)
    return verification_of(checked)


def verification_of(checked: Checked) -> Verification:
    broken = checked.broken
    return Verification(
        ok=broken is None, rows=checked.rows, from_seq=checked.last_seq - checked.rows + 1,
        last_seq=checked.last_seq, head=checked.head.hex(),
        bad_seq=broken.seq if broken else None,
        bad_event_id=(broken.event_id or None) if broken else None,
        reason=broken.reason if broken else None)
