"""The registry service in the test process over the real database and Kafka."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from services.registry.api import create_app
from services.registry.config import RegistrySettings
from shared.auth import Role
from shared.clock import ManualClock
from tests.support.services import bearer, running

NOW = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def registry(database_url, common, clock):
    """The service with its relay and consumer held back, so tests read the outbox."""
    app = create_app(RegistrySettings(database_url=database_url), common, run_background=False,
                     clock=clock)
    async with running(app) as client:
        client.db = database_url
        client.runtime = app.state.runtime
        client.seller = bearer(common, Role.SELLER, "230100", "hit-university")
        client.registrar = bearer(common, Role.REGISTRAR, "230100", "harbin-registrar")
        client.regulator = bearer(common, Role.REGULATOR, "230000", "hlj-kjt")
        yield client


async def outbox_types(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]
    finally:
        await conn.close()


async def fetchval(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
