"""The auction service's public API (issue 14): announcements and results of the three pricing
routes, an auction's public state, bids and live stream, listing trades and notices — without a
token, rate-limited per client address — and objections to a notice from anyone.

Every answer is a ``Public*`` model of :mod:`services.auction.schemas`, built field by field:
bidders appear by their bid numbers (竞买号) only, objectors not at all.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from services.auction import handlers
from services.auction.domain.auction import Auction
from services.auction.routes.bids import Engine
from services.auction.routes.forwarding import FORWARDED
from services.auction.routes.stream import live, resume_at
from services.auction.schemas import (
    OpenObjectionIn,
    PublicAuction,
    PublicBid,
    PublicListingTrade,
    PublicNotice,
    PublicObjection,
    PublicProcedure,
    PublicProcedurePage,
    PublicStatus,
    Route,
    public_live_bid_json,
)
from services.auction.store import notices as notice_store
from services.auction.store import public as store
from shared.bounds import INT4_MAX, AwareTimestamp, Cursor
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES, documented, not_found, validation
from shared.ratelimit import client_address, per_address, rate_limited
from shared.regions import InvalidRegion, Region, RegionLevel
from shared.service import runtime_of

router = APIRouter(prefix="/public", tags=["public"], dependencies=[per_address("public")],
                   responses={**PROBLEM_RESPONSES, **rate_limited("public")})

Limit = Annotated[int, Query(ge=1, le=100, description="items per page")]
PageCursor = Annotated[str | None, Query(max_length=200, description=(
    "`next_cursor` of the previous page"))]
RegionCode = Annotated[str | None, Query(pattern=r"^[0-9]{6}$", description=(
    "a GB/T 2260 code: the procedures of that region and everything under it"))]

_PREFIX = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}


# -- keyset cursors -------------------------------------------------------------------------------

def _encode_cursor(at: datetime, procedure_id: uuid.UUID) -> str:
    raw = f"{at.astimezone(UTC).isoformat()}|{procedure_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, pid = raw.partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(pid)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise validation("The cursor is not one this service gave.", [
            {"field": "query.cursor", "message": "pass back a next_cursor unchanged"}]) from exc


def _region_prefix(region: str | None) -> str | None:
    if region is None:
        return None
    try:
        parsed = Region.parse(region)
    except InvalidRegion as exc:
        raise validation(str(exc), [{"field": "query.region", "message": str(exc)}]) from exc
    return parsed.code[:_PREFIX[parsed.level]]


async def _page(request: Request, query: store.ProcedureQuery, limit: int
                ) -> PublicProcedurePage:
    rows = await store.procedures(runtime_of(request).pool, query, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return PublicProcedurePage(
        items=[PublicProcedure.of_row(r) for r in rows],
        next_cursor=_encode_cursor(rows[-1]["key"], rows[-1]["id"]) if more else None)


# -- lists --------------------------------------------------------------------------------------

@router.get("/procedures", response_model=PublicProcedurePage)
async def procedures(
    request: Request,
    status: Annotated[PublicStatus | None, Query(description=(
        "on the service clock: upcoming, live (bidding or objections open now) or ended"))
    ] = None,
    route: Annotated[Route | None, Query(description="auction, listing or negotiated")] = None,
    region: RegionCode = None,
    field: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,50}$", description=(
        "the listing's technology field, e.g. new_materials"))] = None,
    starts_from: Annotated[AwareTimestamp | None, Query(alias="from", description=(
        "starting at or after this time"))] = None,
    starts_to: Annotated[AwareTimestamp | None, Query(alias="to", description=(
        "starting before this time"))] = None,
    cursor: PageCursor = None,
    limit: Limit = 20,
) -> PublicProcedurePage:
    """Announcements of auctions (拍卖公告), listing trades (挂牌) and negotiated deals under
    notice (协议定价公示), newest first, each with its result once it ended."""
    query = store.ProcedureQuery(
        now=runtime_of(request).clock.now(), status=status, route=route,
        region_prefix=_region_prefix(region), field=field, starts_from=starts_from,
        starts_to=starts_to, after=_decode_cursor(cursor))
    return await _page(request, query, limit)


@router.get("/results", response_model=PublicProcedurePage)
async def results(request: Request,
                  route: Annotated[Route | None, Query(description=(
                      "auction, listing or negotiated"))] = None,
                  region: RegionCode = None, cursor: PageCursor = None,
                  limit: Limit = 20) -> PublicProcedurePage:
    """Results (成交公告): the closed procedures, the latest first, with the hammer or deal
    price and the winner's bid number — or why they failed."""
    query = store.ProcedureQuery(
        now=runtime_of(request).clock.now(), route=route,
        region_prefix=_region_prefix(region), after=_decode_cursor(cursor), ended_only=True)
    return await _page(request, query, limit)


