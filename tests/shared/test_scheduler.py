"""The deadline scheduler against a real database: timing by a manual clock, races, crashes."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import REGISTRY

from shared.clock import ManualClock, SystemClock
from shared.context import Tx
from shared.db import create_pool, migrate
from shared.scheduler import Deadline, Scheduler, cancel, pending, schedule
from tests.support.pipeline import wait_for
from tests.support.scheduler_main import EFFECTS_TABLE, KIND, recorder

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database_url) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url, min_size=1, max_size=8)
    async with p.acquire() as conn:
        await migrate(conn)
        await conn.execute(EFFECTS_TABLE)
    yield p
    await p.close()


def _scheduler(pool, url, clock, handlers=None, **kw) -> Scheduler:
    kw.setdefault("service", f"test-{uuid.uuid4().hex[:8]}")
    return Scheduler(pool, url, clock, handlers or {KIND: recorder("local")}, **kw)


async def _schedule(pool, key: str, due_at: datetime, payload=None, kind: str = KIND) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await schedule(conn, kind, key, due_at, payload)


async def _effects(pool, key: str | None = None) -> list[asyncpg.Record]:
    if key is None:
        return await pool.fetch("SELECT * FROM effects ORDER BY n")
    return await pool.fetch("SELECT * FROM effects WHERE key = $1 ORDER BY n", key)


async def _row(pool, key: str, kind: str = KIND) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT * FROM deadlines WHERE kind = $1 AND key = $2 ORDER BY id DESC LIMIT 1", kind, key)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _cancel(*tasks: asyncio.Task) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_fires_at_due_time_and_not_before(database_url, pool):
    clock = ManualClock(T0)
    s = _scheduler(pool, database_url, clock)
    due = T0 + timedelta(minutes=10)
    await _schedule(pool, "auction-1", due, {"lot": 7})
    assert await s.fire_due() == 0
    clock.advance(timedelta(minutes=10) - timedelta(microseconds=1))
    assert await s.fire_due() == 0
    assert await _effects(pool) == []
    clock.advance(timedelta(microseconds=1))  # exactly due
    assert await s.fire_due() == 1
    [effect] = await _effects(pool)
    assert effect["key"] == "auction-1" and effect["due_at"] == due
    row = await _row(pool, "auction-1")
    assert row["fired_at"] == due and row["attempts"] == 1 and row["last_error"] is None
    clock.advance(timedelta(days=1))
    assert await s.fire_due() == 0
    assert len(await _effects(pool)) == 1
    assert _metric("techex_deadlines_fired_total", service=s.service, kind=KIND,
                   outcome="ok") == 1
    assert _metric("techex_deadline_lateness_seconds_count", service=s.service, kind=KIND) == 1


async def test_payload_reaches_the_handler(database_url, pool):
    clock = ManualClock(T0)
    seen: list[Deadline] = []

    async def handle(tx: Tx, deadline: Deadline) -> None:
        seen.append(deadline)

    s = _scheduler(pool, database_url, clock, {"deposit.release": handle})
    await _schedule(pool, "deposit-9", T0, {"amount_fen": 500_00, "bidder": "b-1"},
                    kind="deposit.release")
    await _schedule(pool, "deposit-10", T0, kind="deposit.release")
    assert await s.fire_due() == 2
    assert [(d.key, d.payload, d.attempts) for d in seen] == [
        ("deposit-9", {"amount_fen": 500_00, "bidder": "b-1"}, 0), ("deposit-10", {}, 0)]


async def test_rescheduling_moves_the_deadline(database_url, pool):
    clock = ManualClock(T0)
    s = _scheduler(pool, database_url, clock)
    await _schedule(pool, "later", T0 + timedelta(minutes=10), {"v": 1})
    await _schedule(pool, "later", T0 + timedelta(minutes=20), {"v": 2})  # extended
    await _schedule(pool, "earlier", T0 + timedelta(minutes=20))
    await _schedule(pool, "earlier", T0 + timedelta(minutes=5))  # brought forward
    assert await pool.fetchval("SELECT count(*) FROM deadlines") == 2

    clock.advance(timedelta(minutes=5))
    assert await s.fire_due() == 1
    assert [e["key"] for e in await _effects(pool)] == ["earlier"]
    clock.advance(timedelta(minutes=5))  # the old time of "later"
    assert await s.fire_due() == 0
    async with pool.acquire() as conn:
        moved = await pending(conn, KIND, "later")
    assert moved is not None and moved.payload == {"v": 2}
    assert moved.due_at == T0 + timedelta(minutes=20)
    clock.advance(timedelta(minutes=10))
    assert await s.fire_due() == 1
    clock.advance(timedelta(hours=1))
    assert await s.fire_due() == 0
    assert [e["key"] for e in await _effects(pool)] == ["earlier", "later"]
    assert (await _effects(pool, "later"))[0]["due_at"] == T0 + timedelta(minutes=20)


async def test_a_deadline_commits_only_with_its_callers_transaction(database_url, pool):
    clock = ManualClock(T0)
    s = _scheduler(pool, database_url, clock)
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await schedule(conn, KIND, "rolled-back", T0)
            raise RuntimeError("the state change failed")
    async with pool.acquire() as conn:
        with pytest.raises(ValueError, match="timezone-aware"):
            await schedule(conn, KIND, "naive", datetime(2026, 3, 1, 8, 0))
    assert await s.fire_due() == 0
    assert await pool.fetchval("SELECT count(*) FROM deadlines") == 0


async def test_cancel(database_url, pool):
    clock = ManualClock(T0)
    s = _scheduler(pool, database_url, clock)
    await _schedule(pool, "notice-1", T0 + timedelta(days=20))
    await _schedule(pool, "notice-2", T0 + timedelta(days=20))
    async with pool.acquire() as conn, conn.transaction():
        assert await cancel(conn, KIND, "notice-1") is True
        assert await cancel(conn, KIND, "notice-1") is False
        assert await cancel(conn, KIND, "never-scheduled") is False
    clock.advance(timedelta(days=30))
    assert await s.fire_due() == 1
    assert [e["key"] for e in await _effects(pool)] == ["notice-2"]
    async with pool.acquire() as conn:
        assert await cancel(conn, KIND, "notice-2") is False  # already fired
        assert await pending(conn, KIND, "notice-2") is None


async def test_failing_handler_is_retried_with_backoff_then_dead_others_still_fire(
    database_url, pool
):
    clock = ManualClock(T0)

    async def boom(tx: Tx, deadline: Deadline) -> None:
        conn = tx.conn
        await conn.execute("INSERT INTO effects (kind, key, by, due_at) VALUES ($1, $2, 'x', $3)",
                           deadline.kind, deadline.key, deadline.due_at)
        raise RuntimeError(f"kaboom #{deadline.attempts + 1}")

    s = _scheduler(pool, database_url, clock, {"boom": boom, KIND: recorder("local")},
                   max_attempts=3, retry_backoff=10.0)
    await _schedule(pool, "bad", T0, kind="boom")  # first in the batch
    await _schedule(pool, "good-1", T0)
    await _schedule(pool, "good-2", T0)

    assert await s.fire_due() == 3
    assert [e["key"] for e in await _effects(pool)] == ["good-1", "good-2"]  # boom rolled back
    bad = await _row(pool, "bad", "boom")
    assert bad["fired_at"] is None and bad["attempts"] == 1
    assert bad["last_error"] == "RuntimeError: kaboom #1"
    assert bad["due_at"] == T0 + timedelta(seconds=10)

    clock.advance(timedelta(seconds=9.999))
    assert await s.fire_due() == 0
    clock.advance(timedelta(milliseconds=1))
    assert await s.fire_due() == 1  # second attempt, then twice the wait
    bad = await _row(pool, "bad", "boom")
    assert bad["fired_at"] is None and bad["attempts"] == 2
    assert bad["due_at"] == clock.now() + timedelta(seconds=20)

    clock.advance(timedelta(seconds=20))
    assert await s.fire_due() == 1  # third attempt: given up
    dead = await _row(pool, "bad", "boom")
    assert dead["fired_at"] == clock.now() and dead["attempts"] == 3
    assert dead["last_error"] == "RuntimeError: kaboom #3"
    clock.advance(timedelta(days=1))
    assert await s.fire_due() == 0
    assert [e["key"] for e in await _effects(pool)] == ["good-1", "good-2"]
    assert await pool.fetchval("SELECT count(*) FROM deadlines WHERE fired_at IS NULL") == 0

    def fired(kind: str, outcome: str) -> float:
        return _metric("techex_deadlines_fired_total", service=s.service, kind=kind,
                       outcome=outcome)

    assert (fired(KIND, "ok"), fired("boom", "retry"), fired("boom", "dead")) == (2, 2, 1)
    assert fired("boom", "ok") == 0


async def test_a_rescheduled_failing_deadline_starts_its_attempts_afresh(database_url, pool):
    clock = ManualClock(T0)

    async def boom(tx: Tx, deadline: Deadline) -> None:
        raise ValueError("not yet")

    s = _scheduler(pool, database_url, clock, {"boom": boom}, max_attempts=2)
    await _schedule(pool, "k", T0, kind="boom")
    assert await s.fire_due() == 1
    assert (await _row(pool, "k", "boom"))["attempts"] == 1
    await _schedule(pool, "k", T0 + timedelta(hours=1), kind="boom")
    row = await _row(pool, "k", "boom")
    assert row["attempts"] == 0 and row["last_error"] is None


async def test_kinds_without_a_handler_are_left_alone(database_url, pool):
    clock = ManualClock(T0)
    s = _scheduler(pool, database_url, clock)
    await _schedule(pool, "x", T0, kind="someone.elses")
    await _schedule(pool, "y", T0)
    clock.advance(timedelta(hours=1))
    assert await s.fire_due() == 1
    row = await _row(pool, "x", "someone.elses")
    assert row["fired_at"] is None and row["attempts"] == 0
    await s.update_gauges()
    assert _metric("techex_deadlines_pending", service=s.service) == 1
    assert _metric("techex_deadlines_overdue", service=s.service) == 1


async def test_a_handler_rescheduling_its_own_key(database_url, pool):
    """An auction's end that finds a late bid extends itself by five minutes (twice here)."""
    clock = ManualClock(T0)
    kind = "auction.end"
    record = recorder("local")

    async def end_or_extend(tx: Tx, deadline: Deadline) -> None:
        await record(tx, deadline)
        extensions = deadline.payload.get("extensions", 0)
        if extensions < 2:
            await schedule(tx.conn, kind, deadline.key, deadline.due_at + timedelta(minutes=5),
                           {"extensions": extensions + 1})

    s = _scheduler(pool, database_url, clock, {kind: end_or_extend})
    await _schedule(pool, "auction-7", T0 + timedelta(minutes=10), kind=kind)
    for minutes in (10, 15, 20):
        clock.advance(timedelta(minutes=minutes) - (clock.now() - T0))
        assert await s.fire_due() == 1, f"fires at +{minutes} min"
        assert await s.fire_due() == 0
    clock.advance(timedelta(hours=1))
    assert await s.fire_due() == 0
    effects = await _effects(pool)
    assert [e["due_at"] - T0 for e in effects] == [timedelta(minutes=m) for m in (10, 15, 20)]
    rows = await pool.fetch("SELECT fired_at, payload FROM deadlines ORDER BY id")
    assert len(rows) == 3 and all(r["fired_at"] is not None for r in rows)


