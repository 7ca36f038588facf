"""Prometheus metrics every service exposes: HTTP, outbox, events, consumer lag."""

from __future__ import annotations

import gc
import time

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

EVENTS_PUBLISHED = Counter(
    "techex_events_published_total", "Events the outbox relay handed to Kafka and saw acknowledged",
    ["service", "type"],
)
EVENTS_CONSUMED = Counter(
    "techex_events_consumed_total",
    "Events a consumer took off Kafka, by outcome (handled, duplicate, ignored)",
    ["consumer", "type", "outcome"],
)
EVENTS_FAILED = Counter(
    "techex_events_failed_total", "Handler attempts that raised (each retry counts)",
    ["consumer", "type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "techex_events_dead_lettered_total", "Events sent to a dead-letter topic",
    ["consumer", "type", "reason"],
)
HANDLER_SECONDS = Histogram(
    "techex_event_handler_seconds", "Time to apply one event, inbox claim included",
    ["consumer", "type"], buckets=_LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "techex_consumer_lag", "Messages between a consumer's position and the partition's end",
    ["consumer", "topic", "partition"],
)
OUTBOX_BACKLOG = Gauge(
    "techex_outbox_backlog", "Outbox rows not yet confirmed by Kafka", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "techex_outbox_oldest_age_seconds", "Age of the oldest unsent outbox row", ["service"]
)
HTTP_REQUESTS = Counter(
    "techex_http_requests_total", "HTTP requests by route template and status",
    ["service", "method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "techex_http_request_duration_seconds", "HTTP request latency by route template",
    ["service", "method", "route"], buckets=_LATENCY_BUCKETS,
)
KAFKA_REACHABLE = Gauge(
    "techex_kafka_reachable",
    "1 while this process fetches the Kafka cluster's metadata, 0 while it cannot (commands are"
    " still accepted; their events wait in the outbox)", ["service"]
)
GC_PAUSE_SECONDS = Histogram(
    "techex_gc_pause_seconds", "Garbage-collector pauses of this process, by generation",
    ["generation"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
RELAY_ACTIVE = Gauge(
    "techex_outbox_relay_active", "1 while this process holds its service's relay lock", ["service"]
)


class HttpMetricsMiddleware:
    """Counts and times each request under its route template (``/achievements/{id}``), so
    the label set stays bounded whatever the paths requested."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template != "/metrics":
                method = scope["method"]
                HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
                HTTP_SECONDS.labels(self.service, method, template).observe(
                    time.perf_counter() - started
                )


def install_metrics(app: FastAPI, service: str) -> None:
    """HTTP request counts and latency by route template and status, and ``GET /metrics``."""
    app.add_middleware(HttpMetricsMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


_gc_started: list[float] = []
_threshold: tuple[int, int, int] | None = None


def unsettle_heap() -> None:
    """Undo :func:`settle_heap` (a process that runs more than one app, like the tests)."""
    gc.unfreeze()
    if _threshold:
        gc.set_threshold(*_threshold)


def _time_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        GC_PAUSE_SECONDS.labels(str(info["generation"])).observe(
            time.perf_counter() - _gc_started[0])


def settle_heap() -> None:
    """Once a process is up: move what it holds (modules, the app, the pool) to the
    collector's permanent generation, so no later collection walks it again — a full
    collection over a service's start-up heap is a pause of tens of milliseconds in the
    middle of requests. Collector pauses are timed in ``techex_gc_pause_seconds``."""
    global _threshold
    _threshold = _threshold or gc.get_threshold()
    if _time_gc not in gc.callbacks:
        gc.callbacks.append(_time_gc)
    gc.freeze()
    # A young collection every 700 allocations (the default) promotes what requests in flight
    # hold; it dies soon after in an older generation and brings full collections on sooner.
    # Full collections must still come (cyclic garbage: exceptions and their tracebacks).
    gc.set_threshold(50_000, 20, 10)
