"""The expiry of a published listing as a deadline: scheduled with the publication, fired by
the scheduler, a no-op for a listing no longer published; and the backfill of the listings
published before it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.listing import handlers
from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from shared.clock import ManualClock
from shared.db import migrate
from shared.events.auction import AuctionAnnounced, AuctionFailed
from shared.scheduler import pending
from tests.support.handlers import deliver
from tests.support.listing import achievement
from tests.support.services import bearer, running

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "listing" / "migrations"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def listing(database_url, common, clock):
    app = create_app(ListingSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.runtime = app.state.runtime
        yield client


async def _publish(client, common) -> str:
    seller = bearer(common, Role.SELLER, "230100", "hit")
    listing_id = (await client.post("/achievements", json=achievement(),
                                    headers=seller)).json()["id"]
    await client.post(f"/achievements/{listing_id}/submit", headers=seller)
    r = await client.post(f"/achievements/{listing_id}/approve",
                          headers=bearer(common, Role.OPERATOR, "230100"))
    assert r.status_code == 200, r.text
    return listing_id


async def _status(client, common, listing_id: str) -> str:
    got = await client.get(f"/achievements/{listing_id}",
                           headers=bearer(common, Role.SELLER, "230100", "hit"))
    return got.json()["status"]


async def _deadline(url: str, listing_id: str):
    conn = await asyncpg.connect(url)
    try:
        return await pending(conn, handlers.EXPIRY, listing_id)
    finally:
        await conn.close()


async def test_publication_schedules_the_expiry_at_the_end_of_the_period(listing, common):
    listing_id = await _publish(listing, common)
    deadline = await _deadline(listing.db, listing_id)
    assert deadline is not None and deadline.due_at == T0 + YEAR


async def test_a_withdrawn_listing_is_not_expired(listing, common, clock):
    listing_id = await _publish(listing, common)
    withdrawn = await listing.post(f"/achievements/{listing_id}/withdraw",
                                   headers=bearer(common, Role.SELLER, "230100", "hit"))
    assert withdrawn.json()["status"] == "withdrawn"
    clock.advance(YEAR)
    assert await listing.runtime.scheduler.fire_due() == 1  # fired, and did nothing
    assert await _status(listing, common, listing_id) == "withdrawn"


async def test_a_listing_back_from_a_failed_procedure_after_its_period_expires(
        listing, common, clock):
    listing_id = await _publish(listing, common)
    procedure = uuid.uuid4()
    await deliver(listing.db, "listing", handlers.on_announced, AuctionAnnounced(
        procedure_id=procedure, listing_id=uuid.UUID(listing_id), route="auction",
        region="230102", announced_at=T0, starts_at=T0 + timedelta(days=7)), clock)
    clock.advance(YEAR)
    assert await listing.runtime.scheduler.fire_due() == 1
    assert await _status(listing, common, listing_id) == "in_transaction"  # left alone
    clock.advance(timedelta(days=1))
    await deliver(listing.db, "listing", handlers.on_failed, AuctionFailed(
        procedure_id=procedure, listing_id=uuid.UUID(listing_id), region="230102",
        reason="no-bid", failed_at=clock.now()), clock)
    assert await _status(listing, common, listing_id) == "published"
    assert await listing.runtime.scheduler.fire_due() == 1  # scheduled again, already due
    assert await _status(listing, common, listing_id) == "expired"


async def test_the_backfill_schedules_listings_published_before_the_deadlines(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, MIGRATIONS)
        expiries = {"published": T0 + YEAR, "past": T0 - YEAR}
        ids = {}
        for name, expires_at in [*expiries.items(), ("withdrawn", T0 + YEAR)]:
            ids[name] = uuid.uuid4()
            await conn.execute(
                "INSERT INTO achievements (id, title, region, seller_id, status, created_at,"
                " updated_at, published_at, expires_at) VALUES ($1, $2, '230102', 'hit', $3,"
                " $4, $4, $4, $5)", ids[name], name,
                "withdrawn" if name == "withdrawn" else "published", T0 - YEAR * 2, expires_at)
        backfill = (MIGRATIONS / "0004_listing_expiry_deadlines.sql").read_text()
        for _ in range(2):  # a pending deadline is kept, not doubled
            await conn.execute(backfill)
        rows = await conn.fetch(
            "SELECT key, due_at FROM deadlines WHERE kind = $1 AND fired_at IS NULL",
            handlers.EXPIRY)
        assert {r["key"]: r["due_at"] for r in rows} == {
            str(ids[name]): at for name, at in expiries.items()}
    finally:
        await conn.close()