async def test_two_schedulers_racing_on_the_same_rows_fire_each_once(new_database):
    url = await new_database()
    pool_a = await create_pool(url, min_size=1, max_size=4)
    pool_b = await create_pool(url, min_size=1, max_size=4)
    try:
        async with pool_a.acquire() as conn:
            await migrate(conn)
            await conn.execute(EFFECTS_TABLE)
            async with conn.transaction():
                for i in range(500):
                    await schedule(conn, KIND, f"k{i}", T0 + timedelta(milliseconds=i))
        clock = ManualClock(T0 + timedelta(seconds=1))
        a = _scheduler(pool_a, url, clock, {KIND: recorder("a")}, batch=50)
        b = _scheduler(pool_b, url, clock, {KIND: recorder("b")}, batch=50)
        claimed = {"a": 0, "b": 0}
        while True:
            na, nb = await asyncio.gather(a.fire_due(), b.fire_due())
            claimed["a"] += na
            claimed["b"] += nb
            if na == nb == 0:
                break
        effects = await _effects(pool_a)
        print(f"\nfire_due race: claimed by a/b = {claimed}")
        assert len(effects) == 500
        assert len({e["key"] for e in effects}) == 500
        assert claimed["a"] > 0 and claimed["b"] > 0, "both schedulers should have taken rows"
        by = {name: sum(e["by"] == name for e in effects) for name in "ab"}
        assert by == claimed
        assert await pool_a.fetchval("SELECT count(*) FROM deadlines WHERE fired_at IS NULL") == 0
    finally:
        await pool_a.close()
        await pool_b.close()


