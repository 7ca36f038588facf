"""The auction service's composition root."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Gauge

from services.auction import bid_route, notice_routes, routes, trade_routes
from services.auction.calendar_file import load_calendar_file
from services.auction.config import AuctionSettings
from services.auction.consumer import HANDLERS
from services.auction.engine import CLOSE_DEADLINE, BidEngine, OwnedElsewhere, close
from services.auction.forwarding import Forwarder
from services.auction.forwarding import install as install_forwarding
from shared.clock import Clock
from shared.context import Tx
from shared.known_listings import known_listings_router
from shared.scheduler import Deadline, schedule
from shared.scheduler import Handler as DeadlineHandler
from shared.service import Job, Part, Runtime, ServiceSpec, build_app
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

CLOSE_RECHECK = timedelta(seconds=1)
"""How soon a fired close deadline looks again whether its auction now reads closed."""


def _engine(runtime: Runtime) -> BidEngine:
    settings: AuctionSettings = runtime.settings  # type: ignore[assignment]
    if settings.calendar_file:
        years = load_calendar_file(settings.calendar_file)
        log.info("working-day calendars of %s read from %s", years, settings.calendar_file)
    return BidEngine(runtime.pool, runtime.outbox, runtime.clock, url=settings.own_url(),
                     lease=timedelta(seconds=settings.lease_seconds),
                     max_batch=settings.max_batch)


def _deadlines(runtime: Runtime) -> dict[str, DeadlineHandler]:
    engine = runtime.part(BidEngine)

    async def close_due(tx: Tx, deadline: Deadline) -> None:
        """Hand the close to the auction's writer and look again shortly, without waiting.

        Waiting here would hold this deadline's row lock while the writer may be saving a
        last-second bid that moves this very deadline, and needs that lock: each would wait
        for the other. So the close is queued (a no-op if the end moved or it is closed),
        and the deadline is due again after CLOSE_RECHECK until the auction reads closed.
        """
        auction_id = uuid.UUID(deadline.key)
        status = await tx.conn.fetchval("SELECT status FROM auctions WHERE id = $1", auction_id)
        if status is None or status in ("closed", "failed"):
            return
        # Every process's scheduler may take the deadline; only the writer can close. A process
        # that does not write the auction just looks again later (or takes it over once a dead
        # writer's lease has lapsed).
        with contextlib.suppress(OwnedElsewhere):
            await engine.submit(auction_id, close())
        await schedule(tx.conn, CLOSE_DEADLINE, deadline.key, tx.now() + CLOSE_RECHECK)

    return {CLOSE_DEADLINE: close_due, **trade_routes.deadline_handlers(runtime),
            **notice_routes.deadline_handlers(runtime)}


ACTIVE = Gauge("techex_auction_procedures", "Pricing procedures by route and status",
               ["route", "status"])


async def _count_procedures(runtime: Runtime) -> None:
    """Keep the procedures gauge (active auctions, trades, notices) current."""
    rows = await runtime.pool.fetch(
        "SELECT 'auction' AS route, status, count(*) AS n FROM auctions GROUP BY status"
        " UNION ALL SELECT 'listing', status, count(*) FROM listing_trades GROUP BY status"
        " UNION ALL SELECT 'negotiated', status, count(*) FROM notices GROUP BY status")
    for r in rows:
        ACTIVE.labels(r["route"], r["status"]).set(r["n"])


def create_app(
    settings: AuctionSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or AuctionSettings()
    forwarder = Forwarder(settings.own_url(), settings.lease_seconds)

    async def close_forwarder(runtime: Runtime) -> None:
        await forwarder.close()

    spec = ServiceSpec(
        name="auction",
        title="techex auction service",
        description=(
            "Auctions, listing trades (挂牌) and negotiated deals with public notice."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[routes.router, known_listings_router("auction"), trade_routes.router,
                 notice_routes.router],
        handlers=HANDLERS,
        parts=[Part(BidEngine, _engine, run=BidEngine.keep_leases, stop=BidEngine.stop)],
        deadlines=_deadlines,
        jobs=[Job("procedure-gauges", _count_procedures, every=timedelta(seconds=15))],
        shutdown=(close_forwarder,),
    )
    app = build_app(spec, settings, common, run_background=run_background, clock=clock)
    install_forwarding(app, forwarder)
    bid_route.install(app)
    return app
