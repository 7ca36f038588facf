"""The auction route over HTTP: announce, register, bid, proxy, read, and the live stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from services.auction import repository, store
from services.auction.domain.anonymity import Viewer, label
from services.auction.domain.auction import Auction, AuctionTerms
from services.auction.domain.deals import deal_id_for
from services.auction.engine import (
    CLOSE_DEADLINE,
    BidAnswer,
    BidEngine,
    Registration,
    bid,
    proxy,
    register,
)
from services.auction.procedures_store import lock_listing
from services.auction.views import (
    BiddersShown,
    BidView,
    bid_json,
    bidders_json,
    numbered,
    viewer_of,
)
from shared.auth import Principal, Role, authorize_region, require
from shared.bounds import AwareTimestamp, Cursor, PositiveFen, ratio
from shared.idempotency import Answer, IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, Problem, documented, not_found
from shared.ratelimit import per_account, rate_limited
from shared.scheduler import schedule
from shared.service import runtime_of

router = APIRouter(tags=["auctions"], responses=PROBLEM_RESPONSES)

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Buyer = Annotated[Principal, Depends(require(Role.BUYER))]
Anyone = Annotated[Principal, Depends(require(*Role))]

FORWARDED = {503: documented(
    "The process that writes this auction does not answer (it is being taken over); retry "
    "after the time given", retry_after=True)}
"""What a request the writer of the auction must answer can get when it is forwarded."""


class BidRefused(Problem):
    slug = "bid-rejected"
    status = 409
    title = "The bid was not accepted"


class AuctionIn(BaseModel):
    listing_id: uuid.UUID
    start_price_fen: PositiveFen
    increment_fen: PositiveFen
    reserve_fen: PositiveFen | None = Field(default=None, description="secret until the close")
    deposit_ratio: Decimal = ratio(ge=Decimal("0.05"), le=Decimal("0.20"), examples=["0.10"])
    starts_at: AwareTimestamp
    ends_at: AwareTimestamp


class AuctionOut(BiddersShown):
    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: str
    region: str
    start_price_fen: int
    increment_fen: int
    deposit_fen: int
    has_reserve: bool
    starts_at: datetime
    ends_at: datetime
    status: str
    high_bid_fen: int | None
    high_bidder_number: str | None = Field(default=None, description="the high bid's 竞买号")
    bid_count: int
    hammer_price_fen: int | None = None
    deal_id: uuid.UUID | None = Field(default=None, description=(
        "the deal a close with a winner concluded: its settlement and contract go by it"))

    @classmethod
    def of(cls, a: Auction, now: datetime, viewer: Viewer,
           numbers: Mapping[str, int] | None = None) -> AuctionOut:
        numbers = numbers or {}
        high = a.high_bid
        return cls(
            id=a.id, listing_id=a.listing_id, seller_id=a.seller_id, region=a.region,
            start_price_fen=a.terms.start_price_fen, increment_fen=a.terms.increment_fen,
            deposit_fen=a.terms.deposit_fen, has_reserve=a.terms.reserve_fen is not None,
            starts_at=a.terms.starts_at, ends_at=a.ends_at, status=a.status_at(now).value,
            high_bid_fen=high.amount_fen if high else None,
            high_bidder_number=numbered(numbers, high.bidder_id) if high else None,
            bid_count=a.ladder.count, **bidders_json(viewer, numbers, a.winner_id),
            hammer_price_fen=a.hammer_price_fen,
            deal_id=deal_id_for(a.id) if a.winner_id else None)


def _viewer(principal: Principal, a: Auction) -> Viewer:
    return viewer_of(principal, region=a.region, seller_id=a.seller_id,
                     closed=a.closed_at is not None)


class BidIn(BaseModel):
    amount_fen: PositiveFen


class ProxyIn(BaseModel):
    max_fen: PositiveFen


class BidOut(BaseModel):
    accepted: bool
    sequence: int | None
    amount_fen: int
    high_bid_fen: int | None
    ends_at: datetime
    automatic_bids: int

    @classmethod
    def of(cls, a: BidAnswer) -> BidOut:
        return cls(accepted=a.accepted, sequence=a.sequence, amount_fen=a.amount_fen,
                   high_bid_fen=a.high_bid_fen, ends_at=a.ends_at,
                   automatic_bids=a.automatic_bids)


def engine_of(request: Request) -> BidEngine:
    return runtime_of(request).part(BidEngine)


@router.post("/auctions", status_code=201, response_model=AuctionOut)
async def announce(body: AuctionIn, request: Request, operator: Operator,
                   key: IdempotencyKey = None) -> Response:
    """Announce an auction of a published listing whose pricing route is auction."""
    runtime = runtime_of(request)
    listing = await repository.listing_for_auction(runtime.pool, body.listing_id)
    if listing is None:
        raise not_found(f"No listing {body.listing_id} is known to the auction service.")
    authorize_region(operator, listing["region"])
    now = runtime.clock.now()
    terms = AuctionTerms(start_price_fen=body.start_price_fen, increment_fen=body.increment_fen,
                         deposit_ratio=body.deposit_ratio, announce_at=now,
                         starts_at=body.starts_at, ends_at=body.ends_at,
                         reserve_fen=body.reserve_fen)
    async with runtime.unit_of_work(listing["region"],
                                    await Once.of_request(request, operator, key)) as uow:
        await lock_listing(uow.conn, body.listing_id, "auction")
        auction, events = Auction.announce(terms, listing_id=body.listing_id,
                                           seller_id=listing["seller_id"],
                                           region=listing["region"])
        await _start(uow, auction, events)
        return uow.answer(201, AuctionOut.of(auction, now, _viewer(operator, auction)))


class ReauctionIn(BaseModel):
    start_price_fen: PositiveFen
    starts_at: AwareTimestamp
    ends_at: AwareTimestamp


@router.post("/auctions/{auction_id}/reauction", status_code=201, response_model=AuctionOut)
async def reauction(auction_id: uuid.UUID, body: ReauctionIn, request: Request,
                    operator: Operator, key: IdempotencyKey = None) -> Response:
    """Auction a failed lot (流拍) again: within 30 days, start price cut by at most 20 %."""
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        previous = await store.load(conn, auction_id)
    if previous is None:
        raise not_found(f"No auction {auction_id}.")
    authorize_region(operator, previous.region)
    now = runtime.clock.now()
    async with runtime.unit_of_work(previous.region,
                                    await Once.of_request(request, operator, key)) as uow:
        await lock_listing(uow.conn, previous.listing_id, "auction")
        auction, events = Auction.reauction(previous, body.start_price_fen, now,
                                            starts_at=body.starts_at, ends_at=body.ends_at)
        await _start(uow, auction, events)
        return uow.answer(201, AuctionOut.of(auction, now, _viewer(operator, auction)))


async def _start(uow, auction: Auction, events) -> None:
    await store.insert_auction(uow.conn, auction)
    await schedule(uow.conn, CLOSE_DEADLINE, str(auction.id), auction.ends_at)
    uow.publish(*events)


@router.get("/auctions/{auction_id}", response_model=AuctionOut, responses=FORWARDED)
async def get_auction(auction_id: uuid.UUID, request: Request, principal: Anyone
                      ) -> AuctionOut:
    """The auction as its writer holds it (the high bid and the current end). Bidders are
    shown by bid number; the winner's account only to those who may know it."""
    runtime = runtime_of(request)
    state, numbers = await engine_of(request).view(auction_id)
    return AuctionOut.of(state, runtime.clock.now(), _viewer(principal, state), numbers)


