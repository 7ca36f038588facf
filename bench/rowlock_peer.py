"""The design most auction backends use, as a peer for bench/bids.py to measure beside ours.

One transaction per bid: ``SELECT … FOR UPDATE`` on the auction row, the checks (open, amount
at least the high bid plus the increment and on its grid, bidder qualified, not outbidding
oneself), ``INSERT`` the bid, ``UPDATE`` the auction's high bid, commit, answer. A benchmark
fixture, not a product path: it has tables of its own (created here, in a throw-away database
the benchmark gives it) and answers only what the benchmark sends.

Everything around the bid is the auction service's, so that only the design differs: uvicorn
started as `techex serve` starts it (one worker, the same event loop and HTTP implementation),
the same middleware (JSON body, HTTP metrics, trace context), the same token verifier and role
rule, the same per-account rate limit, the same request and answer models and problem
documents, the same ``Idempotency-Key`` handling (claimed and answered in the bid's
transaction), the same pool settings. What it does not do that the service does: write
events to an outbox and relay them to Kafka, record refused bids, proxy bidding.

    .venv/bin/python bench/rowlock_peer.py --port 8080   # ROW_LOCK_PEER_DATABASE_URL=…
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from starlette.routing import Route

from services.auction.domain.bidding import RejectReason
from services.auction.domain.commands import BidAnswer
from services.auction.domain.errors import BidRefused, UnknownAuction
from services.auction.schemas import BidIn, BidOut
from shared import idempotency
from shared.auth import Role, install_auth, principal_with_role
from shared.clock import Clock, SystemClock
from shared.db import create_pool, migrate
from shared.idempotency import HEADER, Answer, Once, parse_key
from shared.json_body import JsonBodyMiddleware
from shared.logs import configure_logging
from shared.metrics import install_metrics
from shared.problem_handlers import install_problem_handlers
from shared.ratelimit import install_rate_limits
from shared.service import Health
from shared.settings import CommonSettings, ServiceSettings
from shared.tracing import TraceMiddleware

NAME = "row-lock-peer"

SCHEMA = """
CREATE TABLE IF NOT EXISTS auctions (
    id                uuid PRIMARY KEY,
    start_price_fen   bigint      NOT NULL CHECK (start_price_fen > 0),
    increment_fen     bigint      NOT NULL CHECK (increment_fen > 0),
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    extension_seconds integer     NOT NULL DEFAULT 300,
    closed_at         timestamptz,
    high_bid_fen      bigint,
    high_bidder       text,
    bid_count         integer     NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bidders (
    auction_id   uuid NOT NULL REFERENCES auctions (id),
    bidder_id    text NOT NULL,
    qualified_at timestamptz,
    PRIMARY KEY (auction_id, bidder_id)
);
CREATE TABLE IF NOT EXISTS bids (
    auction_id uuid        NOT NULL REFERENCES auctions (id),
    seq        integer     NOT NULL,
    bidder_id  text        NOT NULL,
    amount_fen bigint      NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (auction_id, seq)
);
"""
"""The peer's tables: the auction service's columns where they mean the same (bench/bids.py
checks both bid tables with the same queries). The idempotency keys are in the table every
service has (shared/migrations)."""

_LOCK = """
SELECT a.start_price_fen, a.increment_fen, a.starts_at, a.ends_at, a.extension_seconds,
       a.closed_at, a.high_bid_fen, a.high_bidder, a.bid_count,
       EXISTS (SELECT 1 FROM bidders b WHERE b.auction_id = a.id AND b.bidder_id = $2
               AND b.qualified_at IS NOT NULL) AS qualified
FROM auctions a WHERE a.id = $1 FOR UPDATE OF a
"""
_INSERT = ("INSERT INTO bids (auction_id, seq, bidder_id, amount_fen, at)"
           " VALUES ($1, $2, $3, $4, $5)")
_UPDATE = ("UPDATE auctions SET high_bid_fen = $2, high_bidder = $3, bid_count = $4, ends_at = $5"
           " WHERE id = $1")

_BUYER = frozenset({Role.BUYER})


class PeerSettings(ServiceSettings):
    """The service's settings (pool size and timeouts included), under a prefix of its own."""

    model_config = SettingsConfigDict(env_prefix="ROW_LOCK_PEER_", extra="ignore")

    port: int = 8090


async def create_schema(conn: asyncpg.Connection) -> None:
    await migrate(conn)  # the shared plumbing: idempotency keys
    await conn.execute(SCHEMA)


async def open_auction(conn: asyncpg.Connection, *, start_price_fen: int, increment_fen: int,
                       starts_at: datetime, ends_at: datetime, bidders: Iterable[str],
                       qualified_at: datetime) -> uuid.UUID:
    """An auction open for bidding, with ``bidders`` qualified (their deposits confirmed)."""
    auction_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO auctions (id, start_price_fen, increment_fen, starts_at, ends_at)"
        " VALUES ($1, $2, $3, $4, $5)", auction_id, start_price_fen, increment_fen, starts_at,
        ends_at)
    await conn.executemany(
        "INSERT INTO bidders (auction_id, bidder_id, qualified_at) VALUES ($1, $2, $3)",
        [(auction_id, b, qualified_at) for b in bidders])
    return auction_id


