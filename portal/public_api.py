"""The portal's one way to the services: their public API (``/public/...``), over HTTP.

No token is ever sent, so nothing private can come back. Each visitor's address goes along as
``X-Forwarded-For``: uvicorn trusts it from the loopback proxy (``FORWARDED_ALLOW_IPS``), so the
public API's rate limit per address counts each visitor, not the portal as one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from portal.config import PortalSettings

Params = Mapping[str, str | int | Sequence[str] | None]


@dataclass
class ApiError(Exception):
    """The public API answered something other than success, or could not be reached
    (``status`` 503 then). ``problem`` is its problem+json document when it sent one."""

    status: int
    problem: dict[str, Any]
    retry_after: str | None = None

    def __str__(self) -> str:
        return f"public API answered {self.status}: {self.problem.get('title', '')}"

    @property
    def field_errors(self) -> dict[str, str]:
        """A 422's errors by field name (the last element of each error's location)."""
        out: dict[str, str] = {}
        for error in self.problem.get("errors") or self.problem.get("detail") or []:
            if not isinstance(error, dict):
                continue
            where = error.get("field") or error.get("loc") or error.get("pointer") or ""
            if isinstance(where, list | tuple):
                where = str(where[-1]) if where else ""
            name = str(where).rsplit("/", 1)[-1].rsplit(".", 1)[-1]
            out.setdefault(name, str(error.get("message") or error.get("msg") or "无效"))
        return out


def _clean(params: Params | None) -> list[tuple[str, str]]:
    """Query pairs without the empty ones; a list becomes a repeated parameter."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, str(v)) for v in value if v not in (None, ""))
        else:
            pairs.append((key, str(value)))
    return pairs


class PublicApi:
    """Calls of the public API of the listing, auction and registry services."""

    def __init__(self, settings: PortalSettings, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.bases = {"listing": settings.listing_url.rstrip("/"),
                      "auction": settings.auction_url.rstrip("/"),
                      "registry": settings.registry_url.rstrip("/")}
        timeout = httpx.Timeout(settings.timeout_seconds)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=40)
        self.client = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport,
                                        headers={"Accept": "application/json"})
        # Streams stay open for the whole auction: no read timeout (the service pings).
        self.streams = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_seconds, read=None), transport=transport,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0))

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.streams.aclose()

    def url(self, service: str, path: str) -> str:
        return self.bases[service] + path

    @staticmethod
    def _headers(visitor: str | None) -> dict[str, str]:
        return {"X-Forwarded-For": visitor} if visitor else {}

    async def get(self, service: str, path: str, params: Params | None = None, *,
                  visitor: str | None = None) -> Any:
        try:
            r = await self.client.get(self.url(service, path), params=_clean(params),
                                      headers=self._headers(visitor))
        except httpx.HTTPError as exc:
            raise ApiError(503, {"title": f"公共接口无法访问（{type(exc).__name__}）"}) from exc
        return self._answer(r)

    async def post(self, service: str, path: str, body: dict[str, Any], *,
                   visitor: str | None = None) -> Any:
        try:
            r = await self.client.post(self.url(service, path), json=body,
                                       headers=self._headers(visitor))
        except httpx.HTTPError as exc:
            raise ApiError(503, {"title": f"公共接口无法访问（{type(exc).__name__}）"}) from exc
        return self._answer(r)

    @staticmethod
    def _answer(r: httpx.Response) -> Any:
        if r.is_success:
            return r.json()
        try:
            problem = r.json()
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {"detail": problem}
        raise ApiError(r.status_code, problem, r.headers.get("Retry-After"))

    async def stream(self, service: str, path: str, *, last_event_id: str | None,
                     visitor: str | None = None) -> tuple[httpx.Response, AsyncIterator[bytes]]:
        """Open a Server-Sent Events stream: the response (to be closed) and its bytes. Raises
        :class:`ApiError` when the service refuses it."""
        headers = {"Accept": "text/event-stream", **self._headers(visitor)}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        request = self.streams.build_request("GET", self.url(service, path), headers=headers)
        try:
            r = await self.streams.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(503, {"title": f"公共接口无法访问（{type(exc).__name__}）"}) from exc
        if not r.is_success:
            await r.aread()
            await r.aclose()
            self._answer(r)
        return r, r.aiter_raw()