class RegistrationOut(BaseModel):
    auction_id: uuid.UUID
    bidder_id: str
    bidder_number: str = Field(description="your bid number (竞买号) in this auction")
    deposit_fen: int


def _registered(auction_id: uuid.UUID, r: Registration) -> Answer:
    return Answer.json(201, RegistrationOut(auction_id=auction_id, bidder_id=r.bidder_id,
                                            bidder_number=label(r.number),
                                            deposit_fen=r.deposit_fen))


@router.post("/auctions/{auction_id}/registrations", status_code=201,
             response_model=RegistrationOut, responses=FORWARDED)
async def register_bidder(auction_id: uuid.UUID, request: Request, buyer: Buyer,
                          key: IdempotencyKey = None) -> Response:
    """Register to bid and get your bid number; the bidder qualifies when the settlement
    service confirms the deposit (``cn.techex.deposit.confirmed.v1``)."""
    return await _run(request, auction_id, register(buyer.subject),
                      await Once.of_request(request, buyer, key),
                      lambda r: _registered(auction_id, r))


def _bid_answer(path: str, a: BidAnswer, status: int = 201) -> Answer:
    if not a.accepted:
        return Answer.problem(BidRefused(detail=f"The bid was rejected: {a.reason}.",
                                         reason=a.reason, high_bid_fen=a.high_bid_fen), path)
    return Answer.json(status, BidOut.of(a))


