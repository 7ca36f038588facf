"""The listings an account watches (关注): it is told when one goes to an auction, a listing
trade or a notice, and when that procedure is about to end."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.listing import handlers
from services.listing.schemas import WatchIn, WatchOut
from services.listing.store import notifications as store
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["watches"], responses=PROBLEM_RESPONSES)


def _out(row) -> WatchOut:
    return WatchOut(listing_id=row["listing_id"], created_at=row["created_at"])


@router.post("/my/watches", status_code=201, response_model=WatchOut)
async def watch(body: WatchIn, request: Request, account: Anyone,
                key: IdempotencyKey = None) -> Response:
    """Watch a listing (watching it again changes nothing)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, account, key)) as tx:
        row = await handlers.watch(tx, account, body.listing_id)
        return tx.answer(201, _out(row))


@router.delete("/my/watches/{listing_id}", response_model=WatchIn)
async def unwatch(listing_id: uuid.UUID, request: Request, account: Anyone,
                  key: IdempotencyKey = None) -> Response:
    """Stop watching a listing."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, account, key)) as tx:
        await handlers.unwatch(tx, account, listing_id)
        return tx.answer(200, WatchIn(listing_id=listing_id))


@router.get("/my/watches", response_model=list[WatchOut])
async def my_watches(request: Request, account: Anyone) -> list[WatchOut]:
    return [_out(r) for r in await store.watches_of(runtime_of(request).pool, account.subject)]
