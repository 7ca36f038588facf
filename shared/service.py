"""What every service process is made of, composed once: API, outbox relay, event consumer.

A service's ``api.create_app`` describes itself with a ``ServiceSpec``; ``build_app`` wires the
database pool, migrations, topics, the idempotent producer, the relay, the consumer runner, the
health endpoints, metrics, auth and problem+json errors around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from shared.auth import install_auth
from shared.clock import Clock, SystemClock, clock_from
from shared.consumer import ConsumerRunner, Handler
from shared.db import create_pool, migrate
from shared.events import Event, all_event_types
from shared.kafka import dlq_topic, ensure_topics, new_producer
from shared.logs import configure_logging
from shared.metrics import install_metrics
from shared.outbox import OutboxRelay, OutboxWriter
from shared.problems import install_problem_handlers
from shared.ratelimit import install_rate_limits
from shared.settings import CommonSettings, ServiceSettings, refuse_development_secrets
from shared.tracing import TraceMiddleware
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    handlers: Mapping[type[Event], Handler] = field(default_factory=dict)
    background: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    """Periodic jobs of the service (e.g. expiry sweeps), started with the relay."""
    startup: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    """Run once the pool and producer exist, before requests are served."""
    shutdown: Sequence[Callable[[Runtime], Awaitable[None]]] = ()


@dataclass
class Runtime:
    """The live parts of a running service, kept on ``app.state.runtime``."""

    spec: ServiceSpec
    settings: ServiceSettings
    common: CommonSettings
    outbox: OutboxWriter
    pool: object = None
    producer: object = None
    relay: OutboxRelay | None = None
    consumer: ConsumerRunner | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)
    extras: dict[str, Any] = field(default_factory=dict)
    """Service-specific parts made at startup (e.g. the auction service's bid engine)."""

    def unit_of_work(self, region: str) -> UnitOfWork:
        return UnitOfWork(self.pool, self.outbox, region)


def consumed_topics(spec: ServiceSpec, common: CommonSettings) -> list[str]:
    return sorted({common.topic(t.aggregate) for t in spec.handlers})


def produced_topics(common: CommonSettings) -> list[str]:
    return sorted({common.topic(t.aggregate) for t in all_event_types()})


def build_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    common: CommonSettings | None = None,
    *,
    run_background: bool = True,
    clock: Clock | None = None,
) -> FastAPI:
    common = common or CommonSettings()
    refuse_development_secrets(common, settings)
    runtime = Runtime(spec, settings, common, OutboxWriter(spec.name),
                      clock=clock or clock_from(common.clock_shift_file))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, common.log_level)
        runtime.pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        async with runtime.pool.acquire() as conn:
            await migrate(conn, spec.migrations)
        topics = produced_topics(common) + consumed_topics(spec, common)
        await ensure_topics(common.kafka_bootstrap_servers,
                            topics + [dlq_topic(t) for t in topics], common.topic_partitions,
                            common.topic_replication)
        runtime.producer = new_producer(common.kafka_bootstrap_servers)
        await runtime.producer.start()
        runtime.relay = OutboxRelay(
            service=spec.name, database_url=settings.database_url, pool=runtime.pool,
            producer=runtime.producer, topic_for=common.topic, batch_size=settings.relay_batch,
        )
        if spec.handlers:
            runtime.consumer = ConsumerRunner(
                name=spec.name, bootstrap=common.kafka_bootstrap_servers, pool=runtime.pool,
                producer=runtime.producer, topics=consumed_topics(spec, common),
                handlers=spec.handlers, max_batch=settings.consumer_batch,
                retries=settings.consumer_retries,
            )
        for hook in spec.startup:
            await hook(runtime)
        if run_background:
            runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
            if runtime.consumer:
                runtime.tasks.append(asyncio.create_task(runtime.consumer.run(), name="consumer"))
            for job in spec.background:
                runtime.tasks.append(asyncio.create_task(job(runtime), name=job.__name__))
        log.info("%s service ready", spec.name)
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for hook in spec.shutdown:
                with contextlib.suppress(Exception):
                    await hook(runtime)
            await runtime.producer.stop()
            await runtime.pool.close()

    app = FastAPI(title=spec.title, description=spec.description, version="0.1.0",
                  lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    install_auth(app, common)
    install_metrics(app, spec.name)
    app.add_middleware(TraceMiddleware)
    for router in spec.routers:
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """Ready when the database answers and the Kafka cluster's metadata can be fetched."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                await runtime.pool.fetchval("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            async with asyncio.timeout(2):
                await runtime.producer.client.fetch_all_metadata()
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not-ready", "checks": checks},
                            status_code=200 if ready else 503)

    install_rate_limits(app, common, spec.name)
    return app


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime
