"""The settlement service's composition root."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

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
from shared.clock import Clock
from shared.context import Tx
from shared.known_listings import known_listings_router
from shared.scheduler import Deadline
from shared.scheduler import Handler as DeadlineHandler
from shared.service import Job, Part, Runtime, ServiceSpec, build_app
from shared.settings import CommonSettings


def deadline_handlers(books: Books) -> Mapping[str, DeadlineHandler]:
    """Release losers' deposits, detect overdue payments, default unpaid deals. Each decides
    from the deal's (or deposits') own state whether its deadline still applies."""

    def publish(tx: Tx, out: Outcome) -> None:
        tx.publish(*out.events)
        out.count()

    async def release(tx: Tx, d: Deadline) -> None:
        publish(tx, await settling.release_deposits(tx.conn, books, uuid.UUID(d.key),
                                                    "not-the-winner"))

    async def overdue(tx: Tx, d: Deadline) -> None:
        publish(tx, await settling.check_overdue(tx.conn, books, uuid.UUID(d.key)))

    async def default(tx: Tx, d: Deadline) -> None:
        publish(tx, await settling.check_default(tx.conn, books, uuid.UUID(d.key)))

    return {RELEASE: release, OVERDUE: overdue, DEFAULT: default}


def _books(runtime: Runtime) -> Books:
    return Books.from_settings(runtime.settings, runtime.clock)  # type: ignore[arg-type]


async def _refresh_gauges(runtime: Runtime) -> None:
    await metrics.refresh(runtime.pool)


def create_app(
    settings: SettlementSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    spec = ServiceSpec(
        name="settlement",
        title="techex settlement service",
        description=(
            "Deposits, payments, fees, income split and subsidies on a double-entry ledger."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[known_listings_router("settlement"), routes.router, bank_routes.router,
                 ledger_routes.router],
        parts=[Part(Books, _books)],
        handlers=lambda runtime: consumer.handlers(runtime.part(Books)),
        deadlines=lambda runtime: deadline_handlers(runtime.part(Books)),
        jobs=[Job("settlement-gauges", _refresh_gauges, every=timedelta(seconds=5))],
        startup=(_refresh_gauges,),
    )
    return build_app(spec, settings or SettlementSettings(), common,
                     run_background=run_background, clock=clock)
