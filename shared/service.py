"""What every service process is made of, composed once: API, outbox relay, event consumer.

A service's ``api.create_app`` describes everything its process runs with a ``ServiceSpec``:
routes, the event -> handler table, deadline handlers, periodic jobs and the service's typed
parts (e.g. the auction's bid engine). ``build_app`` wires the database pool, migrations, topics,
the idempotent producer, the relay, the consumer runner, the deadline scheduler, the jobs, the
health endpoints, metrics, auth and problem+json errors around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared import idempotency, retention
from shared.auth import install_auth, jwk_set
from shared.clock import Clock, SystemClock, clock_from
from shared.consumer import ConsumerRunner, Handler, Origin
from shared.context import Command
from shared.db import SERVER_SETTINGS, create_pool, migrate
from shared.events import Event, all_event_types
from shared.idempotency import Once
from shared.json_body import JsonBodyMiddleware
from shared.kafka import dlq_topic, ensure_topics, new_producer
from shared.logs import configure_logging
from shared.metrics import KAFKA_REACHABLE, install_metrics, settle_heap, unsettle_heap
from shared.openapi import install_openapi
from shared.outbox import Derive, OutboxRelay, OutboxWriter
from shared.problem_handlers import install_problem_handlers
from shared.ratelimit import install_rate_limits
from shared.scheduler import Handler as DeadlineHandler
from shared.scheduler import Scheduler
from shared.settings import CommonSettings, ServiceSettings, refuse_development_secrets
from shared.tracing import TraceMiddleware

log = logging.getLogger(__name__)

HEALTH_CHECK_TIMEOUT = 2.0
"""Seconds each dependency check of ``/readyz`` may take (they run side by side)."""


T = TypeVar("T")

Hook = Callable[["Runtime"], Awaitable[None]]
Handlers = Mapping[type[Event], Handler]
Deadlines = Mapping[str, DeadlineHandler]


@dataclass(frozen=True)
class Part(Generic[T]):
    """A typed part of the service, made once the pool and producer exist (the bid engine, the
    books). Routes reach it as ``Annotated[T, Depends(part(T))]``, the composition as
    ``runtime.part(T)``."""

    kind: type[T]
    build: Callable[[Runtime], T]
    run: Callable[[T], Awaitable[None]] | None = None
    """The part's own loop (e.g. keeping leases), started with the background tasks."""
    stop: Callable[[T], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Job:
    """A background job: ``run(runtime)`` every ``every``, or once and for good without it (a
    loop of its own). A failing periodic run is logged and the job carries on."""

    name: str
    run: Hook
    every: timedelta | None = None


@dataclass
class ServiceSpec:
    """Everything one service process runs, declared in its ``api.py``.

    ``handlers`` and ``deadlines`` may be given as a function of the runtime when they need
    its parts (they are then built at startup, after the parts)."""

    name: str
    title: str
    description: str
    migrations: Path | Sequence[Path]
    """The service's migrations, after any shared read model's (e.g. known_listings)."""
    routers: Sequence[APIRouter] = ()
    handlers: Handlers | Callable[[Runtime], Handlers] = field(default_factory=dict)
    """The event -> handler table (the service's ``consumer.py``)."""
    deadlines: Deadlines | Callable[[Runtime], Deadlines] = field(default_factory=dict)
    """Deadline kind -> handler; ``build_app`` runs a scheduler for them."""
    jobs: Sequence[Job] = ()
    parts: Sequence[Part[Any]] = ()
    consume_own_public: bool = False
    """Also read this deployment's own public topics (not only the partners' mirrors)."""
    derive: Derive | None = None
    """Events derived from those every transaction publishes, in it (the public catalog's)."""
    startup: Sequence[Hook] = ()
    """Run once the pool, producer and parts exist, before requests are served."""
    shutdown: Sequence[Hook] = ()


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
    scheduler: Scheduler | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)
    parts: dict[type, Any] = field(default_factory=dict)
    """The spec's parts by type, made at startup."""
    handlers: Handlers = field(default_factory=dict)
    """The event -> handler table as built at startup (from ``spec.handlers``)."""
    kafka_state: str = "ok"
    """The last Kafka check's answer (``ok`` after a start, which needs the cluster)."""

    def transaction(self, once: Once | None = None) -> Command:
        """A command's transaction context; with ``once``, a keyed command (see
        :class:`~shared.context.Command`)."""
        return Command(self.pool, self.outbox, self.clock, once)

    def part(self, kind: type[T]) -> T:
        """The service's part of type ``kind`` (declared in its spec)."""
        return self.parts[kind]

    async def check_database(self) -> str:
        """``ok``, or ``error: <kind>`` when the database does not answer within the bound."""
        try:
            async with asyncio.timeout(HEALTH_CHECK_TIMEOUT):
                await self.pool.fetchval("SELECT 1")
        except Exception as exc:
            return f"error: {type(exc).__name__}"
        return "ok"

    async def check_kafka(self) -> str:
        """``ok`` or ``error: <kind>`` as for the database; kept in ``techex_kafka_reachable``."""
        try:
            async with asyncio.timeout(HEALTH_CHECK_TIMEOUT):
                await self.producer.client.fetch_all_metadata()
        except Exception as exc:
            state = f"error: {type(exc).__name__}"
        else:
            state = "ok"
        KAFKA_REACHABLE.labels(self.spec.name).set(1 if state == "ok" else 0)
        if state != self.kafka_state:
            if state == "ok":
                log.info("Kafka is reachable again")
            elif self.kafka_state == "ok":
                log.warning("Kafka is unreachable (%s); commands go on into the outbox", state)
            self.kafka_state = state
        return state

    async def watch_kafka(self, every: float = 5.0) -> None:
        """Keep ``techex_kafka_reachable`` current whether or not anyone asks ``/readyz``."""
        while True:
            await self.check_kafka()
            await asyncio.sleep(every)


