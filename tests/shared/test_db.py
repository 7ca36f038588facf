"""The migrations runner against a real database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.db import create_pool, migrate


def _service_dir(tmp_path, name: str = "svc"):
    d = tmp_path / name / "migrations"
    d.mkdir(parents=True)
    (d / "0001_first.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (d / "0002_second.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    return d


async def test_migrations_apply_in_order_once(database_url, tmp_path):
    migrations = _service_dir(tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        applied = await migrate(conn, migrations)
        assert applied == ["shared/0001_outbox_inbox.sql", "shared/0002_deadlines.sql",
                           "shared/0003_outbox_event_time.sql", "svc/0001_first.sql",
                           "svc/0002_second.sql"]
        assert await migrate(conn, migrations) == []
        await conn.execute("INSERT INTO things (id, name) VALUES (1, 'x')")
        (migrations / "0003_third.sql").write_text("CREATE INDEX things_name ON things (name);")
        assert await migrate(conn, migrations) == ["svc/0003_third.sql"]
    finally:
        await conn.close()


async def test_an_applied_migration_that_changed_is_refused(database_url, tmp_path):
    migrations = _service_dir(tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, migrations)
        (migrations / "0001_first.sql").write_text("CREATE TABLE things (id bigint);")
        with pytest.raises(RuntimeError, match="changed after it was applied"):
            await migrate(conn, migrations)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(database_url, tmp_path):
    migrations = _service_dir(tmp_path)
    (migrations / "0003_broken.sql").write_text("CREATE TABLE half (id int); SELECT nonsense;")
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(conn, migrations)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_concurrent_runners_apply_each_migration_once(database_url, tmp_path):
    migrations = _service_dir(tmp_path)
    pool = await create_pool(database_url, min_size=4, max_size=4)
    try:
        async def run() -> list[str]:
            async with pool.acquire() as conn:
                return await migrate(conn, migrations)

        results = await asyncio.gather(*(run() for _ in range(4)))
        assert sorted(len(r) for r in results) == [0, 0, 0, 5]
    finally:
        await pool.close()
