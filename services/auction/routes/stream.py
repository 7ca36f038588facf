"""The live view of an auction over HTTP: Server-Sent Events of its state and each bid."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from services.auction.domain.auction import Auction
from services.auction.handlers.engine import BidEngine
from services.auction.routes.bids import Engine
from services.auction.routes.forwarding import FORWARDED
from services.auction.schemas import (
    AuctionOut,
    PublicAuction,
    PublicClosed,
    PublicExtended,
    bid_json,
    procedure_viewer,
)
from services.auction.store import auctions as store
from services.auction.store import public as public_store
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["auctions"], responses=PROBLEM_RESPONSES)

STREAM_PAGE = 1000
"""Stored bids read at a time when a stream catches up."""
PING_SECONDS = 15.0
"""A ``ping`` event after this long without a bid."""
CLOSE_POLL_SECONDS = 1.0
"""How often the public stream looks whether its auction is closed, once its end is past."""


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
    state, numbers = await engine.view(auction_id)
    viewer = procedure_viewer(principal, state)
    runtime = runtime_of(request)

    def render_state(a: Auction, seen: Mapping[str, int]) -> dict:
        return AuctionOut.of(a, runtime.clock.now(), viewer, seen).model_dump(mode="json")

    def render_bid(sequence: int, bidder_id: str, number: int | None, amount_fen: int,
                   at: datetime, automatic: bool, ends_at: datetime) -> dict:
        return {**bid_json(viewer, sequence=sequence, bidder_id=bidder_id, number=number,
                           amount_fen=amount_fen, at=at, automatic=automatic),
                "ends_at": ends_at.isoformat()}

    return live(request, engine, auction_id, state, numbers, resume_at(last_event_id, after),
                render_state, render_bid)


def resume_at(last_event_id: int | None, after: int | None) -> int | None:
    """Where a reader resumes: ``Last-Event-ID`` wins over ``?after=``."""
    return last_event_id if last_event_id is not None else after


RenderBid = Callable[[int, str, "int | None", int, datetime, bool, datetime], dict]
"""A bid's event data for one reader: (sequence, bidder, its number, amount, at, automatic,
the end once it was accepted)."""


def live(request: Request, engine: BidEngine, auction_id: uuid.UUID, state: Auction,
         numbers: Mapping[str, int], resume: int | None,
         render_state: Callable[[Auction, Mapping[str, int]], dict], render_bid: RenderBid,
         *, follow_end: bool = False) -> EventSourceResponse:
    """The stream of one reader, from the ``state`` the engine just gave (and its bidders'
    ``numbers``): the state, the stored bids after ``resume``, then the live ones. With
    ``follow_end`` (the public stream) also an ``extended`` event when a bid moves the end,
    and a ``closed`` event with the result once the auction is closed, which ends it."""
    runtime = runtime_of(request)
    pool = runtime.pool
    # No await between reading the state and watching: the queue gets exactly the bids after
    # the state's (the writer answers and notifies right after each commit).
    queue = engine.watch(auction_id)
    seen = state.ladder.count if resume is None else min(resume, state.ladder.count)

    def bid_event(data: dict) -> dict:
        return {"event": "bid", "id": str(data["sequence"]), "data": json.dumps(data)}

    def stored_bid_event(r: Any, ends_at: datetime) -> dict:
        return bid_event(render_bid(r["seq"], r["bidder_id"], r["number"], r["amount_fen"],
                                    r["at"], r["automatic"], ends_at))

    async def stored_after(last: int, upto: int):
        """The stored bids in (last, upto], a page at a time."""
        while last < upto:
            rows = await store.bid_rows(pool, auction_id, last, STREAM_PAGE, upto)
            if not rows:
                return
            for r in rows:
                yield r
            last = rows[-1]["seq"]

    def wait_for(ends_at: datetime) -> float:
        if not follow_end:
            return PING_SECONDS
        left = (ends_at - runtime.clock.now()).total_seconds()
        return min(PING_SECONDS, max(CLOSE_POLL_SECONDS, left + CLOSE_POLL_SECONDS))

    async def events():
        last = seen
        end = state.ends_at
        try:
            yield {"event": "state", "data": json.dumps(render_state(state, numbers))}
            async for r in stored_after(last, state.ladder.count):
                yield stored_bid_event(r, state.ends_at)
                last = r["seq"]
            while True:
                if follow_end and (state.closed_at is not None or runtime.clock.now() >= end):
                    row = await public_store.auction(pool, auction_id)
                    if row is not None and row["closed_at"] is not None:
                        async for r in stored_after(last, row["bid_count"]):
                            yield stored_bid_event(r, row["ends_at"])
                            last = r["seq"]
                        result = PublicAuction.of_row(row, runtime.clock.now()).result
                        yield {"event": "closed", "data": PublicClosed(
                            result=result).model_dump_json()}
                        return
                try:
                    b, number, ends_at = await asyncio.wait_for(queue.get(), wait_for(end))
                except TimeoutError:
                    yield {"event": "ping", "data": "{}"}
                    continue
                if b.sequence <= last:
                    continue
                # A gap: the queue was full and dropped bids; the table has them.
                async for r in stored_after(last, b.sequence - 1):
                    yield stored_bid_event(r, ends_at)
                    last = r["seq"]
                yield bid_event(render_bid(b.sequence, b.bidder_id, number, b.amount_fen,
                                           b.at, b.automatic, ends_at))
                last = b.sequence
                if follow_end and ends_at > end:
                    yield {"event": "extended",
                           "data": PublicExtended(ends_at=ends_at).model_dump_json()}
                end = max(end, ends_at)
        finally:
            engine.unwatch(auction_id, queue)

    return EventSourceResponse(events())
