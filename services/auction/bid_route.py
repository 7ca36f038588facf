"""The bid request's own route: the exchange's hottest request skips FastAPI's dependency
resolution and request-body machinery.

Under load, resolving ``Depends(require(Role.BUYER))`` (bearer → principal → role) and the
body model per request cost the service more CPU than the bid engine itself (about a third of
it in a profile of bench/bids.py). This plain Starlette route, placed before the API's routes,
makes the same checks directly — the same token verifier and role rule, the same per-account
rate limit, the same body model, the same handler — so its answers and problem documents are
those of the documented route, which stays in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.routing import Route

from services.auction import routes
from shared.auth import Role, principal_with_role
from shared.idempotency import HEADER, parse_key
from shared.ratelimit import TokenBuckets

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
        body = routes.BidIn.model_validate_json(raw) if raw else None
    except ValidationError as exc:
        errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    if not raw:
        errors.append(_BODY_MISSING)
    if errors:
        raise RequestValidationError(errors)
    assert body is not None
    return await routes.place_bid(request.path_params["auction_id"], body, request, buyer, key)


def install(app: FastAPI) -> Route:
    """Serve ``POST /auctions/{id}/bids`` by :func:`_bid`, ahead of the documented route."""
    documented = next(r for r in routes.router.routes if isinstance(r, APIRoute)
                      and r.path == "/auctions/{auction_id}/bids" and "POST" in r.methods)

    limit = app.state.rate_limits.bids  # the documented route's per_account("bids")

    async def bid(request: Request) -> Response:
        request.scope["route"] = documented  # metrics and traces name the documented route
        return await _bid(request, limit)

    route = Route("/auctions/{auction_id:uuid}/bids", bid, methods=["POST"],
                  include_in_schema=False)
    app.router.routes.insert(0, route)
    return route
