"""Throw-away PostgreSQL databases on the test stack's cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from techex.stack.stack import Stack, create_database


@asynccontextmanager
async def throwaway_databases(stack: Stack) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """A factory of fresh databases (their URLs), all dropped when the block ends."""
    names: list[str] = []
    base = stack.admin_database_url().rsplit("/", 1)[0]

    async def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(stack.admin_database_url())
        try:
            await create_database(admin, name)
        finally:
            await admin.close()
        names.append(name)
        return f"{base}/{name}"

    try:
        yield make
    finally:
        admin = await asyncpg.connect(stack.admin_database_url())
        try:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
