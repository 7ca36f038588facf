"""The settlement service's composition root: its routes, the event -> handler table, the
deadline handlers, the gauges' job and its one part, the books."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.settlement import consumer, handlers, metrics
from services.settlement.config import SettlementSettings, load_books
from services.settlement.domain.books import Books
from services.settlement.routes import bank, deals, deposits, ledger, sellers
from shared import known_listings
from shared.clock import Clock
from shared.known_listings import known_listings_router
from shared.scheduler import Handler as DeadlineHandler
from shared.service import Job, Part, Runtime, ServiceSpec, build_app
from shared.settings import CommonSettings

MIGRATIONS = [known_listings.MIGRATIONS, Path(__file__).parent / "migrations"]
"""The shared known-listings table first, then the service's own migrations."""


def _books(runtime: Runtime) -> Books:
    return load_books(runtime.settings, runtime.common.subplatforms)  # type: ignore[arg-type]


def _deadlines(runtime: Runtime) -> Mapping[str, DeadlineHandler]:
    """Release losers' deposits, detect overdue payments, default unpaid deals. Each decides
    from the deal's (or deposits') own state whether its deadline still applies."""
    books = runtime.part(Books)
    return {
        handlers.RELEASE: handlers.on_release_due,
        handlers.OVERDUE: lambda tx, deadline: handlers.on_payment_due(tx, deadline, books),
        handlers.DEFAULT: lambda tx, deadline: handlers.on_grace_over(tx, deadline, books),
    }


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
        migrations=MIGRATIONS,
        routers=[known_listings_router("settlement"), deposits.router, deals.router,
                 sellers.router, bank.router, ledger.router],
        parts=[Part(Books, _books)],
        handlers=lambda runtime: consumer.table(runtime.part(Books)),
        deadlines=_deadlines,
        jobs=[Job("settlement-gauges", _refresh_gauges, every=timedelta(seconds=5))],
        startup=(_refresh_gauges,),
    )
    return build_app(spec, settings or SettlementSettings(), common,
                     run_background=run_background, clock=clock)
