"""The registry service's composition root and HTTP API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.registry import consumer
from services.registry.config import RegistrySettings
from services.registry.metrics import refresh_gauges
from services.registry.routes import contracts, national, public, statistics, subplatforms
from shared import known_listings
from shared.clock import Clock
from shared.known_listings import known_listings_router
from shared.service import Job, ServiceSpec, build_app
from shared.settings import CommonSettings

MIGRATIONS = [known_listings.MIGRATIONS, Path(__file__).parent / "migrations"]
"""The shared known-listings table first, then the service's own migrations."""


def create_app(
    settings: RegistrySettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or RegistrySettings()
    spec = ServiceSpec(
        name="registry",
        title="techex registry service",
        description=(
            "Technology-contract registration (技术合同认定登记) and the regional statistics."
        ),
        migrations=MIGRATIONS,
        routers=[known_listings_router("registry"), contracts.router, statistics.router,
                 national.router, public.router, national.public_router, subplatforms.router,
                 subplatforms.root_router],
        handlers=lambda runtime: consumer.table(runtime.common),
        jobs=[Job("registry-gauges", refresh_gauges,
                  every=timedelta(seconds=settings.gauge_seconds))],
    )
    return build_app(spec, settings, common,
                     run_background=run_background, clock=clock)
