"""The listing trade (挂牌交易) over HTTP, with the real database and Kafka and a hand-moved
clock: deadlines are fired with the scheduler's ``fire_due`` instead of waiting."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.auction.api import create_app
from services.auction.config import AuctionSettings
from services.auction.handlers import BIDDING_CLOSE, PERIOD_END
from shared.auth import Role
from shared.clock import ManualClock
from shared.scheduler import pending
from tests.support.procedures import confirm_deposit, published_listing, sql
from tests.support.services import bearer, running

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # Monday 1 June 2026, 10:00 in Shanghai
PRICE = 1_000_000
INCREMENT = 50_000
DEPOSIT = 100_000
MIN = timedelta(minutes=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@asynccontextmanager
async def _service(database_url: str, common, clock: ManualClock
                   ) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(AuctionSettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.scheduler = app.state.runtime.scheduler
        yield client


@pytest.fixture
async def service(database_url, common, clock):
    async with _service(database_url, common, clock) as client:
        yield client


async def _sql(url: str, query: str, *args):
    return await sql(url, query, *args)


async def _published_listing(url: str, route: str = "listing") -> uuid.UUID:
    return await published_listing(url, route)


async def _deposit(url: str, trade_id: str, bidder: str, at: datetime,
                   amount_fen: int = DEPOSIT) -> None:
    """What the consumer does with the settlement service's DepositConfirmed."""
    await confirm_deposit(url, trade_id, bidder, at, amount_fen)


async def _outbox(url: str) -> list[tuple[str, dict]]:
    rows = await _sql(url, "SELECT type, payload FROM outbox ORDER BY seq")
    return [(r["type"].removeprefix("cn.techex.").removesuffix(".v1"), json.loads(r["payload"]))
            for r in rows]


def _terms(listing_id, **overrides) -> dict:
    return {"listing_id": str(listing_id), "listed_price_fen": PRICE,
            "increment_fen": INCREMENT, "deposit_fen": DEPOSIT, **overrides}


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _buyer(common, name: str) -> dict:
    return bearer(common, Role.BUYER, "230100", name)


async def _announced(client, common, **overrides) -> dict:
    listing_id = await _published_listing(client.db)
    r = await client.post("/listing-trades", json=_terms(listing_id, **overrides),
                          headers=bearer(common, Role.OPERATOR, "230100", "hlj-exchange"))
    assert r.status_code == 201, r.text
    return r.json()


async def _registered(client, common, trade_id: str, *names: str) -> None:
    for name in names:
        r = await client.post(f"/listing-trades/{trade_id}/registrations",
                              headers=_buyer(common, name))
        assert r.status_code == 201, r.text
        body = r.json()
        assert re.fullmatch(r"\d{4}", body.pop("bidder_number")), r.text
        assert body == {"listing_trade_id": trade_id, "bidder_id": name,
                        "deposit_fen": DEPOSIT, "qualified": False}


async def _to(clock: ManualClock, iso_or_at: str | datetime) -> None:
    at = _at(iso_or_at) if isinstance(iso_or_at, str) else iso_or_at
    clock.advance(at - clock.now())


