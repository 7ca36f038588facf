"""A request for an auction that another auction-service process writes is forwarded there.

Exactly one process writes an auction (see :mod:`services.auction.handlers.engine`); behind a
load balancer the others receive its bids too. Instead of refusing them, a process passes the
request on to the owner's advertised URL and relays the answer as it comes (an SSE stream
included). A request is forwarded at most once: if the process it reaches does not own the
auction either (the lease moved in between), that process answers 409 and the client retries.
When the owner cannot be reached — it died and its lease has not lapsed yet — the answer is
503 with ``Retry-After``: the next process to touch the auction after the lease takes it over.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import FastAPI, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from services.auction.domain.errors import OwnedElsewhere, OwnerUnreachable
from shared.problem_handlers import problem_response
from shared.problems import documented

log = logging.getLogger(__name__)

FORWARDED_BY = "x-techex-forwarded-by"
_PASSED_ON = ("authorization", "content-type", "accept", "idempotency-key", "last-event-id",
              "traceparent")
_RELAYED = ("content-type", "cache-control", "retry-after", "location", "traceparent")


FORWARDED = {503: documented(
    "The process that writes this auction does not answer (it is being taken over); retry "
    "after the time given", retry_after=True)}
"""What a request the writer of the auction must answer can get when it is forwarded."""


class Forwarder:
    def __init__(self, own_url: str | None, retry_after: float) -> None:
        self.own_url = own_url
        self.retry_after = max(1, round(retry_after))
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(30, connect=2),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))

    async def close(self) -> None:
        await self.client.aclose()

    async def __call__(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OwnedElsewhere)
        target = exc.owner_url
        if (self.own_url is None or not target or target == self.own_url
                or FORWARDED_BY in request.headers):
            return problem_response(exc, request)
        headers = {k: v for k, v in request.headers.items() if k in _PASSED_ON}
        headers[FORWARDED_BY] = self.own_url
        upstream_request = self.client.build_request(
            request.method, target + request.url.path, params=request.query_params,
            content=await request.body(), headers=headers)
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except httpx.HTTPError as error:
            log.warning("owner %s of %s unreachable: %s", target, request.url.path, error)
            return problem_response(OwnerUnreachable(
                detail="The auction's writer does not answer; another process takes the "
                       "auction over once its lease lapses.",
                headers={"Retry-After": str(self.retry_after)}), request)
        return StreamingResponse(
            upstream.aiter_raw(), status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k in _RELAYED},
            background=BackgroundTask(upstream.aclose))


def install(app: FastAPI, forwarder: Forwarder) -> None:
    app.add_exception_handler(OwnedElsewhere, forwarder)
