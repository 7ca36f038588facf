"""Each account's notifications (站内消息): the inbox, marking read, and a live stream of it.

Any signed-in account has an inbox; it only ever reads its own (another account's
notification is "not found")."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse

from services.listing import handlers
from services.listing.schemas import Inbox, MarkedRead, NotificationOut, ReadUpTo
from services.listing.store import notifications as store
from shared.bounds import INT4_MAX, Cursor
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["notifications"], responses=PROBLEM_RESPONSES)

PING_SECONDS = 15.0
"""A ``ping`` event after this long without a notification."""
EVENT_SCHEMA = {
    "type": "object", "description": "One Server-Sent Event (OpenAPI 3.1: the schema of each)",
    "properties": {
        "event": {"type": "string", "enum": ["notification", "ping"]},
        "id": {"type": "string", "description": "the notification's id"},
        "data": {"type": "string", "description": "a `notification`'s JSON: a "
                 "NotificationOut; `{}` for a ping"},
    },
    "required": ["event", "data"],
}


@router.get("/my/notifications", response_model=Inbox)
async def inbox(
    request: Request, account: Anyone,
    cursor: Annotated[Cursor, Query(description="the last id of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    unread: Annotated[bool | None, Query(description="only unread (true) or read (false)")
                      ] = None,
) -> Inbox:
    """The caller's notifications, oldest first, after ``cursor``."""
    pool = runtime_of(request).pool
    rows = await store.inbox(pool, account.subject, after=cursor, limit=limit + 1,
                             unread=unread)
    items = [NotificationOut.of(r) for r in rows[:limit]]
    return Inbox(items=items,
                 next_cursor=items[-1].id if len(rows) > limit else None,
                 unread=await store.unread_count(pool, account.subject))


@router.post("/my/notifications/{notification_id}/read", response_model=NotificationOut)
async def read_one(notification_id: Annotated[int, Path(ge=1, le=INT4_MAX)],
                   request: Request, account: Anyone, key: IdempotencyKey = None) -> Response:
    """Mark one of the caller's notifications read (again is no change)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, account, key)) as tx:
        row = await handlers.mark_read(tx, account, notification_id)
        return tx.answer(200, NotificationOut.of(row))


@router.post("/my/notifications/read", response_model=MarkedRead)
async def read_all(body: ReadUpTo, request: Request, account: Anyone,
                   key: IdempotencyKey = None) -> Response:
    """Mark read every unread notification of the caller up to ``upto`` (all without it)."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, account, key)) as tx:
        marked = await handlers.mark_all_read(tx, account, body.upto)
        return tx.answer(200, MarkedRead(marked=marked))


@router.get("/my/notifications/stream", response_class=EventSourceResponse, responses={
    200: {"description": "Server-Sent Events: a `notification` event (id: its id) for each "
                         "new notification of the caller, `ping` now and then",
          "content": {"text/event-stream": {"schema": EVENT_SCHEMA}}}})
async def stream(
    request: Request, account: Anyone,
    after: Annotated[int | None, Query(ge=0, le=INT4_MAX, description=(
        "resume after this notification id (without it: only the ones made from now on)"))
    ] = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=INT4_MAX,
                                                description=(
        "sent by an EventSource that reconnects: the last notification it received; wins "
        "over `after`"))] = None,
) -> EventSourceResponse:
    """The caller's notifications as they are made; a client reconnecting with
    ``Last-Event-ID`` first gets those it missed. The stream ends after
    ``LISTING_NOTIFICATION_STREAM_SECONDS`` (an EventSource reconnects by itself and misses
    nothing), so no answer is held open for good."""
    runtime = runtime_of(request)
    pool = runtime.pool
    poll = runtime.settings.notification_stream_poll_seconds
    resume = last_event_id if last_event_id is not None else after
    if resume is None:
        resume = await store.latest_id(pool, account.subject)

    lifetime = runtime.settings.notification_stream_seconds

    async def events():
        last = resume
        quiet = 0.0
        started = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - started < lifetime:
            rows = await store.inbox(pool, account.subject, after=last, limit=100,
                                     unread=None)
            for r in rows:
                n = NotificationOut.of(r)
                yield {"event": "notification", "id": str(n.id), "data": n.model_dump_json()}
                last = n.id
            if rows:
                quiet = 0.0
                continue
            if quiet >= PING_SECONDS:
                yield {"event": "ping", "data": json.dumps({})}
                quiet = 0.0
            await asyncio.sleep(poll)
            quiet += poll

    return EventSourceResponse(events())
