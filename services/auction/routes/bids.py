"""Bids over HTTP: place a bid, leave a proxy maximum, read the bids; and the bid's own route.

The bid request's own route: the exchange's hottest request skips FastAPI's dependency
resolution and request-body machinery. Under load, resolving ``Depends(require(Role.BUYER))``
(bearer → principal → role) and the body model per request cost the service more CPU than the
bid engine itself (about a third of it in a profile of bench/bids.py). The plain Starlette
route :func:`install` places before the API's routes makes the same checks directly — the same
token verifier and role rule, the same per-account rate limit, the same body model, the same
handler — so its answers and problem documents are those of the documented route, which stays
in the OpenAPI document.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.routing import Route

from services.auction.domain.commands import AuctionCommand, BidAnswer, PlaceBid, SetProxy
from services.auction.domain.errors import BidRefused
from services.auction.handlers.engine import BidEngine
from services.auction.routes.forwarding import FORWARDED
from services.auction.schemas import BidIn, BidOut, BidView, ProxyIn, stored_bid, viewer_of
from services.auction.store import auctions as store
from shared.auth import Role, principal_with_role
from shared.bounds import Cursor
from shared.idempotency import HEADER, Answer, IdempotencyKey, Once, parse_key
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.ratelimit import TokenBuckets, per_account, rate_limited
from shared.roles import Anyone, Buyer
from shared.service import part, runtime_of

router = APIRouter(tags=["auctions"], responses=PROBLEM_RESPONSES)

Engine = Annotated[BidEngine, Depends(part(BidEngine))]


def engine_of(request: Request) -> BidEngine:
    return runtime_of(request).part(BidEngine)


async def run_command(engine: BidEngine, auction_id: uuid.UUID, command: AuctionCommand,
                      once: Once | None, render: Callable[[Any], Answer]) -> Response:
    """Run a command through the auction's writer and answer it; a keyed one is answered with
    what the engine stored for its key (see :meth:`BidEngine.run`)."""
    if once is not None:
        return (await engine.run(auction_id, command, once, render)).response()
    return render(await engine.run(auction_id, command)).response()


def _bid_answer(path: str, a: BidAnswer, status: int = 201) -> Answer:
    if not a.accepted:
        return Answer.problem(BidRefused(detail=f"The bid was rejected: {a.reason}.",
                                         reason=a.reason, high_bid_fen=a.high_bid_fen), path)
    return Answer.json(status, BidOut.of(a))


@router.post("/auctions/{auction_id}/bids", status_code=201, response_model=BidOut,
             dependencies=[per_account("bids")],
             responses={**FORWARDED, **rate_limited("bids")})
async def place_bid(auction_id: uuid.UUID, body: BidIn, request: Request, buyer: Buyer,
                    engine: Engine, key: IdempotencyKey = None) -> Response:
    """Bid; answered once the accepted bid is durable. A bid is never withdrawn. A rejected
    bid is answered 409 (and recorded: ``cn.techex.auction.bid_rejected.v1``)."""
    path = request.scope["path"]  # not request.url: building the URL costs more than the bid
    return await run_command(engine, auction_id, PlaceBid(buyer.subject, body.amount_fen),
                             await Once.of_request(request, buyer, key),
                             lambda a: _bid_answer(path, a))


@router.put("/auctions/{auction_id}/proxy", response_model=BidOut,
            dependencies=[per_account("bids")], responses={**FORWARDED, **rate_limited("bids")})
async def set_proxy(auction_id: uuid.UUID, body: ProxyIn, request: Request, buyer: Buyer,
                    engine: Engine, key: IdempotencyKey = None) -> Response:
    """Leave a secret maximum: the engine bids for you one increment at a time."""
    return await run_command(engine, auction_id, SetProxy(buyer.subject, body.max_fen),
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
    return [stored_bid(viewer, r) for r in await store.bid_rows(pool, auction_id, after, limit)]


# -- the bid's own route ------------------------------------------------------------------------

_BUYER = frozenset({Role.BUYER})
_BODY_MISSING = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}


async def _bid(request: Request, limit: TokenBuckets) -> Response:
    buyer = await principal_with_role(request, _BUYER)
    limit.check(buyer.subject)
    errors: list = []
    try:
        key = parse_key(request.headers.get(HEADER))
    except RequestValidationError as exc:
        errors += exc.errors()
    raw = await request.body()  # UTF-8 JSON under its Content-Type (shared.json_body), or none
    body = None
    try:
        body = BidIn.model_validate_json(raw) if raw else None
    except ValidationError as exc:
        errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    if not raw:
        errors.append(_BODY_MISSING)
    if errors:
        raise RequestValidationError(errors)
    assert body is not None
    return await place_bid(request.path_params["auction_id"], body, request, buyer,
                           engine_of(request), key)


def install(app: FastAPI) -> Route:
    """Serve ``POST /auctions/{id}/bids`` by :func:`_bid`, ahead of the documented route."""
    documented = next(r for r in router.routes if isinstance(r, APIRoute)
                      and r.path == "/auctions/{auction_id}/bids" and "POST" in r.methods)

    limit = app.state.rate_limits.bids  # the documented route's per_account("bids")

    async def bid(request: Request) -> Response:
        request.scope["route"] = documented  # metrics and traces name the documented route
        return await _bid(request, limit)

    route = Route("/auctions/{auction_id:uuid}/bids", bid, methods=["POST"],
                  include_in_schema=False)
    app.router.routes.insert(0, route)
    return route
