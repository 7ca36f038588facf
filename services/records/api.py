"""The records service's composition root and HTTP API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.records import consumer, handlers
from services.records.config import RecordsSettings
from services.records.handlers import Signer
from services.records.metrics import refresh_gauges
from services.records.routes import certificates, chain, dossiers, procedures, reports
from shared.clock import Clock
from shared.service import Job, Part, ServiceSpec, build_app
from shared.settings import CommonSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: RecordsSettings | None = None,
    common: CommonSettings | None = None,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or RecordsSettings()
    spec = ServiceSpec(
        name="records",
        title="techex records service",
        description=(
            "The exchange's record: every event kept for good in a hash-chained archive, "
            "procedure dossiers, transaction and registration certificates verifiable online, "
            "annual conversion reports (成果转化年度报告) and the regulator's queries."
        ),
        migrations=MIGRATIONS,
        routers=[dossiers.router, certificates.router, certificates.public_router,
                 reports.router, procedures.router, chain.router, chain.public_router],
        parts=[Part(Signer, lambda runtime: Signer(settings, runtime.common))],
        handlers=lambda runtime: consumer.table(handlers.reactions(runtime)),
        consume_own_public=True,
        startup=[handlers.load_signer, handlers.check_font],
        jobs=[Job("records-certificates", handlers.render_certificates,
                  every=timedelta(seconds=settings.render_seconds)),
              Job("records-digest", handlers.publish_digests,
                  every=timedelta(seconds=settings.digest_check_seconds)),
              Job("records-gauges", refresh_gauges,
                  every=timedelta(seconds=settings.gauge_seconds))],
    )
    return build_app(spec, settings, common, run_background=run_background, clock=clock)
