"""The auction service's composition root."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from services.auction import handlers
from services.auction.config import AuctionSettings, load_calendar_file
from services.auction.consumer import HANDLERS
from services.auction.handlers.engine import BidEngine
from services.auction.metrics import count_procedures
from services.auction.routes import auctions, bids, notices, public, stream, trades
from services.auction.routes.forwarding import Forwarder
from services.auction.routes.forwarding import install as install_forwarding
from shared import known_listings
from shared.clock import Clock
from shared.known_listings import known_listings_router
from shared.scheduler import Handler as DeadlineHandler
from shared.service import Job, Part, Runtime, ServiceSpec, build_app
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

MIGRATIONS = [known_listings.MIGRATIONS, Path(__file__).parent / "migrations"]
"""The shared known-listings table first, then the service's own migrations."""


def _engine(runtime: Runtime) -> BidEngine:
    settings: AuctionSettings = runtime.settings  # type: ignore[assignment]
    if settings.calendar_file:
        years = load_calendar_file(settings.calendar_file)
        log.info("working-day calendars of %s read from %s", years, settings.calendar_file)
    return BidEngine(runtime.pool, runtime.outbox, runtime.clock, url=settings.own_url(),
                     lease=timedelta(seconds=settings.lease_seconds),
                     max_batch=settings.max_batch,
                     idle=timedelta(seconds=settings.idle_seconds),
                     commit_lanes=settings.commit_lanes)


def _deadlines(runtime: Runtime) -> dict[str, DeadlineHandler]:
    return {
        handlers.CLOSE_DEADLINE: partial(handlers.on_auction_close_due,
                                         engine=runtime.part(BidEngine)),
        handlers.PERIOD_END: handlers.on_trade_period_end,
        handlers.BIDDING_CLOSE: handlers.on_trade_bidding_close,
        handlers.NOTICE_END: handlers.on_notice_end,
    }


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
        migrations=MIGRATIONS,
        routers=[auctions.router, bids.router, stream.router, known_listings_router("auction"),
                 trades.router, notices.router, public.router],
        handlers=HANDLERS,
        parts=[Part(BidEngine, _engine, run=BidEngine.keep_leases, stop=BidEngine.stop)],
        deadlines=_deadlines,
        jobs=[Job("procedure-gauges", count_procedures, every=timedelta(seconds=15))],
        shutdown=(close_forwarder,),
    )
    app = build_app(spec, settings, common, run_background=run_background, clock=clock)
    install_forwarding(app, forwarder)
    bids.install(app)
    return app
