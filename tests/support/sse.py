"""Reading Server-Sent Events in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx


async def sse_events(response: httpx.Response) -> AsyncIterator[dict]:
    """The events of a text/event-stream: ``{"event", "data", "id"}``; comments skipped."""
    event: dict = {}
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data or event:
                yield {"event": event.get("event", "message"), "id": event.get("id"),
                       "data": "\n".join(data)}
            event, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                event[name] = value


async def next_event(events: AsyncIterator[dict], timeout: float = 30) -> dict:
    """The next event that is not a keep-alive ``ping``."""
    async with asyncio.timeout(timeout):
        while True:
            e = await anext(events)
            if e["event"] != "ping":
                return e


async def next_bids(events: AsyncIterator[dict], n: int, timeout: float = 30) -> list[dict]:
    """The data of the next ``n`` ``bid`` events (anything else in between is an error)."""
    out = []
    for _ in range(n):
        e = await next_event(events, timeout)
        assert e["event"] == "bid", e
        data = json.loads(e["data"])
        assert e["id"] == str(data["sequence"]), e
        out.append(data)
    return out
