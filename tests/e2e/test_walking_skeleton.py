"""The pipes end to end: an achievement filed at the listing service reaches the other three."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack

import httpx
import pytest

from services.auction.api import create_app as auction_app
from services.auction.config import AuctionSettings
from services.listing.api import create_app as listing_app
from services.listing.config import ListingSettings
from services.registry.api import create_app as registry_app
from services.registry.config import RegistrySettings
from services.settlement.api import create_app as settlement_app
from services.settlement.config import SettlementSettings
from shared.auth import Role
from techex.cli import start_services, stop_services
from techex.stack.stack import SERVICES
from tests.support.auction_processes import free_port
from tests.support.listing import achievement
from tests.support.services import bearer, running

DRAFT = achievement(title="高精度增材制造钛合金构件成形工艺", field="advanced_manufacturing")


async def _eventually_known(client: httpx.AsyncClient, path: str, headers: dict) -> dict:
    for _ in range(200):
        r = await client.get(path, headers=headers)
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 404, r.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never became known")


async def test_an_achievement_reaches_auction_settlement_and_registry_once(new_database, common):
    apps = {
        "listing": listing_app(ListingSettings(database_url=await new_database()), common),
        "auction": auction_app(AuctionSettings(database_url=await new_database()), common),
        "settlement": settlement_app(
            SettlementSettings(database_url=await new_database()), common),
        "registry": registry_app(RegistrySettings(database_url=await new_database()), common),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(app))
                   for name, app in apps.items()}
        seller = bearer(common, Role.SELLER, "230100")
        created = await clients["listing"].post("/achievements", json=DRAFT, headers=seller)
        assert created.status_code == 201, created.text
        listing_id = created.json()["id"]
        reader = bearer(common, Role.OPERATOR, "230000")
        for name in ("auction", "settlement", "registry"):
            known = await _eventually_known(clients[name], f"/listings/{listing_id}", reader)
            assert known["title"] == DRAFT["title"]
            assert known["region"] == "230102"
            assert known["events_applied"] == 1


@pytest.mark.timeout(240)
async def test_the_four_service_processes_of_techex_up_pass_an_event_through(stack, tmp_path):
    """The same start-up code as `techex up`: four processes over the test stack."""
    ports = {f"{s.upper()}_PORT": str(free_port()) for s in SERVICES}
    procs = await asyncio.to_thread(start_services, stack, tmp_path, ports)
    try:
        from shared.settings import CommonSettings

        common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap)
        seller = bearer(common, Role.SELLER, "230100")
        async with httpx.AsyncClient(timeout=10) as client:
            created = await client.post(f"http://127.0.0.1:{ports['LISTING_PORT']}/achievements",
                                        json=DRAFT, headers=seller)
            assert created.status_code == 201, created.text
            listing_id = created.json()["id"]
            for name in ("auction", "settlement", "registry"):
                base = f"http://127.0.0.1:{ports[name.upper() + '_PORT']}"
                known = await _eventually_known(
                    _Base(client, base), f"/listings/{listing_id}", seller)
                assert known["events_applied"] == 1
            metrics = (await client.get(
                f"http://127.0.0.1:{ports['LISTING_PORT']}/metrics")).text
            assert 'techex_events_published_total{service="listing"' in metrics
    finally:
        await asyncio.to_thread(stop_services, procs)
    for name, proc in procs.items():
        # uvicorn re-raises the SIGTERM it caught once its graceful shutdown is done
        assert proc.returncode in (0, -signal.SIGTERM), f"{name} exited {proc.returncode}"
    assert (tmp_path / "listing.log").stat().st_size > 0


class _Base:
    """A client bound to a base URL (the services listen on different ports)."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client, self.base = client, base

    async def get(self, path: str, **kw) -> httpx.Response:
        return await self.client.get(self.base + path, **kw)
