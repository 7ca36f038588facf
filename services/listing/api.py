"""The listing service's composition root."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.listing import handlers
from services.listing.config import ListingSettings
from services.listing.consumer import HANDLERS
from services.listing.metrics import refresh_gauges
from services.listing.routes import (
    achievements,
    demands,
    interests,
    notifications,
    public,
    search,
    watches,
    webhooks,
)
from shared.clock import Clock
from shared.service import Job, ServiceSpec, build_app
from shared.settings import CommonSettings


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
        routers=[achievements.router, demands.router, interests.router, search.router,
                 public.router, notifications.router, watches.router, webhooks.router],
        handlers=HANDLERS,
        derive=handlers.public_catalog,
        deadlines={handlers.EXPIRY: handlers.on_expiry_due,
                   handlers.NOTIFY_ENDING: handlers.on_ending_due},
        jobs=[Job("listing-gauges", refresh_gauges,
                  every=timedelta(seconds=settings.gauge_refresh_seconds)),
              Job("listing-webhooks", handlers.deliver_webhooks,
                  every=timedelta(seconds=settings.webhook_poll_seconds))],
    )
    return build_app(spec, settings, common,
                     run_background=run_background, clock=clock)
