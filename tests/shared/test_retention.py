"""Idempotency keys and inbox rows are swept once their retention is over, and only then."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared import retention
from shared.settings import CommonSettings
from tests.support.pipeline import prepare, wait_for

DAYS = timedelta(days=30)


@pytest.fixture
async def pool(database_url):
    pool = await prepare(database_url)
    yield pool
    await pool.close()


async def _rows(pool, *, keys: int, inbox: int, age: timedelta) -> None:
    """Rows as old as ``age``."""
    tag = f"{age.total_seconds():.0f}"
    await pool.execute(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at)"
        " SELECT 'buyer', $1 || '-' || n, 'h', 201, now() - $2::interval"
        " FROM generate_series(1, $3) n", tag, age, keys)
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, event_type, received_at)"
        " SELECT 'auction', $1 || '-' || n, 't', now() - $2::interval"
        " FROM generate_series(1, $3) n", tag, age, inbox)


async def _left(pool) -> tuple[int, int]:
    return (await pool.fetchval("SELECT count(*) FROM idempotency_keys"),
            await pool.fetchval("SELECT count(*) FROM inbox"))


async def test_only_rows_past_their_retention_are_swept(pool):
    await _rows(pool, keys=12, inbox=7, age=DAYS + timedelta(hours=1))
    await _rows(pool, keys=3, inbox=4, age=DAYS - timedelta(hours=1))
    await _rows(pool, keys=2, inbox=2, age=timedelta(0))
    gone = await retention.sweep(pool, idempotency_keys=DAYS, inbox=DAYS)
    assert gone == {"idempotency_keys": 12, "inbox": 7}
    assert await _left(pool) == (5, 6)
    assert await retention.sweep(pool, idempotency_keys=DAYS, inbox=DAYS) == {
        "idempotency_keys": 0, "inbox": 0}


async def test_a_large_backlog_goes_in_small_transactions(pool):
    await _rows(pool, keys=23, inbox=0, age=DAYS * 2)
    assert await retention.sweep_table(pool, "idempotency_keys", DAYS, batch=5) == 23
    assert await _left(pool) == (0, 0)
    with pytest.raises(KeyError):
        await retention.sweep_table(pool, "outbox", DAYS)  # never a table of record


async def test_the_periodic_sweep_runs_until_cancelled(pool):
    task = asyncio.create_task(retention.keep_sweeping(
        pool, idempotency_keys=DAYS, inbox=timedelta(days=8), every=timedelta(seconds=0.05)))
    try:
        await _rows(pool, keys=1, inbox=1, age=timedelta(days=9))
        await wait_for(lambda: _is(_left(pool), (1, 0)), what="the old inbox row to go")
        await _rows(pool, keys=1, inbox=0, age=DAYS * 3)
        await wait_for(lambda: _is(_left(pool), (1, 0)), what="the old key to go")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()


async def _is(value, expected) -> bool:
    return await value == expected


def test_the_default_retention_outlasts_kafkas_seven_days():
    settings = CommonSettings()
    assert settings.inbox_retention_days > 7 and settings.idempotency_retention_days > 7
