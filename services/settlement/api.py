"""The settlement service's composition root."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from services.settlement import (
    bank_routes,
    consumer,
    ledger_routes,
    metrics,
    routes,
    settling,
)
from services.settlement.books import Books
from services.settlement.config import SettlementSettings
from services.settlement.settling import DEFAULT, OVERDUE, RELEASE, Outcome
from shared.clock import Clock, clock_from
from shared.known_listings import known_listings_router
from shared.scheduler import Deadline, Scheduler
from shared.service import Runtime, ServiceSpec, build_app
from shared.settings import CommonSettings


def deadline_handlers(books: Books):
    """Release losers' deposits, detect overdue payments, default unpaid deals. Each decides
    from the deal's (or deposits') own state whether its deadline still applies."""

    async def publish(conn: asyncpg.Connection, out: Outcome) -> None:
        for event in out.events:  # each event under its own region
            await consumer.OUTBOX.add(conn, [event], region=event.region)
        out.count()

    async def release(conn: asyncpg.Connection, d: Deadline) -> None:
        await publish(conn, await settling.release_deposits(conn, books, uuid.UUID(d.key),
                                                            "not-the-winner"))

    async def overdue(conn: asyncpg.Connection, d: Deadline) -> None:
        await publish(conn, await settling.check_overdue(conn, books, uuid.UUID(d.key)))

    async def default(conn: asyncpg.Connection, d: Deadline) -> None:
        await publish(conn, await settling.check_default(conn, books, uuid.UUID(d.key)))

    return {RELEASE: release, OVERDUE: overdue, DEFAULT: default}


def create_app(
    settings: SettlementSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or SettlementSettings()
    common = common or CommonSettings()
    clock = clock or clock_from(common.clock_shift_file)  # what build_app would choose
    books = Books.from_settings(settings, clock)

    async def start(runtime: Runtime) -> None:
        runtime.extras["books"] = books
        runtime.extras["scheduler"] = Scheduler(
            runtime.pool, settings.database_url, runtime.clock, deadline_handlers(books),
            service="settlement")
        await metrics.refresh(runtime.pool)

    async def run_scheduler(runtime: Runtime) -> None:
        await runtime.extras["scheduler"].run()

    async def keep_gauges(runtime: Runtime) -> None:
        await metrics.keep_fresh(runtime.pool)

    spec = ServiceSpec(
        name="settlement",
        title="techex settlement service",
        description=(
            "Deposits, payments, fees, income split and subsidies on a double-entry ledger."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[known_listings_router("settlement"), routes.router, bank_routes.router,
                 ledger_routes.router],
        handlers=consumer.handlers(books),
        startup=(start,),
        background=(run_scheduler, keep_gauges),
    )
    return build_app(spec, settings, common, run_background=run_background, clock=clock)
