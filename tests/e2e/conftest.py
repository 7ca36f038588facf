"""The `exchange` fixture: the four services as processes, as `techex up` runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from techex.stack.stack import SERVICES
from tests.support.exchange import Exchange


@pytest.fixture
async def exchange(stack, new_database, tmp_path) -> AsyncIterator[Exchange]:
    databases = {s: await new_database() for s in SERVICES}
    ex = Exchange(stack, tmp_path, databases)
    await ex.start()
    try:
        yield ex
    finally:
        await ex.stop()  # before the databases are dropped
