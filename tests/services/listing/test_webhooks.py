"""Webhooks against a real HTTP receiver started here: the signature verifies, a failing
receiver gets the same event again (and only until it answers 2xx), one that always fails
ends dead after the configured attempts; the API keeps each account's webhooks its own."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.listing import handlers
from services.listing.api import create_app
from services.listing.config import ListingSettings
from services.listing.domain.notification import verify
from shared.auth import Role
from shared.events.listing import ListingInterestMatched
from tests.support.handlers import deliver
from tests.support.services import bearer, running, serving

BUYER = "longjiang-coatings"
ATTEMPTS = 3


class Receiver:
    """An HTTP endpoint answering the scripted statuses in turn (then the last one)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.got.append((dict(request.headers), await request.body()))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Response(status_code=status)


@pytest.fixture
async def listing(database_url, common):
    app = create_app(ListingSettings(
        database_url=database_url, webhook_poll_seconds=0.05, webhook_backoff_seconds=0.1,
        webhook_backoff_cap_seconds=0.4, webhook_max_attempts=ATTEMPTS,
        webhook_timeout_seconds=2), common)
    async with running(app) as client:
        client.db = database_url
        client.runtime = app.state.runtime
        yield client


def buyer(common, subject: str = BUYER, **headers: str) -> dict:
    return {**bearer(common, Role.BUYER, "230100", subject), **headers}


async def register(listing, common, url: str, **body) -> dict:
    r = await listing.post("/my/webhooks", json={"url": url, **body},
                           headers=buyer(common, **{"Idempotency-Key": uuid.uuid4().hex}))
    assert r.status_code == 201, r.text
    return r.json()


async def notify(listing) -> None:
    await deliver(listing.db, "listing", handlers.on_interest_matched, ListingInterestMatched(
        listing_id=uuid.uuid4(), region="230102", occurred_at=datetime.now(UTC),
        actor="listing", interest_id=uuid.uuid4(), buyer_id=BUYER, score=0.5, reasons=[]))


async def until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def statuses(listing, webhook_id: str) -> list[tuple[str, int]]:
    rows = await listing.runtime.pool.fetch(
        "SELECT status, attempts FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id",
        uuid.UUID(webhook_id))
    return [(r["status"], r["attempts"]) for r in rows]


async def test_a_delivery_is_signed_and_verifies(listing, common):
    receiver = Receiver(200)
    async with serving(receiver.app) as base:
        hook = await register(listing, common, f"{base}/hook")
        assert len(hook["secret"]) == 64
        await notify(listing)
        await until(lambda: len(receiver.got) == 1)
    headers, body = receiver.got[0]
    assert verify(hook["secret"], headers["techex-signature"], body, now=int(time.time()))
    assert not verify("another secret", headers["techex-signature"], body)
    sent = json.loads(body)
    assert sent["kind"] == "interest_matched" and headers["techex-event-id"] == sent["id"]
    inbox = (await listing.get("/my/notifications", headers=buyer(common))).json()
    assert sent["id"] == str(inbox["items"][0]["id"])
    assert await statuses(listing, hook["id"]) == [("delivered", 1)]


async def test_a_failing_receiver_gets_the_same_event_until_it_answers(listing, common):
    receiver = Receiver(500, 500, 200)
    async with serving(receiver.app) as base:
        hook = await register(listing, common, f"{base}/hook")
        await notify(listing)
        await until(lambda: len(receiver.got) == 3)
        await asyncio.sleep(1.0)  # several more polls and backoffs: nothing is sent again
    assert len(receiver.got) == 3
    assert len({h["techex-event-id"] for h, _ in receiver.got}) == 1
    assert len({b for _, b in receiver.got}) == 1
    assert await statuses(listing, hook["id"]) == [("delivered", 3)]


async def test_a_receiver_that_always_fails_ends_dead(listing, common):
    receiver = Receiver(503)
    async with serving(receiver.app) as base:
        hook = await register(listing, common, f"{base}/hook")
        await notify(listing)
        await until(lambda: len(receiver.got) == ATTEMPTS)
        await asyncio.sleep(1.0)
    assert len(receiver.got) == ATTEMPTS
    rows = await listing.runtime.pool.fetch(
        "SELECT status, attempts, last_error FROM webhook_deliveries")
    assert [(r["status"], r["attempts"], r["last_error"]) for r in rows] == [
        ("dead", ATTEMPTS, "HTTP 503")]
    assert await statuses(listing, hook["id"]) == [("dead", ATTEMPTS)]


async def test_an_unreachable_receiver_ends_dead_too(listing, common):
    receiver = Receiver(200)
    async with serving(receiver.app) as base:
        pass  # the port is closed again: nobody answers
    hook = await register(listing, common, f"{base}/hook")
    await notify(listing)

    async def dead() -> bool:
        return await statuses(listing, hook["id"]) == [("dead", ATTEMPTS)]

    for _ in range(200):
        if await dead():
            break
        await asyncio.sleep(0.05)
    assert await dead()


async def test_the_kinds_filter_and_the_api_keep_each_accounts_own(listing, common):
    receiver = Receiver(200)
    async with serving(receiver.app) as base:
        only_outbid = await register(listing, common, f"{base}/hook", kinds=["outbid"])
        await notify(listing)
        await asyncio.sleep(0.5)
    assert receiver.got == [] and await statuses(listing, only_outbid["id"]) == []
    mine = (await listing.get("/my/webhooks", headers=buyer(common))).json()
    assert [(h["id"], h["kinds"]) for h in mine] == [(only_outbid["id"], ["outbid"])]
    assert "secret" not in mine[0]
    other = buyer(common, "songhua-tech")
    assert (await listing.get("/my/webhooks", headers=other)).json() == []
    assert (await listing.delete(f"/my/webhooks/{only_outbid['id']}",
                                 headers=other)).status_code == 404
    assert (await listing.delete(f"/my/webhooks/{only_outbid['id']}",
                                 headers=buyer(common))).status_code == 200
    assert (await listing.get("/my/webhooks", headers=buyer(common))).json() == []
    for url in ("ftp://example.cn/hook", "https://", "http://a b.cn/x", "x" * 600):
        r = await listing.post("/my/webhooks", json={"url": url}, headers=buyer(common))
        assert r.status_code == 422, (url, r.text)
    bad_kind = await listing.post("/my/webhooks", json={"url": "https://example.cn/h",
                                                        "kinds": ["everything"]},
                                  headers=buyer(common))
    assert bad_kind.status_code == 422
