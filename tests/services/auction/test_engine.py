"""The bid engine over the real database: order, durability, ownership, takeover."""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import uuid
import weakref
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from services.auction.api import MIGRATIONS
from services.auction.domain.auction import Auction, AuctionTerms
from services.auction.domain.commands import PlaceBid, Qualify, Register
from services.auction.domain.errors import OwnedElsewhere, OwnershipLost
from services.auction.handlers.engine import BidEngine
from services.auction.store import auctions as store
from shared.clock import ManualClock
from shared.db import create_pool, database_unavailable, migrate
from shared.idempotency import Answer, Once
from shared.outbox import OutboxWriter

ANNOUNCED = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
STARTS = ANNOUNCED + timedelta(days=8)
ENDS = STARTS + timedelta(hours=24)
START_PRICE, INCREMENT = 1_000_000, 10_000


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(database_url, min_size=2, max_size=10)
    async with pool.acquire() as conn:
        await migrate(conn, *MIGRATIONS)
    yield pool
    await pool.close()


async def _auction(pool) -> Auction:
    terms = AuctionTerms(start_price_fen=START_PRICE, increment_fen=INCREMENT,
                         deposit_ratio=Decimal("0.10"), announce_at=ANNOUNCED, starts_at=STARTS,
                         ends_at=ENDS)
    auction, _ = Auction.announce(terms, listing_id=uuid.uuid4(), seller_id="hit",
                                  region="230102")
    async with pool.acquire() as conn:
        await store.insert_auction(conn, auction)
    return auction


def _engine(pool, clock, owner: str) -> BidEngine:
    return BidEngine(pool, OutboxWriter("auction"), clock, owner=owner,
                     lease=timedelta(seconds=10))


async def _qualified(engine: BidEngine, auction_id: uuid.UUID, bidders: list[str]) -> None:
    for b in bidders:
        await engine.run(auction_id, Register(b))
        await engine.run(auction_id, Qualify(b))


async def _rows(pool, auction_id) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT seq, bidder_id, amount_fen FROM bids WHERE auction_id = $1 ORDER BY seq",
        auction_id)


