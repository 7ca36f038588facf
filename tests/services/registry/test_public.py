"""The published statistics: read by anyone without a token, only for periods that have ended."""

from __future__ import annotations

import inspect
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import BaseModel

from services.registry import schemas
from services.registry.api import create_app
from services.registry.config import RegistrySettings
from tests.services.registry.builders import registered, terms

PROVINCE_APRIL = {"region": "230000", "year": 2026, "month": 4}
APRIL_ENDS = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)  # 1 May 00:00 in Asia/Shanghai
NOT_PUBLISHED = "urn:techex:problem:registry-statistics-not-published"


async def _public(client, **params) -> httpx.Response:
    return await client.get("/public/statistics", params=params)  # never a token


async def _register_april(client) -> list[str]:
    return [
        await registered(client, terms(seller="230102", buyer="230602", total=100, tech=100)),
        await registered(client, terms("development", seller="230103", buyer="230103",
                                       total=300, tech=200)),
        await registered(client, terms("licence", seller="230102", buyer=None,
                                       buyer_country="DE", total=50, tech=50)),
    ]


def _rows(rows: list[dict]) -> dict[str, tuple[int, int]]:
    return {r["key"]: (r["contracts"], r["tech_amount_fen"]) for r in rows}


async def test_a_month_is_published_once_it_has_ended_on_the_service_clock(registry, clock):
    ids = await _register_april(registry)

    running = await _public(registry, **PROVINCE_APRIL)
    assert running.status_code == 404
    assert running.headers["content-type"] == "application/problem+json"
    assert running.json()["type"] == NOT_PUBLISHED
    assert running.json()["published_at"] == "2026-04-30T16:00:00Z"
    assert (await _public(registry, region="230000", year=2026)).status_code == 404  # the year
    assert (await _public(registry, region="230000", year=2026, month=9)).status_code == 404

    clock.advance(APRIL_ENDS - timedelta(seconds=1) - clock.now())
    assert (await _public(registry, **PROVINCE_APRIL)).status_code == 404
    clock.advance(timedelta(seconds=1))
    published = await _public(registry, **PROVINCE_APRIL)
    assert published.status_code == 200, published.text
    s = published.json()
    assert (s["region"], s["name"], s["year"], s["month"]) == ("230000", "黑龙江省", 2026, 4)
    assert s["published_at"] == "2026-04-30T16:00:00Z"
    assert (s["contracts"], s["tech_amount_fen"]) == (3, 350)
    assert (s["previous_year_tech_amount_fen"], s["growth_percent"]) == (0, None)
    assert _rows(s["by_region"]) == {"230100": (3, 350)}
    assert s["by_region"][0]["name"] == "哈尔滨市"
    assert _rows(s["by_category"]) == {"development": (1, 200), "transfer": (1, 100),
                                       "licence": (1, 50)}
    assert _rows(s["by_flow"]) == {"internal": (2, 300), "outflow": (1, 50)}

    # The same figures the regulators' /statistics gives, month by month and breakdown by
    # breakdown; nothing of any one contract.
    for by, key in (("region", "by_region"), ("category", "by_category"), ("flow", "by_flow")):
        private = await registry.get("/statistics", params={**PROVINCE_APRIL, "by": by},
                                     headers=registry.regulator)
        assert private.status_code == 200
        assert (private.json()["contracts"], private.json()["tech_amount_fen"]) == (3, 350)
        assert [(r["key"], r["contracts"], r["tech_amount_fen"]) for r in private.json()["rows"]
                ] == [(r["key"], r["contracts"], r["tech_amount_fen"]) for r in s[key]]
    for private in (*ids, "seller-230102", "buyer-230602", "石墨烯", "ZL2015"):
        assert private not in published.text

    # The city's flow: Harbin sold to Daqing and abroad, and to itself inside the county.
    harbin = (await _public(registry, region="230100", year=2026, month=4)).json()
    assert _rows(harbin["by_flow"]) == {"internal": (1, 200), "outflow": (2, 150)}
    assert _rows(harbin["by_region"]) == {"230103": (1, 200), "230102": (2, 150)}
    daqing = (await _public(registry, region="230600", year=2026, month=4)).json()
    assert daqing["contracts"] == 0 and _rows(daqing["by_flow"]) == {"inflow": (1, 100)}

    # May is the current month now: not published; an ended month without contracts is zeros.
    assert (await _public(registry, region="230000", year=2026, month=5)).status_code == 404
    march = (await _public(registry, region="230000", year=2026, month=3)).json()
    assert (march["contracts"], march["by_region"], march["by_flow"]) == (0, [], [])


