"""GET /listings/{id} in the services that learn listings from events: found, or a 404 that
names the service the listing has not reached."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from services.registry.api import create_app
from services.registry.config import RegistrySettings
from shared.auth import Role
from tests.support.services import bearer, running


async def test_a_known_listing_and_an_unknown_one(database_url, common):
    app = create_app(RegistrySettings(database_url=database_url), common)
    async with running(app) as client:
        reader = bearer(common, Role.OPERATOR, "230000")
        listing_id = uuid.uuid4()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO listings (listing_id, title, region, seller_id, created_at)"
                " VALUES ($1, '寒地水稻耐冷育种技术', '230109', 'neau', $2)",
                listing_id, datetime.now(UTC))
        finally:
            await conn.close()
        known = await client.get(f"/listings/{listing_id}", headers=reader)
        assert known.status_code == 200
        assert (known.json()["seller_id"], known.json()["events_applied"]) == ("neau", 1)

        unknown = await client.get(f"/listings/{uuid.uuid4()}", headers=reader)
        assert unknown.status_code == 404
        assert "reached the registry service" in unknown.json()["detail"]
        assert (await client.get(f"/listings/{listing_id}")).status_code == 401
