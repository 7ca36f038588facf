"""PostgreSQL plumbing: connection pools and the plain-SQL migrations runner."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 7_301_000_001  # pg_advisory_xact_lock key: one migrator at a time per database
SERVER_SETTINGS = {"application_name": "techex", "timezone": "UTC"}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one round trip per release on the hot path).

    Pooled connections carry no session state in techex: LISTEN, session advisory locks and
    SET are only used on dedicated connections. asyncpg still rolls back an open transaction.
    """


class BoundedPool(asyncpg.Pool):
    """A pool whose ``acquire`` waits at most ``acquire_timeout`` unless told otherwise, so a
    request never queues without bound for a connection of an exhausted or unreachable pool
    (``Pool.execute`` and the other shortcuts acquire through it too)."""

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: object, acquire_timeout: float, **kwargs: object) -> None:
        self._acquire_timeout = acquire_timeout
        super().__init__(*args, **kwargs)

    def acquire(self, *, timeout: float | None = None):  # type: ignore[override]
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def create_pool(
    url: str, *, min_size: int = 2, max_size: int = 20, acquire_timeout: float = 5.0,
    command_timeout: float = 30.0, connect_timeout: float = 5.0,
) -> asyncpg.Pool:
    """A connection pool with every wait bounded: for a connection from the pool
    (``acquire_timeout``), for a new one from the server (``connect_timeout``) and for a
    statement's answer (``command_timeout``); each raises ``TimeoutError``."""
    pool = BoundedPool(
        url, acquire_timeout=acquire_timeout, min_size=min_size, max_size=max_size,
        max_queries=50_000, max_inactive_connection_lifetime=300.0, connect=None, setup=None,
        init=None, reset=_keep_session, loop=None, connection_class=asyncpg.Connection,
        record_class=asyncpg.Record, command_timeout=command_timeout, timeout=connect_timeout,
        server_settings=SERVER_SETTINGS,
    )
    await pool
    return pool


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # 08: refused by the server, lost in mid-statement
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutting down, starting up, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: out of connections, memory, disk
    OSError,  # the socket: connection refused, reset, unreachable host
    # the client's protocol state after the server ended an idle connection ("cannot switch
    # to state 12; another operation (2) is in progress")
    asyncpg.exceptions.InternalClientError,
    TimeoutError,  # no connection or answer within the pool's bounds
)
"""What the database being unreachable or overwhelmed raises, as opposed to a statement it
refused: worth retrying later, never a reason to give up on the work."""


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it was raised from) says the database cannot be reached now.

    asyncpg also reports a connection that dropped with ``InterfaceError`` ("the underlying
    connection is closed") when a transaction block is left on it; that counts too.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, CONNECTION_ERRORS):
            return True
        if isinstance(exc, asyncpg.InterfaceError) and (
                "connection is closed" in str(exc) or "pool is clos" in str(exc)):
            return True
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return False


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