async def test_a_year_is_published_once_it_has_ended_with_its_growth(registry, clock):
    await registered(registry, terms(total=1000, tech=1000))
    clock.advance(timedelta(days=365))  # 2027-04-10
    await registered(registry, terms(total=1050, tech=1050))
    year_2026 = await _public(registry, region="230000", year=2026)
    assert year_2026.status_code == 200 and year_2026.json()["month"] is None
    assert year_2026.json()["tech_amount_fen"] == 1000
    assert (await _public(registry, region="230000", year=2027)).status_code == 404
    clock.advance(datetime(2027, 12, 31, 16, 0, tzinfo=UTC) - clock.now())
    s = (await _public(registry, region="230000", year=2027)).json()
    assert (s["tech_amount_fen"], s["previous_year_tech_amount_fen"]) == (1050, 1000)
    assert s["growth_percent"] == 5.0
    april = (await _public(registry, region="230000", year=2027, month=4)).json()
    assert (april["tech_amount_fen"], april["growth_percent"]) == (1050, 5.0)


async def test_no_token_is_needed_and_none_is_looked_at(registry, clock):
    clock.advance(timedelta(days=30))
    anonymous = await _public(registry, **PROVINCE_APRIL)
    assert anonymous.status_code == 200
    for headers in (registry.seller, {"Authorization": "Bearer not.a.token"}):
        r = await registry.get("/public/statistics", params=PROVINCE_APRIL, headers=headers)
        assert r.status_code == 200 and r.json() == anonymous.json()
    assert (await registry.get("/statistics", params=PROVINCE_APRIL)).status_code == 401


@pytest.mark.parametrize("params", [
    {"region": "230199", "year": 2026, "month": 4},            # no such region
    {"region": "000000", "year": 1990, "month": 1},            # six digits, no province
    {"region": "23000", "year": 2026},
    {"region": "2300000", "year": 2026},
    {"region": "230000' OR '1'='1", "year": 2026},
    {"region": "23000\x00", "year": 2026},
    {"region": "２３００００", "year": 2026},                  # full-width digits
    {"region": "230000" * 1000, "year": 2026},
    {"region": "230000", "year": 1989},
    {"region": "230000", "year": 2200},
    {"region": "230000", "year": "2026.5"},
    {"region": "230000", "year": 10 ** 30},
    {"region": "230000", "year": 2026, "month": 0},
    {"region": "230000", "year": 2026, "month": 13},
    {"region": "230000", "year": 2026, "month": "-1"},
    {"region": "230000"},
    {"year": 2026},
])
async def test_hostile_input_is_a_validation_problem(registry, params):
    r = await _public(registry, **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


@asynccontextmanager
async def _limited(database_url, common, clock):
    """The service with a public limit of 2 at once, each address its own client."""
    app = create_app(RegistrySettings(database_url=database_url),
                     common.model_copy(update={"public_rate": 0.01, "public_burst": 2}),
                     run_background=False, clock=clock)

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://service")

    async with app.router.lifespan_context(app):
        yield client


async def test_each_address_is_rate_limited_with_a_problem(database_url, common, clock):
    clock.advance(timedelta(days=30))
    async with _limited(database_url, common, clock) as client, \
            client("10.0.0.1") as one, client("10.0.0.2") as two:
        assert [(await _public(one, **PROVINCE_APRIL)).status_code for _ in range(2)] == [
            200, 200]
        refused = await _public(one, **PROVINCE_APRIL)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["type"] == "urn:techex:problem:rate-limited"
        assert refused.json()["limit"] == "public"
        assert (await _public(one, region="bad", year=1)).status_code == 429  # before parsing
        assert (await _public(two, **PROVINCE_APRIL)).status_code == 200


def test_the_operation_is_public_and_its_views_are_allow_listed(common):
    app = create_app(RegistrySettings(), common, run_background=False)
    operation = app.openapi()["paths"]["/public/statistics"]["get"]
    assert operation["tags"] == ["public"]
    assert "security" not in operation
    assert {"200", "404", "422", "429"} <= operation["responses"].keys()
    assert "not published" in operation["responses"]["404"]["description"]
    assert "401" not in operation["responses"] and "403" not in operation["responses"]
    public = {cls for name, cls in inspect.getmembers(schemas, inspect.isclass)
              if name.startswith("Public") and issubclass(cls, BaseModel)}
    assert set(schemas.PUBLIC_MODELS) == public
    assert set(schemas.PublicStatistics.model_fields) == {
        "region", "name", "year", "month", "published_at", "contracts", "tech_amount_fen",
        "previous_year_tech_amount_fen", "growth_percent", "by_region", "by_category",
        "by_flow", "target", "subplatforms", "cross_province"}
    assert set(schemas.PublicStatisticsRow.model_fields) == {
        "key", "name", "contracts", "tech_amount_fen"}
