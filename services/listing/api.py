"""The listing service's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.listing.config import ListingSettings
from services.listing.consumer import HANDLERS
from services.listing.metrics import refresh_gauges, sweep_expired
from services.listing.routes import achievements, demands
from shared.clock import Clock
from shared.service import Job, ServiceSpec, build_app
from shared.settings import CommonSettings


def _routers() -> list:
    routers = [achievements.router, demands.router]
    try:
        from services.listing.routes import search
    except ImportError:  # pragma: no cover - while search is being built
        return routers
    return [*routers, search.router]


def create_app(
    settings: ListingSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or ListingSettings()
    spec = ServiceSpec(
        name="listing",
        title="techex listing service",
        description="Research achievements (科技成果) and technology demands: filing, review by "
        "region, Chinese search and matching.",
        migrations=Path(__file__).parent / "migrations",
        routers=_routers(),
        handlers=HANDLERS,
        jobs=[Job("listing-gauges", refresh_gauges,
                  every=timedelta(seconds=settings.gauge_refresh_seconds)),
              Job("expiry-sweep", sweep_expired,
                  every=timedelta(seconds=settings.expiry_sweep_seconds))],
    )
    return build_app(spec, settings, common,
                     run_background=run_background, clock=clock)