def refusal(row: asyncpg.Record, bidder_id: str, amount_fen: int, at: datetime
            ) -> RejectReason | None:
    """Why the locked auction ``row`` refuses the bid, in the order the auction checks."""
    if row["closed_at"] is not None or at >= row["ends_at"]:
        return RejectReason.AFTER_CLOSE
    if at < row["starts_at"]:
        return RejectReason.NOT_OPEN
    if not row["qualified"]:
        return RejectReason.NOT_QUALIFIED
    high, start, step = row["high_bid_fen"], row["start_price_fen"], row["increment_fen"]
    if high is not None and row["high_bidder"] == bidder_id:
        return RejectReason.OWN_HIGH_BID
    if amount_fen < (start if high is None else high + step):
        return RejectReason.BELOW_MINIMUM
    if (amount_fen - start) % step:
        return RejectReason.NOT_MULTIPLE
    return None


async def place_bid(conn: asyncpg.Connection, auction_id: uuid.UUID, bidder_id: str,
                    amount_fen: int, clock: Clock) -> BidAnswer:
    """Check and write one bid, timed once it holds the auction row (which the caller's
    transaction holds until it commits)."""
    row = await conn.fetchrow(_LOCK, auction_id, bidder_id)
    if row is None:
        raise UnknownAuction(f"No auction {auction_id}.")
    at = clock.now()
    reason = refusal(row, bidder_id, amount_fen, at)
    if reason is not None:
        return BidAnswer(accepted=False, reason=reason.value, sequence=None,
                         amount_fen=amount_fen, high_bid_fen=row["high_bid_fen"],
                         ends_at=row["ends_at"])
    sequence = row["bid_count"] + 1
    window = timedelta(seconds=row["extension_seconds"])
    ends_at = max(row["ends_at"], at + window)  # a bid near the end moves it (anti-sniping)
    await conn.execute(_INSERT, auction_id, sequence, bidder_id, amount_fen, at)
    await conn.execute(_UPDATE, auction_id, amount_fen, bidder_id, sequence, ends_at)
    return BidAnswer(accepted=True, reason=None, sequence=sequence, amount_fen=amount_fen,
                     high_bid_fen=amount_fen, ends_at=ends_at)


def answer(a: BidAnswer, path: str) -> Answer:
    """The auction service's answer to a bid: 201 with the bid, or 409 auction-bid-rejected."""
    if not a.accepted:
        return Answer.problem(BidRefused(detail=f"The bid was rejected: {a.reason}.",
                                         reason=a.reason, high_bid_fen=a.high_bid_fen), path)
    return Answer.json(201, BidOut.of(a))


def create_app(settings: PeerSettings | None = None, common: CommonSettings | None = None,
               clock: Clock | None = None) -> FastAPI:
    settings = settings or PeerSettings()
    common = common or CommonSettings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(NAME, common.log_level)
        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
            acquire_timeout=settings.db_acquire_timeout,
            command_timeout=settings.db_command_timeout,
            connect_timeout=settings.db_connect_timeout)
        async with pool.acquire() as conn:
            await create_schema(conn)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="row-lock peer of the auction service", lifespan=lifespan)
    install_problem_handlers(app)
    install_auth(app, common)
    app.add_middleware(JsonBodyMiddleware)
    install_metrics(app, NAME)
    app.add_middleware(TraceMiddleware)
    limit = install_rate_limits(app, common, NAME).bids

    async def bid(request: Request) -> Response:
        buyer = await principal_with_role(request, _BUYER)
        limit.check(buyer.subject)
        key = parse_key(request.headers.get(HEADER))
        try:
            body = BidIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                          for e in exc.errors(include_url=False)]) from None
        once = await Once.of_request(request, buyer, key)
        path = request.url.path
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            if once is not None:
                stored = await idempotency.claim(conn, once)
                if stored is not None:
                    return stored.response()
            given = answer(await place_bid(conn, request.path_params["auction_id"],
                                           buyer.subject, body.amount_fen, clock), path)
            if once is not None:
                await idempotency.remember(conn, once, given)
        return given.response()

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        """The trivial endpoint, declared as the service declares its own."""
        return {"status": "ok", "service": NAME}

    @app.get("/readyz")
    async def readyz(request: Request) -> dict[str, str]:
        await request.app.state.pool.fetchval("SELECT 1")
        return {"status": "ready"}

    # First in the table, as the service's own bid route.
    app.router.routes.insert(0, Route("/auctions/{auction_id:uuid}/bids", bid, methods=["POST"]))
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=None)
    args = p.parse_args()
    settings = PeerSettings()
    # As `techex serve` runs a service: one worker, uvicorn's default loop and HTTP (uvloop
    # and httptools when installed), no access log.
    uvicorn.run(lambda: create_app(settings), factory=True, host=settings.host,
                port=args.port or settings.port, log_config=None, access_log=False,
                lifespan="on")


if __name__ == "__main__":
    main()