async def test_two_running_schedulers_fire_each_deadline_once(new_database):
    url = await new_database()
    pool_a = await create_pool(url, min_size=1, max_size=4)
    pool_b = await create_pool(url, min_size=1, max_size=4)
    tasks: list[asyncio.Task] = []
    try:
        async with pool_a.acquire() as conn:
            await migrate(conn)
            await conn.execute(EFFECTS_TABLE)
        clock = SystemClock()
        a = _scheduler(pool_a, url, clock, {KIND: recorder("a")}, batch=10, poll_interval=0.2)
        b = _scheduler(pool_b, url, clock, {KIND: recorder("b")}, batch=10, poll_interval=0.2)
        tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        await asyncio.wait_for(asyncio.gather(a.ready.wait(), b.ready.wait()), 10)
        start = clock.now()
        n = 300
        async with pool_a.acquire() as conn, conn.transaction():
            for i in range(n):  # spread over the next 1.5 s, a few already due
                await schedule(conn, KIND, f"k{i}", start + timedelta(milliseconds=5 * i - 50))
        committed = clock.now()

        async def all_fired() -> bool:
            return await pool_a.fetchval(
                "SELECT count(*) FROM deadlines WHERE fired_at IS NULL") == 0

        await wait_for(all_fired, timeout=20, what="all deadlines fired")
        await asyncio.sleep(0.5)  # a second firing, if any, would land now
        effects = await _effects(pool_a)
        by = {name: sum(e["by"] == name for e in effects) for name in "ab"}
        lateness = await pool_a.fetchval(  # of those due after the scheduling committed
            "SELECT extract(epoch FROM max(fired_at - due_at)) FROM deadlines WHERE due_at > $1",
            committed)
        print(f"\nrun() race: fired by a/b = {by}, max lateness of deadlines due after the"
              f" commit {float(lateness) * 1000:.1f} ms")
        assert len(effects) == n
        assert len({e["key"] for e in effects}) == n
    finally:
        await _cancel(*tasks)
        await pool_a.close()
        await pool_b.close()