async def test_no_qualified_buyer_extends_in_cycles_then_fails(service, common, clock):
    client = service
    trade = await _announced(client, common, max_extensions=2)
    trade_id = trade["id"]
    assert trade["status"] == "announced" and trade["working_days"] == 20
    # 20 working days from Monday 1 June 2026 (not counted), the Dragon Boat Festival on
    # 19 June not counted either: the last one is 30 June, the period ends at midnight then.
    assert _at(trade["period_ends_at"]) == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    await _registered(client, common, trade_id, "longjiang-coatings")
    # A deposit below the one required does not qualify.
    await _deposit(client.db, trade_id, "longjiang-coatings", NOW, amount_fen=DEPOSIT - 1)

    ends = [trade["period_ends_at"]]
    for cycle in (1, 2):
        await _to(clock, _at(ends[-1]) - MIN)
        assert await client.scheduler.fire_due() == 0
        clock.advance(MIN)
        assert await client.scheduler.fire_due() == 1
        state = (await client.get(f"/listing-trades/{trade_id}")).json()
        assert (state["status"], state["extensions"]) == ("announced", cycle)
        assert _at(state["period_ends_at"]) > _at(ends[-1])
        ends.append(state["period_ends_at"])
    # Each cycle is 5 working days: 7 July and 14 July 2026 are the last days.
    assert [_at(e) for e in ends[1:]] == [datetime(2026, 7, 7, 16, tzinfo=UTC),
                                          datetime(2026, 7, 14, 16, tzinfo=UTC)]
    await _to(clock, ends[-1])
    assert await client.scheduler.fire_due() == 1
    state = (await client.get(f"/listing-trades/{trade_id}")).json()
    assert (state["status"], state["failure"]) == ("failed", "no-qualified-buyer")
    assert state["winner_id"] is None and state["qualified_buyers"] == 0

    events = await _outbox(client.db)
    assert [t for t, _ in events] == [
        "auction.announced", "auction.listing_terms_published", "auction.bidder_registered",
        "auction.listing_period_extended", "auction.listing_period_extended",
        "auction.failed"]
    failed = events[-1][1]
    assert (failed["procedure_id"], failed["reason"]) == (trade_id, "no-qualified-buyer")
    assert [e["cycle"] for t, e in events if t == "auction.listing_period_extended"] == [1, 2]
    rows = await _sql(client.db, "SELECT count(*) AS n FROM deadlines"
                      " WHERE key = $1 AND fired_at IS NULL", trade_id)
    assert rows[0]["n"] == 0  # nothing left to fire
    late = await client.post(f"/listing-trades/{trade_id}/registrations",
                             headers=_buyer(common, "dalian-marine"))
    assert late.status_code == 409
    assert late.json()["type"] == "urn:techex:problem:auction-registration-refused"


async def test_exactly_one_qualified_buyer_buys_at_the_listed_price(service, common, clock):
    client = service
    trade = await _announced(client, common)
    trade_id = trade["id"]
    await _registered(client, common, trade_id, "longjiang-coatings", "dalian-marine")
    clock.advance(timedelta(days=3))
    await _deposit(client.db, trade_id, "longjiang-coatings", clock.now())
    await _deposit(client.db, trade_id, "longjiang-coatings", clock.now())  # redelivered
    early = await client.post(f"/listing-trades/{trade_id}/bids", json={"amount_fen": PRICE},
                              headers=_buyer(common, "longjiang-coatings"))
    assert early.status_code == 409 and early.json()["reason"] == "not-open"

    await _to(clock, trade["period_ends_at"])
    assert await client.scheduler.fire_due() == 1
    state = (await client.get(f"/listing-trades/{trade_id}")).json()
    assert state["status"] == "closed" and state["qualified_buyers"] == 1
    assert (state["winner_id"], state["price_fen"]) == (None, PRICE)  # the public view
    seen = (await client.get(f"/listing-trades/{trade_id}",
                             headers=bearer(common, Role.OPERATOR, "230100"))).json()
    assert seen["winner_id"] == "longjiang-coatings"
    assert seen["winner_number"] == state["winner_number"] is not None
    assert state["bids"] == [] and state["closed_at"] is not None

    events = await _outbox(client.db)
    types = [t for t, _ in events]
    assert types.count("auction.bidder_qualified") == 1
    assert types[-2:] == ["auction.closed", "deal.concluded"]
    deal = events[-1][1]
    assert deal["route"] == "listing" and deal["procedure_id"] == trade_id
    assert (deal["buyer_id"], deal["seller_id"], deal["price_fen"]) == (
        "longjiang-coatings", "hit-university", PRICE)
    assert await client.scheduler.fire_due() == 0  # nothing else was scheduled