# -- auctions -----------------------------------------------------------------------------------

@router.get("/auctions/{auction_id}", response_model=PublicAuction)
async def auction(auction_id: uuid.UUID, request: Request) -> PublicAuction:
    """An auction's public state: terms, the current end, the high bid by bid number, the
    result once closed."""
    runtime = runtime_of(request)
    row = await store.auction(runtime.pool, auction_id)
    if row is None:
        raise not_found(f"No auction {auction_id}.")
    return PublicAuction.of_row(row, runtime.clock.now())


@router.get("/auctions/{auction_id}/bids", response_model=list[PublicBid])
async def bids(auction_id: uuid.UUID, request: Request,
               after: Annotated[Cursor, Query()] = 0,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[PublicBid]:
    """The accepted bids after sequence ``after``, oldest first, by bid number."""
    pool = runtime_of(request).pool
    rows = await store.bids(pool, auction_id, after, limit)
    if not rows and not await store.auction_exists(pool, auction_id):
        raise not_found(f"No auction {auction_id}.")
    return [PublicBid.of_row(r) for r in rows]


@router.get("/auctions/{auction_id}/stream", responses={
    200: {"description": "Server-Sent Events: `state` (a PublicAuction) first, then `bid` "
                         "(a PublicLiveBid, id its sequence number), `extended` (the moved "
                         "end), `closed` (the result; the stream ends) and `ping` events",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
    **FORWARDED})
async def stream(
    auction_id: uuid.UUID, request: Request, engine: Engine,
    after: Annotated[int | None, Query(ge=0, le=INT4_MAX, description=(
        "resume after this bid sequence number: the accepted bids after it are sent first"
    ))] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=INT4_MAX,
                                                description=(
        "sent by an EventSource that reconnects: the last bid it received; wins over "
        "`after`"))] = None,
) -> Response:
    """The auction live, as ``/auctions/{id}/stream`` streams it to a reader without a token:
    bidders by bid number, a reconnect with ``Last-Event-ID`` (or ``?after=``) first gets the
    bids it missed; a request reaching a process that does not write the auction is passed
    on to the one that does."""
    runtime = runtime_of(request)
    title = await store.auction_title(runtime.pool, auction_id)
    if title is None:
        raise not_found(f"No auction {auction_id}.")
    state, numbers = await engine.view(auction_id)

    def render_state(a: Auction, seen: Mapping[str, int]) -> dict:
        return PublicAuction.of_state(a, runtime.clock.now(), seen, title).model_dump(
            mode="json")

    def render_bid(sequence: int, bidder_id: str, number: int | None, amount_fen: int,
                   at: datetime, automatic: bool, ends_at: datetime) -> dict:
        return public_live_bid_json(sequence=sequence, number=number, amount_fen=amount_fen,
                                    at=at, automatic=automatic, ends_at=ends_at)

    return live(request, engine, auction_id, state, numbers, resume_at(last_event_id, after),
                render_state, render_bid, follow_end=True)


# -- listing trades and notices -------------------------------------------------------------------

@router.get("/listing-trades/{trade_id}", response_model=PublicListingTrade)
async def listing_trade(trade_id: uuid.UUID, request: Request) -> PublicListingTrade:
    """A listing trade's public state (挂牌交易): the listed price, its periods, the bidding
    and the result."""
    row = await store.listing_trade(runtime_of(request).pool, trade_id)
    if row is None:
        raise not_found(f"No listing trade {trade_id}.")
    return PublicListingTrade.of_row(row)


@router.get("/notices/{notice_id}", response_model=PublicNotice)
async def notice(notice_id: uuid.UUID, request: Request) -> PublicNotice:
    """A negotiated deal's notice (协议定价公示) with its objections and their outcomes; who
    objected is never shown."""
    async with runtime_of(request).pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        found = await notice_store.load_notice(conn, notice_id)
        title = await store.listing_title(conn, found.listing_id) if found else ""
    if found is None:
        raise not_found(f"No notice {notice_id}.")
    return PublicNotice.of(found, title)


@router.post("/notices/{notice_id}/objections", status_code=201, response_model=PublicObjection,
             responses={409: documented("The notice's objection period is over")})
async def file_objection(notice_id: uuid.UUID, body: OpenObjectionIn, request: Request,
                         key: IdempotencyKey = None) -> Response:
    """Object to the notice (异议) without an account, while it runs: the reason is published
    with the objection and its outcome; the name and contact only the operators see."""
    once = await Once.of_request(request, f"public:{client_address(request)}", key)
    async with runtime_of(request).transaction(once) as tx:
        objection = await handlers.file_public_objection(
            tx, notice_id, body.name.strip(), body.contact.strip(), body.reason)
        return tx.answer(201, PublicObjection.of(objection))