async def test_an_accepted_bid_is_durable_when_answered(pool):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    auction = await _auction(pool)
    engine = _engine(pool, clock, "a")
    try:
        await _qualified(engine, auction.id, ["b1", "b2"])
        clock.advance(STARTS - clock.now() + timedelta(hours=1))
        first = await engine.run(auction.id, PlaceBid("b1", START_PRICE))
        assert first.accepted and first.sequence == 1
        assert [tuple(r) for r in await _rows(pool, auction.id)] == [(1, "b1", START_PRICE)]
        low = await engine.run(auction.id, PlaceBid("b2", START_PRICE + INCREMENT // 2))
        assert not low.accepted and low.reason in ("below-minimum", "not-multiple")
        unqualified = await engine.run(auction.id, PlaceBid("stranger", START_PRICE * 2))
        assert unqualified.reason == "not-qualified"
        assert len(await _rows(pool, auction.id)) == 1
        events = await pool.fetch("SELECT type FROM outbox ORDER BY seq")
        assert [e["type"] for e in events][-3:] == [
            "cn.techex.auction.bid_accepted.v1", "cn.techex.auction.bid_rejected.v1",
            "cn.techex.auction.bid_rejected.v1"]
    finally:
        await engine.stop()


async def test_concurrent_bids_make_one_rising_sequence_equal_to_the_stored_one(pool):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    auction = await _auction(pool)
    engine = _engine(pool, clock, "a")
    bidders = [f"b{i}" for i in range(16)]
    try:
        await _qualified(engine, auction.id, bidders)
        clock.advance(STARTS - clock.now() + timedelta(hours=1))
        rng = random.Random(7)
        answers = []

        async def bidder(name: str) -> None:
            high = START_PRICE - INCREMENT
            for _ in range(25):
                amount = high + INCREMENT * rng.randint(1, 3)
                answer = await engine.run(auction.id, PlaceBid(name, amount))
                answers.append((name, answer))
                high = max(high, answer.high_bid_fen or high)

        await asyncio.gather(*(bidder(b) for b in bidders))
        accepted = sorted((a.sequence, n, a.amount_fen) for n, a in answers if a.accepted)
        stored = [tuple(r) for r in await _rows(pool, auction.id)]
        assert stored == accepted
        assert [s for s, _, _ in stored] == list(range(1, len(stored) + 1))
        amounts = [a for _, _, a in stored]
        assert all(b - a >= INCREMENT for a, b in itertools.pairwise(amounts))
        assert len(stored) > 50
        state = await engine.state(auction.id)
        assert state.ladder.count == len(stored)
        assert state.high_bid.amount_fen == amounts[-1]
    finally:
        await engine.stop()


async def test_a_second_process_is_refused_then_takes_over_after_a_crash(pool, database_url):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    auction = await _auction(pool)
    a = _engine(pool, clock, "process-a")
    other_pool = await create_pool(database_url, min_size=1, max_size=4)
    b = _engine(other_pool, clock, "process-b")
    try:
        await _qualified(a, auction.id, ["b1", "b2"])
        clock.advance(STARTS - clock.now() + timedelta(hours=1))
        await a.renew_leases()  # a live process keeps its lease fresh
        for i in range(5):
            await a.run(auction.id, PlaceBid("b1" if i % 2 == 0 else "b2",
                                        START_PRICE + i * INCREMENT))
        with pytest.raises(OwnedElsewhere):
            await b.run(auction.id, PlaceBid("b2", START_PRICE + 10 * INCREMENT))
        await a.stop(release=False)  # the process dies: its lease is still on the row
        with pytest.raises(OwnedElsewhere):
            await b.run(auction.id, PlaceBid("b2", START_PRICE + 10 * INCREMENT))
        clock.advance(timedelta(seconds=11))  # the lease lapses
        answer = await b.run(auction.id, PlaceBid("b2", START_PRICE + 10 * INCREMENT))
        assert answer.accepted and answer.sequence == 6  # the sequence goes on
        state = await b.state(auction.id)
        assert [x.bidder_id for x in state.bids] == ["b1", "b2", "b1", "b2", "b1", "b2"]
        assert len(await _rows(pool, auction.id)) == 6
    finally:
        await b.stop()
        await other_pool.close()


async def test_a_process_that_lost_its_lease_cannot_append(pool, database_url):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    auction = await _auction(pool)
    a = _engine(pool, clock, "process-a")
    other_pool = await create_pool(database_url, min_size=1, max_size=4)
    b = _engine(other_pool, clock, "process-b")
    try:
        await _qualified(a, auction.id, ["b1", "b2"])
        clock.advance(STARTS - clock.now() + timedelta(hours=1))
        await a.renew_leases()
        await a.run(auction.id, PlaceBid("b1", START_PRICE))
        clock.advance(timedelta(seconds=11))  # a was paused past its lease
        taken = await b.run(auction.id, PlaceBid("b2", START_PRICE + INCREMENT))
        assert taken.accepted and taken.sequence == 2
        with pytest.raises(OwnershipLost):
            await a.run(auction.id, PlaceBid("b1", START_PRICE + 5 * INCREMENT))
        assert [r["bidder_id"] for r in await _rows(pool, auction.id)] == ["b1", "b2"]
        with pytest.raises(OwnedElsewhere):  # and a new writer on a is refused
            await a.run(auction.id, PlaceBid("b1", START_PRICE + 5 * INCREMENT))
    finally:
        await a.stop()
        await b.stop()
        await other_pool.close()


async def test_an_extension_moves_the_close_deadline(pool):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    auction = await _auction(pool)
    engine = _engine(pool, clock, "a")
    try:
        await _qualified(engine, auction.id, ["b1"])
        clock.advance(ENDS - clock.now() - timedelta(minutes=2))
        answer = await engine.run(auction.id, PlaceBid("b1", START_PRICE))
        assert answer.ends_at == clock.now() + timedelta(minutes=5)
        due = await pool.fetchval(
            "SELECT due_at FROM deadlines WHERE kind = 'auction.close' AND key = $1",
            str(auction.id))
        assert due == answer.ends_at
    finally:
        await engine.stop()


async def test_a_writer_whose_connection_drops_mid_batch_steps_aside_for_a_rebuilt_one(
        pool, database_url):
    """The server ends the writer's session while its batch waits (here on a row lock another
    transaction holds): the batch is answered with the error, not left waiting, and the next
    bid rebuilds the state from the rows under a new epoch."""
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    auction = await _auction(pool)
    engine = _engine(pool, clock, "a")
    blocker = await asyncpg.connect(database_url)
    try:
        await _qualified(engine, auction.id, ["b1", "b2"])
        clock.advance(STARTS - clock.now() + timedelta(hours=1))
        await engine.run(auction.id, PlaceBid("b1", START_PRICE))
        epoch = await pool.fetchval("SELECT owner_epoch FROM auctions WHERE id = $1", auction.id)

        holding = blocker.transaction()
        await holding.start()
        await blocker.execute("SELECT 1 FROM auctions WHERE id = $1 FOR UPDATE", auction.id)
        pending = asyncio.ensure_future(
            engine.run(auction.id, PlaceBid("b2", START_PRICE + INCREMENT)))
        for _ in range(200):
            if await blocker.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"):
                break
            await asyncio.sleep(0.02)
        with pytest.raises(Exception) as dropped:
            await asyncio.wait_for(pending, 10)
        assert database_unavailable(dropped.value)
        await holding.rollback()

        again = await engine.run(auction.id, PlaceBid("b2", START_PRICE + INCREMENT))
        assert again.accepted and again.sequence == 2
        assert [r["bidder_id"] for r in await _rows(pool, auction.id)] == ["b1", "b2"]
        assert await pool.fetchval(
            "SELECT owner_epoch FROM auctions WHERE id = $1", auction.id) == epoch + 1
    finally:
        await blocker.close()
        await engine.stop()


async def _open_bidding(pool, engine, clock, n: int, bidders: list[str]) -> list[Auction]:
    auctions = [await _auction(pool) for _ in range(n)]
    for a in auctions:
        await _qualified(engine, a.id, bidders)
    clock.advance(STARTS - clock.now() + timedelta(hours=1))
    return auctions


async def test_the_batches_of_many_auctions_are_written_in_one_transaction(pool):
    """Group commit: bids on many auctions at once share transactions (one xmin for many
    auctions' bids), and each auction's sequence is still its own."""
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    engine = _engine(pool, clock, "a")
    try:
        auctions = await _open_bidding(pool, engine, clock, 30, ["b1", "b2"])
        first = await asyncio.gather(*(engine.run(a.id, PlaceBid("b1", START_PRICE))
                                       for a in auctions))
        second = await asyncio.gather(*(engine.run(a.id, PlaceBid("b2", START_PRICE + INCREMENT))
                                        for a in auctions))
        assert all(x.accepted and x.sequence == 1 for x in first)
        assert all(x.accepted and x.sequence == 2 for x in second)
        ids = [a.id for a in auctions]
        transactions = await pool.fetchval(
            "SELECT count(DISTINCT xmin::text) FROM bids WHERE auction_id = ANY($1)", ids)
        assert transactions <= 10  # 60 bids on 30 auctions
        rows = await pool.fetch(
            "SELECT bid_count, high_bid_fen, high_bidder FROM auctions WHERE id = ANY($1)", ids)
        assert {tuple(r) for r in rows} == {(2, START_PRICE + INCREMENT, "b2")}
    finally:
        await engine.stop()


async def test_an_auction_written_elsewhere_fails_alone_in_its_group(pool):
    """One batch of the group is no longer this process's to write: it alone is refused,
    the others of the same transaction are durable."""
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    engine = _engine(pool, clock, "a")
    try:
        auctions = await _open_bidding(pool, engine, clock, 5, ["b1"])
        lost = auctions[2].id
        await pool.execute("UPDATE auctions SET owner_epoch = owner_epoch + 1 WHERE id = $1",
                           lost)
        outcomes = await asyncio.gather(
            *(engine.run(a.id, PlaceBid("b1", START_PRICE)) for a in auctions),
            return_exceptions=True)
        assert isinstance(outcomes[2], OwnershipLost)
        assert all(o.accepted for i, o in enumerate(outcomes) if i != 2)
        counts = dict(await pool.fetch(
            "SELECT auction_id, count(*) FROM bids WHERE auction_id = ANY($1)"
            " GROUP BY auction_id", [a.id for a in auctions]))
        assert lost not in counts and set(counts.values()) == {1} and len(counts) == 4
    finally:
        await engine.stop()


async def test_a_key_answered_before_spoils_the_group_and_only_its_command_sees_it(pool):
    """A retried keyed bid meets its stored answer in the group's transaction: the group is
    rolled back and written batch by batch, the retry is answered with the first answer and
    the other auctions' bids are durable once each."""
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    engine = _engine(pool, clock, "a")

    def render(a):
        return Answer.json(201 if a.accepted else 409, {"sequence": a.sequence})

    try:
        auctions = await _open_bidding(pool, engine, clock, 4, ["b1"])
        keyed = auctions[0].id
        path = f"/auctions/{keyed}/bids"
        once = Once.of("b1", "retry-1", "POST", path, body=b'{"amount_fen":1000000}')
        first = await engine.run(keyed, PlaceBid("b1", START_PRICE), once, render)
        outcomes = await asyncio.gather(
            engine.run(keyed, PlaceBid("b1", START_PRICE), once, render),
            *(engine.run(a.id, PlaceBid("b1", START_PRICE)) for a in auctions[1:]))
        assert outcomes[0].replayed and not first.replayed
        assert (outcomes[0].status, outcomes[0].content) == (first.status, first.content)
        assert all(o.accepted and o.sequence == 1 for o in outcomes[1:])
        counts = dict(await pool.fetch(
            "SELECT auction_id, count(*) FROM bids WHERE auction_id = ANY($1)"
            " GROUP BY auction_id", [a.id for a in auctions]))
        assert counts == {a.id: 1 for a in auctions}
    finally:
        await engine.stop()


async def test_an_idle_writer_is_evicted_gives_its_lease_back_and_is_rebuilt(pool, database_url):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    engine = BidEngine(pool, OutboxWriter("auction"), clock, owner="a",
                       lease=timedelta(seconds=10), idle=timedelta(0))
    other_pool = await create_pool(database_url, min_size=1, max_size=2)
    other = _engine(other_pool, clock, "b")
    try:
        (auction,) = await _open_bidding(pool, engine, clock, 1, ["b1", "b2"])
        await engine.run(auction.id, PlaceBid("b1", START_PRICE))
        writer = weakref.ref(engine._actors[auction.id])
        gc.disable()  # freed by reference counting alone: no cycle keeps an evicted writer
        try:
            assert await engine.evict_idle() == 1
            for _ in range(5):
                await asyncio.sleep(0)
            assert writer() is None
        finally:
            gc.enable()
        assert not engine._actors and not engine._opening
        row = await store.current_owner(pool, auction.id)
        assert row["owner"] is None  # handed back at once: no lease to wait out
        again = await engine.run(auction.id, PlaceBid("b2", START_PRICE + INCREMENT))
        assert again.accepted and again.sequence == 2  # rebuilt from the rows
        epoch = (await store.current_owner(pool, auction.id))["owner_epoch"]
        async with pool.acquire() as conn:  # a release fenced by an older epoch does nothing
            await store.release_epochs(conn, "a", {auction.id: epoch - 1})
        assert (await store.current_owner(pool, auction.id))["owner"] == "a"
        assert await engine.evict_idle() == 1
        taken = await other.run(auction.id, PlaceBid("b1", START_PRICE + 2 * INCREMENT))
        assert taken.accepted and taken.sequence == 3
    finally:
        await engine.stop()
        await other.stop()
        await other_pool.close()


async def test_a_writer_in_use_is_not_evicted(pool):
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    engine = BidEngine(pool, OutboxWriter("auction"), clock, owner="a",
                       lease=timedelta(seconds=10), idle=timedelta(minutes=5))
    try:
        (auction,) = await _open_bidding(pool, engine, clock, 1, ["b1"])
        await engine.run(auction.id, PlaceBid("b1", START_PRICE))
        assert await engine.evict_idle() == 0
        assert auction.id in engine._actors
    finally:
        await engine.stop()


async def test_renewing_leases_skips_a_row_being_written_and_keeps_its_writer(pool, database_url):
    """Renewal does not wait on an auction row locked by a batch in flight (waiting on rows
    locked in another order deadlocks with a group commit): it skips it, and the writer
    stays — the batch extends the lease itself."""
    clock = ManualClock(ANNOUNCED + timedelta(days=1))
    engine = _engine(pool, clock, "a")
    blocker = await asyncpg.connect(database_url)
    try:
        auctions = await _open_bidding(pool, engine, clock, 2, ["b1", "b2"])
        for a in auctions:
            await engine.run(a.id, PlaceBid("b1", START_PRICE))
        before = {r["id"]: r["lease_until"] for r in await pool.fetch(
            "SELECT id, lease_until FROM auctions WHERE id = ANY($1)", [a.id for a in auctions])}
        clock.advance(timedelta(seconds=5))
        async with blocker.transaction():
            await blocker.execute("SELECT 1 FROM auctions WHERE id = $1 FOR UPDATE",
                                  auctions[0].id)
            await asyncio.wait_for(engine.renew_leases(), 5)
        after = {r["id"]: r["lease_until"] for r in await pool.fetch(
            "SELECT id, lease_until FROM auctions WHERE id = ANY($1)", [a.id for a in auctions])}
        assert after[auctions[0].id] == before[auctions[0].id]  # skipped
        assert after[auctions[1].id] == before[auctions[1].id] + timedelta(seconds=5)
        assert set(engine._actors) == {a.id for a in auctions}
        again = await engine.run(auctions[0].id, PlaceBid("b2", START_PRICE + INCREMENT))
        assert again.accepted
        assert await pool.fetchval("SELECT lease_until FROM auctions WHERE id = $1",
                                   auctions[0].id) == clock.now() + timedelta(seconds=10)
    finally:
        await blocker.close()
        await engine.stop()
