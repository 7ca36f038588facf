"""Running service apps in the test process: real lifespan, real database and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from shared.auth import Role, mint_token
from shared.settings import CommonSettings


@asynccontextmanager
async def running(app) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app``'s lifespan (migrations, relay, consumer) and give an HTTP client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def bearer(common: CommonSettings, role: Role, region: str, subject: str | None = None) -> dict:
    token = mint_token(common, subject or f"{role.value}-{region}", role, region)
    return {"Authorization": f"Bearer {token}"}
