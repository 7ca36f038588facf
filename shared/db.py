"""PostgreSQL plumbing: connection pools and the plain-SQL migrations runner."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 7_301_000_001  # pg_advisory_xact_lock key: one migrator at a time per database


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one round trip per release on the hot path).

    Pooled connections carry no session state in techex: LISTEN, session advisory locks and
    SET are only used on dedicated connections. asyncpg still rolls back an open transaction.
    """


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, command_timeout=60, reset=_keep_session,
        server_settings={"application_name": "techex", "timezone": "UTC"},
    )


def migration_files(*directories: Path) -> list[tuple[str, Path]]:
    """(name, path) for each ``NNNN_*.sql`` in order: shared plumbing first, then the service's."""
    out: list[tuple[str, Path]] = []
    for directory in directories:
        for path in sorted(directory.glob("[0-9]*.sql")):
            out.append((f"{directory.parent.name}/{path.name}", path))
    return out


async def migrate(conn: asyncpg.Connection, *service_dirs: Path) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the names applied.

    An applied file whose text changed since is an error: migrations are append-only.
    """
    files = migration_files(SHARED_MIGRATIONS, *service_dirs)
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["name"]: r["checksum"] for r in await conn.fetch(
            "SELECT name, checksum FROM schema_migrations")}
        for name, path in files:
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != checksum:
                    raise RuntimeError(f"migration {name} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", name, checksum
                )
            applied_now.append(name)
            log.info("applied migration %s", name)
    return applied_now
