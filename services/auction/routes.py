"""The auction route over HTTP: announce, register, bid, proxy, read, and the live stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from services.auction import repository, store
from services.auction.domain.auction import Auction, AuctionTerms
from services.auction.domain.deals import deal_id_for
from services.auction.engine import CLOSE_DEADLINE, BidAnswer, BidEngine, bid, proxy, register
from services.auction.procedures_store import lock_listing
from shared.auth import Principal, Role, authorize_region, require
from shared.problems import PROBLEM_RESPONSES, Problem, not_found
from shared.ratelimit import per_account, rate_limited
from shared.scheduler import schedule
from shared.service import runtime_of

router = APIRouter(tags=["auctions"], responses=PROBLEM_RESPONSES)

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Buyer = Annotated[Principal, Depends(require(Role.BUYER))]
Anyone = Annotated[Principal, Depends(require(*Role))]
Fen = Annotated[int, Field(gt=0, description="an amount in fen (分)")]


class BidRefused(Problem):
    slug = "bid-rejected"
    status = 409
    title = "The bid was not accepted"


class AuctionIn(BaseModel):
    listing_id: uuid.UUID
    start_price_fen: Fen
    increment_fen: Fen
    reserve_fen: Fen | None = Field(default=None, description="secret until the close")
    deposit_ratio: Decimal = Field(ge=Decimal("0.05"), le=Decimal("0.20"),
                                   examples=["0.10"])
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class AuctionOut(BaseModel):
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
    bid_count: int
    winner_id: str | None = None
    hammer_price_fen: int | None = None
    deal_id: uuid.UUID | None = Field(default=None, description=(
        "the deal a close with a winner concluded: its settlement and contract go by it"))

    @classmethod
    def of(cls, a: Auction, now: datetime) -> AuctionOut:
        high = a.high_bid
        return cls(
            id=a.id, listing_id=a.listing_id, seller_id=a.seller_id, region=a.region,
            start_price_fen=a.terms.start_price_fen, increment_fen=a.terms.increment_fen,
            deposit_fen=a.terms.deposit_fen, has_reserve=a.terms.reserve_fen is not None,
            starts_at=a.terms.starts_at, ends_at=a.ends_at, status=a.status_at(now).value,
            high_bid_fen=high.amount_fen if high else None, bid_count=a.ladder.count,
            winner_id=a.winner_id, hammer_price_fen=a.hammer_price_fen,
            deal_id=deal_id_for(a.id) if a.winner_id else None)


class BidIn(BaseModel):
    amount_fen: Fen


class ProxyIn(BaseModel):
    max_fen: Fen


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
    return runtime_of(request).extras["engine"]


@router.post("/auctions", status_code=201, response_model=AuctionOut)
async def announce(body: AuctionIn, request: Request, operator: Operator) -> AuctionOut:
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
    async with runtime.unit_of_work(listing["region"]) as uow:
        await lock_listing(uow.conn, body.listing_id, "auction")
        auction, events = Auction.announce(terms, listing_id=body.listing_id,
                                           seller_id=listing["seller_id"],
                                           region=listing["region"])
        await _start(uow, auction, events)
    return AuctionOut.of(auction, now)


class ReauctionIn(BaseModel):
    start_price_fen: Fen
    starts_at: AwareDatetime
    ends_at: AwareDatetime


@router.post("/auctions/{auction_id}/reauction", status_code=201, response_model=AuctionOut)
async def reauction(auction_id: uuid.UUID, body: ReauctionIn, request: Request,
                    operator: Operator) -> AuctionOut:
    """Auction a failed lot (流拍) again: within 30 days, start price cut by at most 20 %."""
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        previous = await store.load(conn, auction_id)
    if previous is None:
        raise not_found(f"No auction {auction_id}.")
    authorize_region(operator, previous.region)
    now = runtime.clock.now()
    async with runtime.unit_of_work(previous.region) as uow:
        await lock_listing(uow.conn, previous.listing_id, "auction")
        auction, events = Auction.reauction(previous, body.start_price_fen, now,
                                            starts_at=body.starts_at, ends_at=body.ends_at)
        await _start(uow, auction, events)
    return AuctionOut.of(auction, now)


async def _start(uow, auction: Auction, events) -> None:
    await store.insert_auction(uow.conn, auction)
    await schedule(uow.conn, CLOSE_DEADLINE, str(auction.id), auction.ends_at)
    uow.publish(*events)


@router.get("/auctions/{auction_id}", response_model=AuctionOut)
async def get_auction(auction_id: uuid.UUID, request: Request, _: Anyone) -> AuctionOut:
    """The auction as its writer holds it (the high bid and the current end)."""
    runtime = runtime_of(request)
    state = await engine_of(request).state(auction_id)
    return AuctionOut.of(state, runtime.clock.now())


@router.post("/auctions/{auction_id}/registrations", status_code=201)
async def register_bidder(auction_id: uuid.UUID, request: Request, buyer: Buyer) -> dict:
    """Register to bid; the bidder qualifies when the settlement service confirms the
    deposit (``cn.techex.deposit.confirmed.v1``)."""
    await engine_of(request).run(auction_id, register(buyer.subject))
    state = await engine_of(request).state(auction_id)
    return {"auction_id": str(auction_id), "bidder_id": buyer.subject,
            "deposit_fen": state.terms.deposit_fen}


@router.post("/auctions/{auction_id}/bids", status_code=201, response_model=BidOut,
             dependencies=[per_account("bids")], responses=rate_limited("bids"))
async def place_bid(auction_id: uuid.UUID, body: BidIn, request: Request, buyer: Buyer
                    ) -> Response:
    """Bid; answered once the accepted bid is durable. A bid is never withdrawn."""
    answer = await engine_of(request).run(auction_id, bid(buyer.subject, body.amount_fen))
    if not answer.accepted:
        raise BidRefused(detail=f"The bid was rejected: {answer.reason}.", reason=answer.reason,
                         high_bid_fen=answer.high_bid_fen)
    # The hot path: serialise once, without FastAPI validating the response model again.
    return Response(BidOut.of(answer).model_dump_json(), status_code=201,
                    media_type="application/json")


@router.put("/auctions/{auction_id}/proxy", response_model=BidOut,
            dependencies=[per_account("bids")], responses=rate_limited("bids"))
async def set_proxy(auction_id: uuid.UUID, body: ProxyIn, request: Request, buyer: Buyer
                    ) -> BidOut:
    """Leave a secret maximum: the engine bids for you one increment at a time."""
    return BidOut.of(await engine_of(request).run(auction_id, proxy(buyer.subject,
                                                                     body.max_fen)))


@router.get("/auctions/{auction_id}/bids")
async def bids(auction_id: uuid.UUID, request: Request, _: Anyone,
               after: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    """The accepted bids in order (cursor: the last sequence number seen)."""
    rows = await store.bid_rows(runtime_of(request).pool, auction_id, after, limit)
    return [{"sequence": r["seq"], "bidder_id": r["bidder_id"], "amount_fen": r["amount_fen"],
             "at": r["at"].isoformat(), "automatic": r["automatic"]} for r in rows]


@router.get("/auctions/{auction_id}/stream")
async def stream(auction_id: uuid.UUID, request: Request, _: Anyone) -> EventSourceResponse:
    """Server-Sent Events: each accepted bid and the current end time, as they happen."""
    engine = engine_of(request)
    state = await engine.state(auction_id)
    queue = engine.watch(auction_id)

    async def events():
        try:
            yield {"event": "state", "data": json.dumps(
                AuctionOut.of(state, runtime_of(request).clock.now()).model_dump(mode="json"))}
            while True:
                try:
                    b, ends_at = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    yield {"event": "ping", "data": "{}"}
                    continue
                yield {"event": "bid", "id": str(b.sequence), "data": json.dumps({
                    "sequence": b.sequence, "bidder_id": b.bidder_id,
                    "amount_fen": b.amount_fen, "at": b.at.isoformat(), "automatic": b.automatic,
                    "ends_at": ends_at.isoformat()})}
        finally:
            engine.unwatch(auction_id, queue)

    return EventSourceResponse(events())