def consumed_topics(handlers: Handlers, common: CommonSettings,
                    own_public: bool = False) -> list[str]:
    """The topics of the events ``handlers`` take: this deployment's own for its events, the
    partners' mirrored ones for public events — and this deployment's own public topics too
    with ``own_public`` (the records service keeps what this deployment published)."""
    return sorted({*(common.topic(t.aggregate) for t in handlers
                     if own_public or not t.is_public()),
                   *partner_origins(handlers, common)})


def partner_origins(handlers: Handlers, common: CommonSettings) -> dict[str, Origin]:
    """The mirrored topics of the public events ``handlers`` take -> the partner of each."""
    federation = common.federation
    if federation is None:
        return {}
    regions = {p.alias: p.region for p in federation.partners}
    return {topic: Origin(alias, regions[alias])
            for aggregate in sorted({t.aggregate for t in handlers if t.is_public()})
            for topic, alias in common.partner_topics(aggregate).items()}


def _resolve(table: Any, runtime: Runtime) -> Any:
    return table(runtime) if callable(table) else table


async def _every(job: Job, runtime: Runtime) -> None:
    assert job.every is not None
    while True:
        try:
            await job.run(runtime)
        except Exception:
            log.exception("%s: job %s failed; it runs again in %s", runtime.spec.name, job.name,
                          job.every)
        await asyncio.sleep(job.every.total_seconds())