async def test_two_qualified_buyers_bid_and_the_highest_wins(database_url, common, clock):
    async with _service(database_url, common, clock) as client:
        trade = await _announced(client, common, free_quote_seconds=3600, countdown_seconds=300)
        trade_id = trade["id"]
        await _registered(client, common, trade_id, "A", "B", "C")
        await _deposit(client.db, trade_id, "A", NOW + MIN)
        await _deposit(client.db, trade_id, "B", NOW + MIN)  # C never pays
        await _to(clock, trade["period_ends_at"])
        opens = clock.now()
        assert await client.scheduler.fire_due() == 1
        state = (await client.get(f"/listing-trades/{trade_id}")).json()
        free_ends = opens + timedelta(hours=1)
        assert state["status"] == "bidding" and state["qualified_buyers"] == 2
        assert _at(state["bidding_opens_at"]) == opens
        assert _at(state["free_quote_ends_at"]) == free_ends
        assert _at(state["bidding_ends_at"]) == free_ends + 5 * MIN

        async def bid(who: str, amount: int) -> httpx.Response:
            return await client.post(f"/listing-trades/{trade_id}/bids",
                                     json={"amount_fen": amount}, headers=_buyer(common, who))

        # Free-quote period: bids do not move the end.
        clock.advance(10 * MIN)
        r = await bid("A", PRICE)
        assert r.status_code == 201, r.text
        assert r.json()["sequence"] == 1 and _at(r.json()["ends_at"]) == free_ends + 5 * MIN
        refused = await bid("C", PRICE + INCREMENT)
        assert refused.status_code == 409 and refused.json()["reason"] == "not-qualified"
        below = await bid("B", PRICE)
        assert below.status_code == 409 and below.json()["reason"] == "below-minimum"
        assert below.json()["minimum_fen"] == PRICE + INCREMENT
        own = await bid("A", PRICE + INCREMENT)
        assert own.json()["reason"] == "own-high-bid"

        # Timed period: a bid restarts the 5-minute countdown, and the deadline moves with it.
        await _to(clock, free_ends + 2 * MIN)
        r = await bid("B", PRICE + 2 * INCREMENT)
        assert r.status_code == 201 and _at(r.json()["ends_at"]) == free_ends + 7 * MIN
        moved = await _pending(client.db, trade_id)
        assert moved == free_ends + 7 * MIN
        await _to(clock, free_ends + 5 * MIN)  # the first end has passed: nothing happens
        assert await client.scheduler.fire_due() == 0
        await _to(clock, free_ends + 6 * MIN)
        r = await bid("A", PRICE + 3 * INCREMENT)
        assert r.status_code == 201 and _at(r.json()["ends_at"]) == free_ends + 11 * MIN

    # A restart rebuilds the state from the rows: the bids, the end, the qualified buyers.
    async with _service(database_url, common, clock) as client:
        state = (await client.get(f"/listing-trades/{trade_id}")).json()
        assert state["status"] == "bidding" and state["high_bid_fen"] == PRICE + 3 * INCREMENT
        assert [b["amount_fen"] for b in state["bids"]] == [
            PRICE, PRICE + 2 * INCREMENT, PRICE + 3 * INCREMENT]
        assert {b["bidder_id"] for b in state["bids"]} == {None}  # the public view
        numbers = [b["bidder_number"] for b in state["bids"]]
        assert numbers[0] == numbers[2] != numbers[1]
        assert _at(state["bidding_ends_at"]) == free_ends + 11 * MIN
        await _to(clock, free_ends + 11 * MIN - timedelta(seconds=1))
        assert await client.scheduler.fire_due() == 0
        clock.advance(timedelta(seconds=1))
        late = await client.post(f"/listing-trades/{trade_id}/bids",
                                 json={"amount_fen": PRICE + 9 * INCREMENT},
                                 headers=_buyer(common, "B"))
        assert late.status_code == 409 and late.json()["reason"] == "after-close"
        assert await client.scheduler.fire_due() == 1
        state = (await client.get(f"/listing-trades/{trade_id}")).json()
        assert state["status"] == "closed"
        assert (state["winner_number"], state["price_fen"]) == (numbers[0],
                                                                PRICE + 3 * INCREMENT)
        seller = (await client.get(f"/listing-trades/{trade_id}",
                                   headers=bearer(common, Role.SELLER, "230100",
                                                  state["seller_id"]))).json()
        assert seller["winner_id"] == "A"  # after the close, the seller knows its buyer

        events = await _outbox(client.db)
        types = [t for t, _ in events]
        assert "auction.listing_bidding_started" in types
        assert types.count("auction.bid_accepted") == 3
        assert types.count("auction.bid_rejected") == 4  # the refused bids are on record
        assert types.count("auction.extended") == 2
        deal = events[-1]
        assert deal[0] == "deal.concluded"
        assert (deal[1]["buyer_id"], deal[1]["price_fen"]) == ("A", PRICE + 3 * INCREMENT)
        rows = await _sql(client.db, "SELECT seq, bidder_id, amount_fen FROM listing_trade_bids"
                          " WHERE trade_id = $1 ORDER BY seq", uuid.UUID(trade_id))
        assert [(r["seq"], r["bidder_id"]) for r in rows] == [(1, "A"), (2, "B"), (3, "A")]


