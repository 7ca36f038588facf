"""The whole exchange for end-to-end tests: the four services as processes, started by the
same code as `techex up`, over the test stack's Kafka and PostgreSQL.

Each exchange has fresh databases, a topic prefix of its own and its own simulation clock (a
shift file, see :mod:`shared.clock`): a test moves the clock past a seven-day announcement and
the services' schedulers fire what fell due, as they would a week later.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.auth import Role
from shared.clock import advance_shift, read_shift
from shared.settings import CommonSettings
from techex.cli import start_services, stop_services
from techex.stack.stack import SERVICES, Stack
from tests.support.auction_processes import eventually, free_port
from tests.support.services import bearer

PROBLEM = "application/problem+json"


class CallFailed(AssertionError):
    pass


@dataclass
class Exchange:
    stack: Stack
    workdir: Path
    databases: dict[str, str]
    common: CommonSettings = field(init=False)
    ports: dict[str, int] = field(init=False)
    procs: dict = field(default_factory=dict)
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.common = CommonSettings(kafka_bootstrap_servers=self.stack.bootstrap,
                                     topic_prefix=f"e{uuid.uuid4().hex[:10]}",
                                     topic_partitions=2)
        self.ports = {s: free_port() for s in SERVICES}
        self.clock_file = self.workdir / "clock-shift"

    @property
    def env(self) -> dict[str, str]:
        env = {"TECHEX_TOPIC_PREFIX": self.common.topic_prefix, "TECHEX_TOPIC_PARTITIONS": "2",
               "TECHEX_CLOCK_SHIFT_FILE": str(self.clock_file)}
        for s in SERVICES:
            env[f"{s.upper()}_PORT"] = str(self.ports[s])
            env[f"{s.upper()}_DATABASE_URL"] = self.databases[s]
        return env

    async def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.procs = await asyncio.to_thread(
            start_services, self.stack, self.workdir / "logs", {**self.env, **(extra_env or {})})
        self.client = httpx.AsyncClient(timeout=30)

    async def stop(self) -> None:
        if self.procs:
            await self.client.aclose()
            await asyncio.to_thread(stop_services, self.procs)
            self.procs = {}

    # -- time --------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The services' now."""
        return datetime.now(UTC) + read_shift(self.clock_file)

    def advance(self, delta: timedelta) -> None:
        advance_shift(self.clock_file, delta)

    # -- calls -------------------------------------------------------------------------------

    def as_(self, role: Role, region: str, subject: str | None = None) -> dict[str, str]:
        return bearer(self.common, role, region, subject)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    async def call(self, service: str, method: str, path: str, who: dict[str, str], *,
                   json: Any = None, expect: int = 200, headers: dict | None = None,
                   params: dict | None = None) -> Any:
        """One API call; fails the test with the problem document when the status differs."""
        r = await self.client.request(method, self.url(service, path), json=json,
                                      headers={**who, **(headers or {})}, params=params)
        if r.status_code != expect:
            raise CallFailed(f"{method} {service}{path} → {r.status_code} (expected {expect}):"
                             f" {r.text[:2000]}")
        ctype = r.headers.get("content-type", "")
        return r.json() if "json" in ctype else r.text

    async def until(self, service: str, path: str, who: dict[str, str],
                    ready: Callable[[Any], bool], what: str, timeout: float = 60,
                    params: dict | None = None) -> Any:
        """GET ``path`` until ``ready(body)`` (404 counts as not yet); returns the body."""
        async def look() -> Any:
            r = await self.client.get(self.url(service, path), headers=who, params=params)
            if r.status_code == 404:
                return None
            assert r.status_code == 200, f"GET {service}{path} → {r.status_code}: {r.text}"
            body = r.json()
            return body if ready(body) else None
        return await eventually(look, timeout, what)

    async def once_published(self, path: str, body: dict, operator: dict[str, str]) -> Any:
        """Start a procedure at the auction service (201) as soon as it has learnt from the
        listing service's events that the listing is published."""
        async def start() -> Any:
            r = await self.client.post(self.url("auction", path), json=body, headers=operator)
            if r.status_code == 201:
                return r.json()
            not_yet = r.status_code == 404 or (
                r.status_code == 409 and r.json().get("listing_status") != "published")
            assert not_yet, f"POST auction{path} → {r.status_code}: {r.text}"
            return None
        return await eventually(start, 60, f"the auction service to accept POST {path}")


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60) -> Any:
    return await eventually(check, timeout, what)
