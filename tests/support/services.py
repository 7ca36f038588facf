"""Running service apps in the test process: real lifespan, real database and Kafka."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

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


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """Serve a running ``app`` (see :func:`running`) over real HTTP on a free loopback port,
    in this event loop; yields its base URL. For answers that never end (Server-Sent Events),
    which httpx's ASGI transport cannot stream."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                           timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def retried(client: httpx.AsyncClient, method: str, url: str, *, key: str,
                  **kwargs) -> httpx.Response:
    """Send the same request twice with the Idempotency-Key ``key``; checks that the second
    answer is the first one replayed, byte for byte, and returns it."""
    headers = {**kwargs.pop("headers", {}), "Idempotency-Key": key}
    first = await client.request(method, url, headers=headers, **kwargs)
    again = await client.request(method, url, headers=headers, **kwargs)
    assert "idempotent-replayed" not in first.headers, first.headers
    assert again.headers.get("idempotent-replayed") == "true", (again.status_code, again.text)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["content-type"] == first.headers["content-type"]
    return first