async def _pending(url: str, trade_id: str) -> datetime | None:
    conn = await asyncpg.connect(url)
    try:
        deadline = await pending(conn, BIDDING_CLOSE, trade_id)
        return deadline.due_at if deadline else None
    finally:
        await conn.close()


async def test_no_deposit_qualifies_on_registration_and_no_bid_fails(service, common, clock):
    client = service
    trade = await _announced(client, common, deposit_fen=0, working_days=5)
    trade_id = trade["id"]
    for name in ("A", "B"):
        r = await client.post(f"/listing-trades/{trade_id}/registrations",
                              headers=_buyer(common, name))
        assert r.status_code == 201 and r.json()["qualified"] is True
    again = await client.post(f"/listing-trades/{trade_id}/registrations",
                              headers=_buyer(common, "A"))
    assert again.status_code == 409
    await _to(clock, trade["period_ends_at"])
    assert await client.scheduler.fire_due() == 1
    state = (await client.get(f"/listing-trades/{trade_id}")).json()
    await _to(clock, state["bidding_ends_at"])
    assert await client.scheduler.fire_due() == 1
    state = (await client.get(f"/listing-trades/{trade_id}")).json()
    assert (state["status"], state["failure"]) == ("failed", "no-bid")


async def test_bad_requests_get_problems_and_change_nothing(service, common, clock):
    client = service
    operator = bearer(common, Role.OPERATOR, "230100")
    listing_id = await _published_listing(client.db)

    unknown_listing = await client.post("/listing-trades", json=_terms(uuid.uuid4()),
                                        headers=operator)
    assert unknown_listing.status_code == 404
    auction_listing = await _published_listing(client.db, route="auction")
    wrong = await client.post("/listing-trades", json=_terms(auction_listing), headers=operator)
    assert wrong.status_code == 409
    assert wrong.json()["type"] == "urn:techex:problem:auction-listing-wrong-route"
    assert wrong.headers["content-type"] == "application/problem+json"
    elsewhere = await client.post("/listing-trades", json=_terms(listing_id),
                                  headers=bearer(common, Role.OPERATOR, "210000"))
    assert elsewhere.status_code == 403
    seller = await client.post("/listing-trades", json=_terms(listing_id),
                               headers=bearer(common, Role.SELLER, "230100"))
    assert seller.status_code == 403
    for malformed in ({"listed_price_fen": "abc"}, {"listed_price_fen": -5},
                      {"listed_price_fen": 1.5}, {"listed_price_fen": 0},
                      {"increment_fen": "100"}, {"deposit_fen": -1},
                      {"extension_working_days": 4}, {"working_days": 0},
                      {"countdown_seconds": 0}):
        r = await client.post("/listing-trades", json=_terms(listing_id, **malformed),
                              headers=operator)
        assert r.status_code == 422, malformed
        assert r.json()["errors"][0]["field"] == f"body.{next(iter(malformed))}", r.json()
    missing = await client.post("/listing-trades", json={"listing_id": str(listing_id)},
                                headers=operator)
    assert missing.status_code == 422
    assert await _outbox(client.db) == []

    # Outside the published working-day calendar (2026 is the last year it knows).
    clock.advance(datetime(2026, 12, 10, 2, tzinfo=UTC) - NOW)
    beyond = await client.post("/listing-trades", json=_terms(listing_id), headers=operator)
    assert beyond.status_code == 422
    assert beyond.json()["type"] == "urn:techex:problem:auction-working-calendar-not-covered"
    clock.advance(NOW - clock.now())

    unknown = uuid.uuid4()
    assert (await client.get(f"/listing-trades/{unknown}")).status_code == 404
    assert (await client.post(f"/listing-trades/{unknown}/registrations",
                              headers=_buyer(common, "A"))).status_code == 404
    assert (await client.post(f"/listing-trades/{unknown}/bids", json={"amount_fen": PRICE},
                              headers=_buyer(common, "A"))).status_code == 404
    assert (await client.get("/listing-trades/not-a-uuid")).status_code == 422
    assert await _outbox(client.db) == []

    ok = await client.post("/listing-trades", json=_terms(listing_id), headers=operator)
    assert ok.status_code == 201
    trade_id = ok.json()["id"]
    twice = await client.post("/listing-trades", json=_terms(listing_id), headers=operator)
    assert twice.status_code == 409
    assert twice.json()["type"] == "urn:techex:problem:auction-listing-procedure-running"
    seller_registers = await client.post(
        f"/listing-trades/{trade_id}/registrations",
        headers=bearer(common, Role.BUYER, "230100", "hit-university"))
    assert seller_registers.status_code == 409
    for malformed in ({"amount_fen": "abc"}, {"amount_fen": -5}, {"amount_fen": 1.5}, {}):
        r = await client.post(f"/listing-trades/{trade_id}/bids", json=malformed,
                              headers=_buyer(common, "A"))
        assert r.status_code == 422, malformed
    seller_bids = await client.post(f"/listing-trades/{trade_id}/bids",
                                    json={"amount_fen": PRICE},
                                    headers=bearer(common, Role.SELLER, "230100"))
    assert seller_bids.status_code == 403
    assert (await client.post(f"/listing-trades/{trade_id}/registrations")).status_code == 401
    assert [t for t, _ in await _outbox(client.db)] == [
        "auction.announced", "auction.listing_terms_published"]
    rows = await _sql(client.db, "SELECT kind FROM deadlines WHERE key = $1", trade_id)
    assert [r["kind"] for r in rows] == [PERIOD_END]


