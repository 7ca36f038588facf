"""The auction service's composition root."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from services.auction import listings, notice_routes, routes, trade_routes
from services.auction.config import AuctionSettings
from services.auction.consumer import HANDLERS
from services.auction.engine import CLOSE_DEADLINE, BidEngine, close
from shared.clock import Clock
from shared.scheduler import Deadline, Scheduler
from shared.service import Runtime, ServiceSpec, build_app
from shared.settings import CommonSettings


async def _start_engine(runtime: Runtime) -> None:
    settings: AuctionSettings = runtime.settings  # type: ignore[assignment]
    engine = BidEngine(runtime.pool, runtime.outbox, runtime.clock,
                       lease=timedelta(seconds=settings.lease_seconds),
                       max_batch=settings.max_batch)
    runtime.extras["engine"] = engine

    async def close_due(conn: asyncpg.Connection, deadline: Deadline) -> None:
        # The close commits in the writer's own transaction; closing twice is a no-op, so a
        # deadline fired again after a crash changes nothing.
        await engine.run(uuid.UUID(deadline.key), close())

    runtime.extras["scheduler"] = Scheduler(
        runtime.pool, settings.database_url, runtime.clock,
        {CLOSE_DEADLINE: close_due, **trade_routes.deadline_handlers(runtime),
         **notice_routes.deadline_handlers(runtime)},
        service="auction")


async def _keep_leases(runtime: Runtime) -> None:
    await runtime.extras["engine"].keep_leases()


async def _run_scheduler(runtime: Runtime) -> None:
    await runtime.extras["scheduler"].run()


async def _stop_engine(runtime: Runtime) -> None:
    await runtime.extras["engine"].stop()


def create_app(
    settings: AuctionSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    spec = ServiceSpec(
        name="auction",
        title="techex auction service",
        description=(
            "Auctions, listing trades (挂牌) and negotiated deals with public notice."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[routes.router, listings.router, trade_routes.router, notice_routes.router],
        handlers=HANDLERS,
        startup=(_start_engine,),
        background=(_keep_leases, _run_scheduler),
        shutdown=(_stop_engine,),
    )
    return build_app(spec, settings or AuctionSettings(), common,
                     run_background=run_background, clock=clock)