async def test_lateness_with_the_system_clock_and_a_notify_wake_up(database_url, pool):
    clock = SystemClock()
    s = _scheduler(pool, database_url, clock, poll_interval=30)  # only NOTIFY can wake it early
    task = asyncio.create_task(s.run())
    try:
        await asyncio.wait_for(s.ready.wait(), 10)
        await asyncio.sleep(0.3)  # nothing pending: the scheduler now waits up to 30 s
        due = clock.now() + timedelta(milliseconds=300)
        await _schedule(pool, "soon", due)

        async def fired() -> bool:
            return len(await _effects(pool)) == 1

        await wait_for(fired, timeout=5, what="the deadline 300 ms ahead to fire")
        row = await _row(pool, "soon")
        lateness = (row["fired_at"] - due).total_seconds()
        print(f"\nlateness with SystemClock: {lateness * 1000:.1f} ms")
        assert 0 <= lateness < 2
        assert _metric("techex_deadline_lateness_seconds_count", service=s.service,
                       kind=KIND) == 1
    finally:
        await _cancel(task)


async def _start(url: str, name: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.scheduler_main", url, name,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.decode().strip() == "ready", line
    except BaseException:
        await _kill(proc)
        raise
    return proc


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()  # SIGKILL: no chance to clean up
    await proc.wait()


async def test_a_scheduler_killed_before_the_due_time_and_a_new_one_fires_once(
    database_url, pool
):
    clock = SystemClock()
    first = await _start(database_url, "first")
    try:
        due = clock.now() + timedelta(seconds=1.5)
        await _schedule(pool, "registration-1", due)
        await asyncio.sleep(0.5)  # the first process has planned its wake-up for the due time
    finally:
        await _kill(first)
    assert clock.now() < due, "the kill should land before the due time"
    await asyncio.sleep((due - clock.now()).total_seconds() + 0.5)
    assert await _effects(pool) == []
    assert (await _row(pool, "registration-1"))["fired_at"] is None

    second = await _start(database_url, "second")
    try:
        await wait_for(lambda: _has_effects(pool), timeout=10, what="the second process to fire")
        await asyncio.sleep(0.5)
        assert [(e["key"], e["by"]) for e in await _effects(pool)] == [("registration-1",
                                                                         "second")]
        row = await _row(pool, "registration-1")
        assert row["fired_at"] >= due and row["attempts"] == 1
    finally:
        await _kill(second)


async def test_a_scheduler_killed_inside_a_handler_leaves_no_effect_and_fires_once_later(
    database_url, pool
):
    first = await _start(database_url, "first")
    try:
        await _schedule(pool, "expiry-1", SystemClock().now(), {"hold": 60, "holder": "first"})
        line = await asyncio.wait_for(first.stdout.readline(), 10)
        assert line.decode().strip() == "holding expiry-1"
        assert await _effects(pool) == []  # written, not committed
    finally:
        await _kill(first)
    assert (await _row(pool, "expiry-1"))["fired_at"] is None

    second = await _start(database_url, "second")
    try:
        await wait_for(lambda: _has_effects(pool), timeout=10, what="the second process to fire")
        await asyncio.sleep(0.5)
        assert [(e["key"], e["by"]) for e in await _effects(pool)] == [("expiry-1", "second")]
        row = await _row(pool, "expiry-1")
        assert row["fired_at"] is not None and row["attempts"] == 1  # the crash left no trace
    finally:
        await _kill(second)


async def _has_effects(pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM effects") > 0


async def test_run_keeps_firing_when_due_rows_exceed_a_batch(database_url, pool):
    clock = SystemClock()
    s = _scheduler(pool, database_url, clock, batch=7, poll_interval=5)
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        for i in range(50):
            await schedule(conn, KIND, f"k{i}", now - timedelta(seconds=1))
    started = time.monotonic()
    task = asyncio.create_task(s.run())
    try:
        await wait_for(lambda: _count_is(pool, 50), timeout=4, what="50 effects")
        print(f"\n50 overdue deadlines in batches of 7: {time.monotonic() - started:.3f} s")
    finally:
        await _cancel(task)


async def _count_is(pool, n: int) -> bool:
    return await pool.fetchval("SELECT count(*) FROM effects") == n


async def test_rescheduling_or_cancelling_while_the_deadline_fires(database_url, pool):
    """A bid extending the auction while its end is being fired waits for the firing to commit,
    then adds a fresh deadline (the handler decides from the aggregate whether it applies);
    a cancel in that window finds nothing pending any more."""
    clock = ManualClock(T0)
    inside, release = asyncio.Event(), asyncio.Event()
    record = recorder("local")

    async def slow(tx: Tx, deadline: Deadline) -> None:
        await record(tx, deadline)
        inside.set()
        await release.wait()

    s = _scheduler(pool, database_url, clock, {"slow": slow})
    await _schedule(pool, "a1", T0, kind="slow")
    await _schedule(pool, "a2", T0, kind="slow")
    firing = asyncio.create_task(s.fire_due())
    await asyncio.wait_for(inside.wait(), 5)

    async def cancel_a2() -> bool:
        async with pool.acquire() as conn:
            return await cancel(conn, "slow", "a2")

    extend = asyncio.create_task(_schedule(pool, "a1", T0 + timedelta(minutes=5), kind="slow"))
    cancelling = asyncio.create_task(cancel_a2())
    await asyncio.sleep(0.3)
    assert not extend.done() and not cancelling.done()  # both wait on the claimed rows' locks
    release.set()
    assert await asyncio.wait_for(firing, 5) == 2
    await asyncio.wait_for(extend, 5)
    assert await asyncio.wait_for(cancelling, 5) is False  # a2 had fired meanwhile
    async with pool.acquire() as conn:
        moved = await pending(conn, "slow", "a1")
    assert moved is not None and moved.due_at == T0 + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    assert await s.fire_due() == 1
    assert [e["key"] for e in await _effects(pool)] == ["a1", "a2", "a1"]



async def test_a_handler_swallowing_a_database_error_does_not_pass_for_fired(database_url, pool):
    """An aborted transaction's COMMIT rolls back silently; that must not count as fired."""
    clock = ManualClock(T0)
    calls = 0

    async def swallow(tx: Tx, deadline: Deadline) -> None:
        nonlocal calls
        calls += 1
        try:
            await tx.conn.execute("SELECT 1 / 0")
        except asyncpg.DivisionByZeroError:
            pass  # the transaction is aborted all the same

    s = _scheduler(pool, database_url, clock, {"swallow": swallow, KIND: recorder("local")},
                   max_attempts=2, retry_backoff=1.0)
    await _schedule(pool, "ok-1", T0)
    await _schedule(pool, "bad", T0, kind="swallow")  # last in the batch
    assert await s.fire_due() == 2
    assert [e["key"] for e in await _effects(pool)] == ["ok-1"]
    bad = await _row(pool, "bad", "swallow")
    assert bad["fired_at"] is None and bad["attempts"] == 1
    assert "InFailedSQLTransaction" in bad["last_error"]
    clock.advance(timedelta(seconds=1))
    assert await s.fire_due() == 1
    dead = await _row(pool, "bad", "swallow")
    assert dead["fired_at"] is not None and dead["attempts"] == 2
    assert calls == 4  # fast pass and careful pass, twice
    assert _metric("techex_deadlines_fired_total", service=s.service, kind="swallow",
                   outcome="ok") == 0