async def test_a_period_into_a_year_the_package_does_not_know_needs_its_calendar_file(
        new_database, common, tmp_path):
    from services.auction.domain import workdays

    year = workdays.CALENDAR_YEARS.stop  # the first year chinesecalendar does not know
    late = ManualClock(datetime(year - 1, 12, 21, 2, 0, tzinfo=UTC))
    operator = bearer(common, Role.OPERATOR, "230100")

    async with _service(await new_database(), common, late) as client:
        listing_id = await _published_listing(client.db)
        refused = await client.post("/listing-trades", json=_terms(listing_id), headers=operator)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"] == "urn:techex:problem:auction-working-calendar-not-covered"

    notice = tmp_path / "calendar.json"
    notice.write_text(json.dumps({str(year): {"holidays": [f"{year}-01-01"], "workdays": []}}))
    saved = dict(workdays._published)
    try:
        app = create_app(AuctionSettings(database_url=await new_database(), calendar_file=notice),
                         common, run_background=False, clock=late)
        async with running(app) as client:
            client.db = app.state.runtime.settings.database_url
            listing_id = await _published_listing(client.db)
            r = await client.post("/listing-trades", json=_terms(listing_id), headers=operator)
            assert r.status_code == 201, r.text
            assert datetime.fromisoformat(r.json()["period_ends_at"]).year == year
    finally:
        workdays._published.clear()
        workdays._published.update(saved)
