"""The settlement service over HTTP with the real database and Kafka and a hand-moved clock."""

from __future__ import annotations

import pytest

from services.settlement.api import create_app
from services.settlement.config import SettlementSettings
from shared.clock import ManualClock
from tests.services.settlement.support import NOW
from tests.support.services import running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settlement_settings(database_url) -> SettlementSettings:
    return SettlementSettings(database_url=database_url)


@pytest.fixture
async def settlement(settlement_settings, common, clock):
    """The app with its lifespan (migrations, producer) but no background loops: tests drive
    the consumer handlers and the deadlines themselves."""
    app = create_app(settlement_settings, common, run_background=False, clock=clock)
    async with running(app) as client:
        client.runtime = app.state.runtime
        client.db = settlement_settings.database_url
        yield client

