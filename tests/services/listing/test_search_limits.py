"""Per-account search limits on the real listing service: search and matching share one
bucket per account, answered 429 with Retry-After once it is empty."""

from __future__ import annotations

import uuid

from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.auth import Role
from tests.support.services import bearer, running

BURST = 4


async def test_an_account_over_its_search_limit_gets_429_and_others_do_not(database_url,
                                                                           common):
    limited = common.model_copy(update={"search_rate": 0.01, "search_burst": BURST})
    app = create_app(ListingSettings(database_url=database_url), limited, run_background=False)
    greedy = bearer(common, Role.BUYER, "230100", "greedy")
    other = bearer(common, Role.SELLER, "230102", "other")
    async with running(app) as client:
        for path in ("/search/achievements", "/search/demands",
                     f"/demands/{uuid.uuid4()}/matches"):
            r = await client.get(path, params={"q": "石墨烯"} if "search" in path else None,
                                 headers=greedy)
            assert r.status_code in (200, 404), r.text
        assert (await client.get("/search/achievements", headers=greedy)).status_code == 200
        refused = await client.get(f"/achievements/{uuid.uuid4()}/matches", headers=greedy)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["limit"] == "search"
        assert (await client.get("/search/demands", headers=greedy)).status_code == 429
        assert (await client.get("/search/demands", headers=other)).status_code == 200
        # Filing is not a search: the same account is not held back there.
        mine = await client.get("/my/achievements", headers=bearer(common, Role.SELLER,
                                                                     "230102", "greedy"))
        assert mine.status_code == 200

        paths = (await client.get("/openapi.json")).json()["paths"]
        for path in ("/search/achievements", "/search/demands", "/demands/{demand_id}/matches",
                     "/achievements/{achievement_id}/matches"):
            assert "Retry-After" in paths[path]["get"]["responses"]["429"]["headers"], path
        assert "'search'" not in paths["/achievements"]["post"]["responses"]["429"]["description"]
