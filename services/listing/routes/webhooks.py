"""Webhooks: an account's notifications POSTed to its own URL, signed with HMAC-SHA256
(``Techex-Signature: t=<unix time>,v1=<hex>`` over ``t + "." + body``), with the
notification's id in ``Techex-Event-Id``; retried with backoff until a 2xx, dead after the
configured number of attempts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.listing import handlers
from services.listing.schemas import WebhookCreated, WebhookIn, WebhookOut
from services.listing.store import notifications as store
from shared.idempotency import IdempotencyKey, Once
from shared.problems import PROBLEM_RESPONSES
from shared.roles import Anyone
from shared.service import runtime_of

router = APIRouter(tags=["webhooks"], responses=PROBLEM_RESPONSES)


@router.post("/my/webhooks", status_code=201, response_model=WebhookCreated)
async def add(body: WebhookIn, request: Request, account: Anyone,
              key: IdempotencyKey = None) -> Response:
    """Register a webhook; the answer holds its signing secret, shown this once."""
    runtime = runtime_of(request)
    async with runtime.transaction(await Once.of_request(request, account, key)) as tx:
        row, secret = await handlers.add_webhook(
            tx, account, url=body.url,
            kinds=[k.value for k in body.kinds] if body.kinds is not None else None,
            most=runtime.settings.webhooks_per_account)
        out = WebhookOut.of(row)
        return tx.answer(201, WebhookCreated(**out.model_dump(), secret=secret))


@router.get("/my/webhooks", response_model=list[WebhookOut])
async def mine(request: Request, account: Anyone) -> list[WebhookOut]:
    return [WebhookOut.of(r)
            for r in await store.webhooks_of(runtime_of(request).pool, account.subject)]


@router.delete("/my/webhooks/{webhook_id}", response_model=WebhookOut)
async def remove(webhook_id: uuid.UUID, request: Request, account: Anyone,
                 key: IdempotencyKey = None) -> Response:
    """Remove a webhook; its pending deliveries go with it."""
    async with runtime_of(request).transaction(
            await Once.of_request(request, account, key)) as tx:
        row = await handlers.remove_webhook(tx, account, webhook_id)
        return tx.answer(200, WebhookOut.of(row))