async def _run(request: Request, auction_id: uuid.UUID, command, once: Once | None,
               render: Callable[[Any], Answer]) -> Response:
    """Run an engine command and answer it; a keyed one is answered with what the engine
    stored for its key (see :meth:`BidEngine.run`)."""
    engine = engine_of(request)
    if once is not None:
        return (await engine.run(auction_id, command, once, render)).response()
    return render(await engine.run(auction_id, command)).response()


@router.post("/auctions/{auction_id}/bids", status_code=201, response_model=BidOut,
             dependencies=[per_account("bids")],
             responses={**FORWARDED, **rate_limited("bids")})
async def place_bid(auction_id: uuid.UUID, body: BidIn, request: Request, buyer: Buyer,
                    key: IdempotencyKey = None) -> Response:
    """Bid; answered once the accepted bid is durable. A bid is never withdrawn. A rejected
    bid is answered 409 (and recorded: ``cn.techex.auction.bid_rejected.v1``)."""
    path = request.url.path
    return await _run(request, auction_id, bid(buyer.subject, body.amount_fen),
                      await Once.of_request(request, buyer, key),
                      lambda a: _bid_answer(path, a))


@router.put("/auctions/{auction_id}/proxy", response_model=BidOut,
            dependencies=[per_account("bids")], responses={**FORWARDED, **rate_limited("bids")})
async def set_proxy(auction_id: uuid.UUID, body: ProxyIn, request: Request, buyer: Buyer,
                    key: IdempotencyKey = None) -> Response:
    """Leave a secret maximum: the engine bids for you one increment at a time."""
    return await _run(request, auction_id, proxy(buyer.subject, body.max_fen),
                      await Once.of_request(request, buyer, key),
                      lambda a: Answer.json(200, BidOut.of(a)))


@router.get("/auctions/{auction_id}/bids", response_model=list[BidView], responses=FORWARDED)
async def bids(auction_id: uuid.UUID, request: Request, principal: Anyone,
               after: Annotated[Cursor, Query()] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    """The accepted bids in order (cursor: the last sequence number seen), each bidder shown
    by its bid number (its account only to those who may know it)."""
    pool = runtime_of(request).pool
    row = await store.auction_row(pool, auction_id)
    if row is None:
        raise not_found(f"No auction {auction_id}.")
    viewer = viewer_of(principal, region=row["region"], seller_id=row["seller_id"],
                       closed=row["closed_at"] is not None)
    return [_stored_bid(viewer, r) for r in await store.bid_rows(pool, auction_id, after, limit)]


def _stored_bid(viewer: Viewer, r) -> dict:
    return bid_json(viewer, sequence=r["seq"], bidder_id=r["bidder_id"], number=r["number"],
                    amount_fen=r["amount_fen"], at=r["at"], automatic=r["automatic"])


STREAM_PAGE = 1000
"""Stored bids read at a time when a stream catches up."""


@router.get("/auctions/{auction_id}/stream", response_class=EventSourceResponse, responses={
    200: {"description": "Server-Sent Events: `state` first, then `bid` and `ping` events",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    **FORWARDED})
async def stream(
    auction_id: uuid.UUID, request: Request, principal: Anyone,
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
    engine = engine_of(request)
    pool = runtime_of(request).pool
    state, numbers = await engine.view(auction_id)
    # No await between reading the state and watching: the queue gets exactly the bids after
    # the state's (the writer answers and notifies right after each commit).
    queue = engine.watch(auction_id)
    viewer = _viewer(principal, state)
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
                state, runtime_of(request).clock.now(), viewer, numbers).model_dump(mode="json"))}
            async for r in stored_after(last, state.ladder.count):
                yield bid_event(_stored_bid(viewer, r), state.ends_at)
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
                    yield bid_event(_stored_bid(viewer, r), ends_at)
                    last = r["seq"]
                yield bid_event(bid_json(viewer, sequence=b.sequence, bidder_id=b.bidder_id,
                                         number=number, amount_fen=b.amount_fen, at=b.at,
                                         automatic=b.automatic), ends_at)
                last = b.sequence
        finally:
            engine.unwatch(auction_id, queue)

    return EventSourceResponse(events())
