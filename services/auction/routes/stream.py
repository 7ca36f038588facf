"""The live view of an auction over HTTP: Server-Sent Events of its state and each bid."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from services.auction.routes.bids import Engine
from services.auction.routes.forwarding import FORWARDED
from services.auction.schemas import AuctionOut, bid_json, procedure_viewer, stored_bid
from services.auction.store import auctions as store
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["auctions"], responses=PROBLEM_RESPONSES)

STREAM_PAGE = 1000
"""Stored bids read at a time when a stream catches up."""


@router.get("/auctions/{auction_id}/stream", response_class=EventSourceResponse, responses={
    200: {"description": "Server-Sent Events: `state` first, then `bid` and `ping` events",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    **FORWARDED})
async def stream(
    auction_id: uuid.UUID, request: Request, principal: Anyone, engine: Engine,
    after: Annotated[int | None, Query(ge=0, le=2**31 - 1, description=(
        "resume after this bid sequence number: the accepted bids after it are sent first"
    ))] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=2**31 - 1,
                                                description=(
        "sent by an EventSource that reconnects: the last bid it received; wins over "
        "`after`"))] = None,
) -> EventSourceResponse:
    """Server-Sent Events: the auction's state, then each accepted bid (event ``bid``, id its
    sequence number) and the current end time, as they happen. A client that reconnects with
    ``Last-Event-ID`` (or ``?after=``) first gets the bids it missed, from the table, then the
    live ones: no bid is missing or repeated at the seam."""
    runtime = runtime_of(request)
    pool = runtime.pool
    state, numbers = await engine.view(auction_id)
    # No await between reading the state and watching: the queue gets exactly the bids after
    # the state's (the writer answers and notifies right after each commit).
    queue = engine.watch(auction_id)
    viewer = procedure_viewer(principal, state)
    resume = last_event_id if last_event_id is not None else after
    seen = state.ladder.count if resume is None else min(resume, state.ladder.count)

    def bid_event(data: dict, ends_at: datetime) -> dict:
        return {"event": "bid", "id": str(data["sequence"]),
                "data": json.dumps({**data, "ends_at": ends_at.isoformat()})}

    async def stored_after(last: int, upto: int):
        """The stored bids in (last, upto], a page at a time."""
        while last < upto:
            rows = await store.bid_rows(pool, auction_id, last, STREAM_PAGE, upto)
            if not rows:
                return
            for r in rows:
                yield r
            last = rows[-1]["seq"]

    async def events():
        last = seen
        try:
            yield {"event": "state", "data": json.dumps(AuctionOut.of(
                state, runtime.clock.now(), viewer, numbers).model_dump(mode="json"))}
            async for r in stored_after(last, state.ladder.count):
                yield bid_event(stored_bid(viewer, r), state.ends_at)
                last = r["seq"]
            while True:
                try:
                    b, number, ends_at = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    yield {"event": "ping", "data": "{}"}
                    continue
                if b.sequence <= last:
                    continue
                # A gap: the queue was full and dropped bids; the table has them.
                async for r in stored_after(last, b.sequence - 1):
                    yield bid_event(stored_bid(viewer, r), ends_at)
                    last = r["seq"]
                yield bid_event(bid_json(viewer, sequence=b.sequence, bidder_id=b.bidder_id,
                                         number=number, amount_fen=b.amount_fen, at=b.at,
                                         automatic=b.automatic), ends_at)
                last = b.sequence
        finally:
            engine.unwatch(auction_id, queue)

    return EventSourceResponse(events())