def part(kind: type[T]) -> Callable[[Request], T]:
    """A FastAPI dependency answering the running service's part of type ``kind``:
    ``Engine = Annotated[BidEngine, Depends(part(BidEngine))]``."""

    def dependency(request: Request) -> T:
        return request.app.state.runtime.part(kind)

    dependency.__name__ = f"part_{kind.__name__}"
    return dependency


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
    runtime = Runtime(spec, settings, common, OutboxWriter(spec.name, spec.derive),
                      clock=clock or clock_from(common.clock_shift_file))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, common.log_level)
        # Migrations on a connection of their own: no statement timeout for them.
        conn = await asyncpg.connect(settings.database_url, server_settings=SERVER_SETTINGS)
        try:
            await migrate(conn, *([spec.migrations] if isinstance(spec.migrations, Path)
                                  else spec.migrations))
        finally:
            await conn.close()
        runtime.pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
            acquire_timeout=settings.db_acquire_timeout,
            command_timeout=settings.db_command_timeout,
            connect_timeout=settings.db_connect_timeout,
        )
        for p in spec.parts:
            runtime.parts[p.kind] = p.build(runtime)
        handlers = runtime.handlers = _resolve(spec.handlers, runtime)
        deadlines = _resolve(spec.deadlines, runtime)
        consumed = consumed_topics(handlers, common, spec.consume_own_public)
        topics = produced_topics(common) + consumed
        await ensure_topics(common.kafka_bootstrap_servers,
                            topics + [dlq_topic(t) for t in topics], common.topic_partitions,
                            common.topic_replication)
        runtime.producer = new_producer(common.kafka_bootstrap_servers)
        await runtime.producer.start()
        KAFKA_REACHABLE.labels(spec.name).set(1)
        runtime.relay = OutboxRelay(
            service=spec.name, database_url=settings.database_url, pool=runtime.pool,
            producer=runtime.producer, topic_for=common.topic, batch_size=settings.relay_batch,
        )
        if handlers:
            runtime.consumer = ConsumerRunner(
                name=spec.name, bootstrap=common.kafka_bootstrap_servers, pool=runtime.pool,
                producer=runtime.producer, topics=consumed,
                handlers=handlers, max_batch=settings.consumer_batch,
                retries=settings.consumer_retries, group_id=common.group(spec.name),
                outbox=runtime.outbox, clock=runtime.clock,
                origins=partner_origins(handlers, common),
            )
        if deadlines:
            runtime.scheduler = Scheduler(runtime.pool, settings.database_url, runtime.clock,
                                          deadlines, service=spec.name, outbox=runtime.outbox)
        for hook in spec.startup:
            await hook(runtime)
        if run_background:
            runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
            runtime.tasks.append(asyncio.create_task(runtime.watch_kafka(), name="kafka-watch"))
            if runtime.consumer:
                runtime.tasks.append(asyncio.create_task(runtime.consumer.run(), name="consumer"))
            if runtime.scheduler:
                runtime.tasks.append(asyncio.create_task(runtime.scheduler.run(),
                                                         name="scheduler"))
            for p in spec.parts:
                if p.run is not None:
                    runtime.tasks.append(asyncio.create_task(
                        p.run(runtime.parts[p.kind]), name=f"{p.kind.__name__}.run"))
            for job in spec.jobs:
                runtime.tasks.append(asyncio.create_task(
                    _every(job, runtime) if job.every else job.run(runtime), name=job.name))
            runtime.tasks.append(asyncio.create_task(retention.keep_sweeping(
                runtime.pool, idempotency_keys=timedelta(days=common.idempotency_retention_days),
                inbox=timedelta(days=common.inbox_retention_days),
                every=timedelta(seconds=common.retention_sweep_seconds)), name="retention"))
        settle_heap()
        log.info("%s service ready", spec.name)
        try:
            yield
        finally:
            unsettle_heap()
            for task in runtime.tasks:
                task.cancel()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for hook in spec.shutdown:
                with contextlib.suppress(Exception):
                    await hook(runtime)
            for p in spec.parts:
                if p.stop is not None and p.kind in runtime.parts:
                    with contextlib.suppress(Exception):
                        await p.stop(runtime.parts[p.kind])
            await runtime.producer.stop()
            await runtime.pool.close()

    # FastAPI's own OpenTelemetry hooks ask for the global providers on every request; this
    # service traces with shared.tracing and measures with shared.metrics instead.
    app = FastAPI(title=spec.title, description=spec.description, version="0.1.0",
                  lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.runtime = runtime
    install_problem_handlers(app)
    idempotency.install(app)
    install_auth(app, common)
    install_openapi(app, spec.routers)
    app.add_middleware(JsonBodyMiddleware)
    install_metrics(app, spec.name)
    app.add_middleware(TraceMiddleware)
    for router in spec.routers:
        app.include_router(router)

    @app.get("/healthz", tags=["health"], response_model=Health)
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["health"], response_model=Readiness, responses={
        503: {"model": Readiness, "description": "the database or Kafka does not answer"}})
    async def readyz(request: Request) -> JSONResponse:
        """Ready (200) while the database answers: that is all a command needs, its events
        wait in the outbox while Kafka is away. ``checks`` decide readiness; ``details``
        report what does not (Kafka), with ``status`` ``degraded`` while one fails."""
        database, kafka = await asyncio.gather(runtime.check_database(), runtime.check_kafka())
        ready = database == "ok"
        status = ("ready" if kafka == "ok" else "degraded") if ready else "not-ready"
        return JSONResponse({"status": status, "checks": {"database": database},
                             "details": {"kafka": kafka}},
                            status_code=200 if ready else 503)

    keys = jwk_set(common)

    @app.get("/.well-known/jwks.json", tags=["auth"], response_model=JwkSet)
    async def jwks() -> JSONResponse:
        """This deployment's token signing key as a JWK set (``kid``: its RFC 7638
        thumbprint), for the partners that trust its tokens; empty when it signs with a
        shared secret."""
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})

    install_rate_limits(app, common, spec.name)
    return app


class Health(BaseModel):
    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    checks: dict[str, str] = Field(description="`ok` or the error, per dependency")


class Jwk(BaseModel):
    kty: str = Field(examples=["EC"])
    kid: str = Field(description="the key's RFC 7638 SHA-256 thumbprint")
    alg: str = Field(examples=["ES256"])
    use: Literal["sig"]
    crv: str | None = None
    x: str | None = None
    y: str | None = None
    n: str | None = None
    e: str | None = None


class JwkSet(BaseModel):
    keys: list[Jwk]


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime
