"""A small client of the four services' HTTP APIs, for scripts that drive a whole exchange
(`techex demo`, the end-to-end tests): one base URL per service, local tokens, the exchange's
simulation clock, and waiting for what arrives by events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.auth import Role, mint_token
from shared.clock import SHIFT_RECHECK, advance_shift, read_shift
from shared.settings import CommonSettings


class CallFailed(AssertionError):
    """An API call answered another status than expected (the problem document is quoted)."""


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60
                     ) -> Any:
    """Poll ``check`` until it returns something truthy (returned), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


class ExchangeClient:
    def __init__(self, ports: Mapping[str, int], common: CommonSettings,
                 clock_file: Path | None, host: str = "127.0.0.1") -> None:
        self.ports = dict(ports)
        self.common = common
        self.clock_file = clock_file
        self.host = host
        self.client = httpx.AsyncClient(timeout=30)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- time ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The services' now (their simulation clock, when they run on one)."""
        shift = read_shift(self.clock_file) if self.clock_file else timedelta(0)
        return datetime.now(UTC) + shift

    def advance(self, delta: timedelta) -> None:
        """Move the services' clock forward; returns once every process sees the new time."""
        if self.clock_file is None:
            raise RuntimeError("these services run on the system clock")
        advance_shift(self.clock_file, max(delta, timedelta(0)))
        time.sleep(2 * SHIFT_RECHECK)

    def advance_to(self, at: datetime) -> None:
        self.advance(at - self.now())

    # -- calls -----------------------------------------------------------------------------------

    def as_(self, role: Role, region: str, subject: str | None = None) -> dict[str, str]:
        """Headers of a local bearer token for ``role`` in ``region``."""
        token = mint_token(self.common, subject or f"{role.value}-{region}", role, region)
        return {"Authorization": f"Bearer {token}"}

    def url(self, service: str, path: str) -> str:
        return f"http://{self.host}:{self.ports[service]}{path}"

    async def call(self, service: str, method: str, path: str, who: dict[str, str], *,
                   json: Any = None, expect: int = 200, headers: dict | None = None,
                   params: dict | None = None) -> Any:
        """One API call; :class:`CallFailed` with the problem document on another status."""
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
            if r.status_code != 200:
                raise CallFailed(f"GET {service}{path} → {r.status_code}: {r.text[:2000]}")
            body = r.json()
            return body if ready(body) else None
        return await eventually(look, what, timeout)

    async def once_published(self, path: str, body: dict, operator: dict[str, str]) -> Any:
        """Start a procedure at the auction service (201) as soon as it has learnt from the
        listing service's events that the listing is published."""
        async def start() -> Any:
            r = await self.client.post(self.url("auction", path), json=body, headers=operator)
            if r.status_code == 201:
                return r.json()
            not_yet = r.status_code == 404 or (
                r.status_code == 409 and r.json().get("listing_status") != "published")
            if not not_yet:
                raise CallFailed(f"POST auction{path} → {r.status_code}: {r.text[:2000]}")
            return None
        return await eventually(start, f"the auction service to accept POST {path}")

    async def confirm_deposit(self, operator: dict[str, str], procedure_id: str, bidder_id: str,
                              amount_fen: int, bank_reference: str | None = None) -> Any:
        """Record a deposit as paid, once the settlement service has learnt of the bidder's
        registration from the auction service's events."""
        async def confirm() -> Any:
            r = await self.client.post(
                self.url("settlement", "/deposits"), headers=operator,
                json={"procedure_id": procedure_id, "bidder_id": bidder_id,
                      "amount_fen": amount_fen, "bank_reference": bank_reference})
            if r.status_code in (200, 201):
                return r.json()
            if r.status_code != 404:  # 404: the registration has not arrived yet
                raise CallFailed(f"POST settlement/deposits → {r.status_code}: {r.text[:2000]}")
            return None
        return await eventually(confirm, f"the settlement service to know {bidder_id}")
