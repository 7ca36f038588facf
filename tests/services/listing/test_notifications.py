"""Notifications over the real database: each kind made once even when its event comes twice,
the inbox's pages and read marks, the live stream, and nobody reading another's."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.listing import handlers
from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from shared.clock import ManualClock
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionExtended,
    AuctionTermsPublished,
    BidAccepted,
    ObjectionFiled,
    ObjectionResolved,
)
from shared.events.listing import ListingInterestMatched
from shared.scheduler import pending
from tests.support.handlers import deliver
from tests.support.listing import achievement
from tests.support.services import bearer, running, serving
from tests.support.sse import next_event, sse_events

T0 = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
REGION = "230102"
BUYER, RIVAL, WATCHER = "longjiang-coatings", "songhua-tech", "bingcheng-capital"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def listing(database_url, common, clock):
    app = create_app(ListingSettings(database_url=database_url,
                                     notification_stream_poll_seconds=0.1),
                     common, run_background=False, clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.app = app
        client.runtime = app.state.runtime
        yield client


def who(common, subject: str, role: Role = Role.BUYER) -> dict:
    return bearer(common, role, "230100", subject)


async def twice(listing, handler, event, clock) -> None:
    """The event delivered twice, as a redelivery (or a replay from elsewhere) would."""
    for _ in range(2):
        await deliver(listing.db, "listing", handler, event, clock)


async def inbox(listing, common, subject: str, **params) -> dict:
    r = await listing.get("/my/notifications", params=params, headers=who(common, subject))
    assert r.status_code == 200, r.text
    return r.json()


async def kinds(listing, common, subject: str) -> list[str]:
    return [n["kind"] for n in (await inbox(listing, common, subject))["items"]]


async def publish(listing, common) -> str:
    seller = who(common, "hit", Role.SELLER)
    listing_id = (await listing.post("/achievements", json=achievement(),
                                     headers=seller)).json()["id"]
    await listing.post(f"/achievements/{listing_id}/submit", headers=seller)
    r = await listing.post(f"/achievements/{listing_id}/approve",
                           headers=bearer(common, Role.OPERATOR, "230100"))
    assert r.status_code == 200, r.text
    return listing_id


def matched(interest: uuid.UUID | None = None, listing_id: uuid.UUID | None = None
            ) -> ListingInterestMatched:
    return ListingInterestMatched(
        listing_id=listing_id or uuid.uuid4(), region=REGION, occurred_at=T0,
        actor="listing", interest_id=interest or uuid.uuid4(), buyer_id=BUYER, score=0.8,
        reasons=["共同词语: 石墨烯"])


def bid(procedure: uuid.UUID, sequence: int, bidder: str, amount: int,
        ends_at: datetime = T0 + timedelta(hours=1)) -> BidAccepted:
    return BidAccepted(procedure_id=procedure, region=REGION, occurred_at=T0, actor=bidder,
                       sequence=sequence, bidder_id=bidder, amount_fen=amount,
                       automatic=False, ends_at=ends_at)


async def test_an_interest_match_is_told_to_its_buyer_once(listing, common, clock):
    event = matched()
    await twice(listing, handlers.on_interest_matched, event, clock)
    got = await inbox(listing, common, BUYER)
    assert [n["kind"] for n in got["items"]] == ["interest_matched"]
    assert got["items"][0]["data"]["listing_id"] == str(event.listing_id)
    assert got["unread"] == 1 and got["items"][0]["read"] is False
    assert await kinds(listing, common, RIVAL) == []


async def test_the_watchers_of_a_listing_hear_of_its_procedure_once(listing, common, clock):
    listing_id = await publish(listing, common)
    r = await listing.post("/my/watches", json={"listing_id": listing_id},
                           headers={**who(common, WATCHER), "Idempotency-Key": "w-1"})
    assert r.status_code == 201, r.text
    again = await listing.post("/my/watches", json={"listing_id": listing_id},
                               headers=who(common, WATCHER))
    assert again.status_code == 201
    mine = await listing.get("/my/watches", headers=who(common, WATCHER))
    assert [w["listing_id"] for w in mine.json()] == [listing_id]
    unknown = await listing.post("/my/watches", json={"listing_id": str(uuid.uuid4())},
                                 headers=who(common, WATCHER))
    assert unknown.status_code == 404
    procedure = uuid.uuid4()
    await twice(listing, handlers.on_announced, AuctionAnnounced(
        procedure_id=procedure, listing_id=uuid.UUID(listing_id), route="auction",
        region=REGION, announced_at=T0, starts_at=T0 + timedelta(days=7)), clock)
    got = (await inbox(listing, common, WATCHER))["items"]
    assert [(n["kind"], n["data"]["procedure_id"]) for n in got] == [
        ("announced", str(procedure))]
    assert await kinds(listing, common, BUYER) == []
    gone = await listing.delete(f"/my/watches/{listing_id}", headers=who(common, WATCHER))
    assert gone.status_code == 200
    assert (await listing.get("/my/watches", headers=who(common, WATCHER))).json() == []
    assert (await listing.delete(f"/my/watches/{listing_id}",
                                 headers=who(common, WATCHER))).status_code == 404


async def test_an_outbid_bidder_is_told_once_and_never_who_outbid_it(listing, common, clock):
    procedure = uuid.uuid4()
    await twice(listing, handlers.on_bid_accepted, bid(procedure, 1, BUYER, 150_000_000),
                clock)
    assert await kinds(listing, common, BUYER) == []
    await twice(listing, handlers.on_bid_accepted, bid(procedure, 2, RIVAL, 152_000_000),
                clock)
    await twice(listing, handlers.on_bid_accepted, bid(procedure, 3, RIVAL, 160_000_000),
                clock)  # the rival raising its own bid outbids nobody
    got = (await inbox(listing, common, BUYER))["items"]
    assert [n["kind"] for n in got] == ["outbid"]
    assert got[0]["data"]["procedure_id"] == str(procedure)
    assert got[0]["data"]["high_bid_fen"] == 152_000_000
    assert RIVAL not in json.dumps(got)
    assert await kinds(listing, common, RIVAL) == []
    await twice(listing, handlers.on_bid_accepted, bid(procedure, 4, BUYER, 162_000_000),
                clock)
    assert await kinds(listing, common, RIVAL) == ["outbid"]
    assert await kinds(listing, common, BUYER) == ["outbid"]


async def test_the_end_nearing_is_told_to_bidders_and_watchers_once(listing, common, clock):
    listing_id = await publish(listing, common)
    await listing.post("/my/watches", json={"listing_id": listing_id},
                       headers=who(common, WATCHER))
    procedure = uuid.uuid4()
    ends = T0 + timedelta(hours=1)
    await twice(listing, handlers.on_terms_published, AuctionTermsPublished(
        procedure_id=procedure, region=REGION, occurred_at=T0, actor="operator",
        listing_id=uuid.UUID(listing_id), start_price_fen=150_000_000,
        increment_fen=2_000_000, deposit_fen=15_000_000, has_reserve=False, starts_at=T0,
        ends_at=ends, extension_seconds=300), clock)
    due = await listing.runtime.pool.fetchval(
        "SELECT due_at FROM deadlines WHERE kind = $1 AND key = $2 AND fired_at IS NULL",
        handlers.NOTIFY_ENDING, str(procedure))
    assert due == ends - timedelta(minutes=10)
    await deliver(listing.db, "listing", handlers.on_bid_accepted,
                  bid(procedure, 1, BUYER, 150_000_000, ends), clock)
    later = ends + timedelta(minutes=5)
    await twice(listing, handlers.on_extended, AuctionExtended(
        procedure_id=procedure, region=REGION, occurred_at=T0, actor="auction", sequence=1,
        previous_ends_at=ends, ends_at=later), clock)
    async with listing.runtime.pool.acquire() as conn:
        moved = await pending(conn, handlers.NOTIFY_ENDING, str(procedure))
    assert moved is not None and moved.due_at == later - timedelta(minutes=10)
    clock.advance(timedelta(minutes=52))  # past the old notice time, before the new one
    await listing.runtime.scheduler.fire_due()
    assert await kinds(listing, common, BUYER) == []
    clock.advance(timedelta(minutes=5))
    assert await listing.runtime.scheduler.fire_due() == 1
    assert await kinds(listing, common, BUYER) == ["ending"]
    assert await kinds(listing, common, WATCHER) == ["ending"]
    # told once: a later extension schedules nothing again
    await deliver(listing.db, "listing", handlers.on_extended, AuctionExtended(
        procedure_id=procedure, region=REGION, occurred_at=T0, actor="auction", sequence=2,
        previous_ends_at=later, ends_at=later + timedelta(minutes=5)), clock)
    clock.advance(timedelta(minutes=10))
    await listing.runtime.scheduler.fire_due()
    assert await kinds(listing, common, BUYER) == ["ending"]


async def test_an_ended_auction_tells_nobody_it_ends_soon(listing, common, clock):
    procedure, listing_id = uuid.uuid4(), uuid.uuid4()
    ends = T0 + timedelta(hours=1)
    await deliver(listing.db, "listing", handlers.on_bid_accepted,
                  bid(procedure, 1, BUYER, 150_000_000, ends), clock)
    await deliver(listing.db, "listing", handlers.on_closed, AuctionClosed(
        procedure_id=procedure, region=REGION, occurred_at=T0, actor="auction",
        listing_id=listing_id, route="auction", deal_id=uuid.uuid4(), winner_id=BUYER,
        hammer_price_fen=150_000_000, accepted_bids=1), clock)
    clock.advance(timedelta(minutes=55))
    await listing.runtime.scheduler.fire_due()
    assert await kinds(listing, common, BUYER) == []


async def test_an_objector_with_an_account_hears_the_outcome_once(listing, common, clock):
    procedure = uuid.uuid4()
    mine, public = uuid.uuid4(), uuid.uuid4()
    for objection, actor in ((mine, "citizen-42"), (public, handlers.PUBLIC_OBJECTOR)):
        await twice(listing, handlers.on_objection_filed, ObjectionFiled(
            procedure_id=procedure, region=REGION, occurred_at=T0, actor=actor,
            objection_id=objection, grounds="成交价格明显低于评估价值"), clock)
        await twice(listing, handlers.on_objection_resolved, ObjectionResolved(
            procedure_id=procedure, region=REGION, occurred_at=T0, actor="operator-230102",
            objection_id=objection, outcome="dismissed", reason="价格在合理区间"), clock)
    got = (await inbox(listing, common, "citizen-42"))["items"]
    assert [(n["kind"], n["data"]["objection_id"], n["data"]["outcome"]) for n in got] == [
        ("objection_resolved", str(mine), "dismissed")]
    count = await listing.runtime.pool.fetchval("SELECT count(*) FROM notifications")
    assert count == 1  # the public objector has no account to tell


async def test_the_inbox_pages_and_marks_read_and_is_nobody_elses(listing, common, clock):
    for _ in range(5):
        await deliver(listing.db, "listing", handlers.on_interest_matched, matched(), clock)
    first = await inbox(listing, common, BUYER, limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"] == first["items"][-1]["id"]
    second = await inbox(listing, common, BUYER, limit=2, cursor=first["next_cursor"])
    third = await inbox(listing, common, BUYER, limit=2, cursor=second["next_cursor"])
    assert len(third["items"]) == 1 and third["next_cursor"] is None
    ids = [n["id"] for page in (first, second, third) for n in page["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 5

    me = {**who(common, BUYER), "Idempotency-Key": "read-1"}
    r = await listing.post(f"/my/notifications/{ids[0]}/read", headers=me)
    assert r.status_code == 200 and r.json()["read"] is True
    assert (await inbox(listing, common, BUYER))["unread"] == 4
    unread = await inbox(listing, common, BUYER, unread="true")
    assert [n["id"] for n in unread["items"]] == ids[1:]
    read = await inbox(listing, common, BUYER, unread="false")
    assert [n["id"] for n in read["items"]] == ids[:1]

    # another account neither sees nor marks mine
    assert (await inbox(listing, common, RIVAL))["items"] == []
    theirs = await listing.post(f"/my/notifications/{ids[1]}/read", headers=who(common, RIVAL))
    assert theirs.status_code == 404
    assert theirs.json()["type"].endswith(":not-found")
    none = await listing.post("/my/notifications/read", json={}, headers=who(common, RIVAL))
    assert none.json() == {"marked": 0}

    upto = await listing.post("/my/notifications/read", json={"upto": ids[2]},
                              headers={**who(common, BUYER), "Idempotency-Key": "all-1"})
    assert upto.status_code == 200 and upto.json() == {"marked": 2}
    assert (await inbox(listing, common, BUYER))["unread"] == 2
    everything = await listing.post("/my/notifications/read", json={},
                                    headers=who(common, BUYER))
    assert everything.json() == {"marked": 2}
    assert (await inbox(listing, common, BUYER))["unread"] == 0
    for upto in (False, "3", 2**40, -1):
        refused = await listing.post("/my/notifications/read", json={"upto": upto},
                                     headers=who(common, BUYER))
        assert refused.status_code == 422, (upto, refused.text)
    bad = await listing.get("/my/notifications", params={"cursor": 2**40},
                            headers=who(common, BUYER))
    assert bad.status_code == 422
    assert (await listing.get("/my/notifications")).status_code == 401


async def test_the_stream_sends_new_notifications_and_resumes(listing, common, clock):
    await deliver(listing.db, "listing", handlers.on_interest_matched, matched(), clock)
    async with serving(listing.app) as base, httpx.AsyncClient(base_url=base,
                                                               timeout=10) as http:
        async with http.stream("GET", "/my/notifications/stream",
                               headers=who(common, BUYER)) as r:
            assert r.status_code == 200
            events = sse_events(r)
            await asyncio.sleep(0.3)  # the stream started: what existed is not sent again
            event = matched()
            await deliver(listing.db, "listing", handlers.on_interest_matched, event, clock)
            await deliver(listing.db, "listing", handlers.on_bid_accepted,
                          bid(uuid.uuid4(), 1, RIVAL, 1), clock)  # someone else's
            got = await next_event(events, timeout=10)
            assert got["event"] == "notification"
            data = json.loads(got["data"])
            assert data["data"]["listing_id"] == str(event.listing_id)
            assert got["id"] == str(data["id"])
            last = int(got["id"])
        await deliver(listing.db, "listing", handlers.on_interest_matched, matched(), clock)
        async with http.stream("GET", "/my/notifications/stream",
                               headers={**who(common, BUYER), "Last-Event-ID": str(last)}
                               ) as r:
            missed = await next_event(sse_events(r), timeout=10)
            assert int(missed["id"]) > last


async def test_a_stream_ends_after_its_lifetime(listing, common, clock):
    listing.runtime.settings.notification_stream_seconds = 0.5
    async with serving(listing.app) as base, httpx.AsyncClient(base_url=base,
                                                               timeout=10) as http:
        async with asyncio.timeout(5):
            r = await http.get("/my/notifications/stream", headers=who(common, BUYER))
    assert r.status_code == 200 and "notification" not in r.text


async def test_a_match_reaches_the_inbox_through_kafka_and_the_consumer(database_url, common):
    """The whole way: approving a listing publishes the match (outbox, relay, Kafka), the
    service's own consumer takes it through the inbox and the buyer finds it."""
    app = create_app(ListingSettings(database_url=database_url), common)
    async with running(app) as client:
        saved = await client.post("/interests", json={"query": "石墨烯 防腐"},
                                  headers=who(common, BUYER))
        assert saved.status_code == 201, saved.text
        listing_id = await publish(client, common)
        async with asyncio.timeout(60):
            while not (got := await inbox(client, common, BUYER))["items"]:
                await asyncio.sleep(0.2)
        assert [(n["kind"], n["data"]["listing_id"]) for n in got["items"]] == [
            ("interest_matched", listing_id)]
        event_id = await app.state.runtime.pool.fetchval("SELECT event_id FROM notifications")
        assert event_id is not None  # the consumed envelope's id, kept for tracing
