"""The regional statistics: rollups kept by the registering transaction, read over HTTP."""

from __future__ import annotations

import csv
import io

import asyncpg

from services.registry.store import rollups
from shared.auth import Role
from tests.services.registry.builders import party, terms
from tests.services.registry.builders import registered as _registered
from tests.support.services import bearer


def _with_seller(data: dict, region: str) -> dict:
    data["parties"][0] = party("seller", region)
    return data


async def _stats(client, headers=None, **params) -> dict:
    r = await client.get("/statistics", params=params, headers=headers or client.regulator)
    assert r.status_code == 200, r.text
    return r.json()


def _rows(s: dict) -> dict[str, tuple[int, int]]:
    return {r["key"]: (r["contracts"], r["tech_amount_fen"]) for r in s["rows"]}


async def test_counties_roll_up_to_cities_and_the_province(registry):
    # The Daqing seller files with a Daqing seller account.
    daqing = bearer(registry.runtime.common, Role.SELLER, "230600", "daqing-institute")
    harbin_seller = registry.seller
    registry.seller = daqing
    registry.registrar = bearer(registry.runtime.common, Role.REGISTRAR, "230600", "dq-reg")
    await _registered(registry, terms(seller="230602", buyer="230103", total=400, tech=400))
    registry.seller = harbin_seller
    registry.registrar = bearer(registry.runtime.common, Role.REGISTRAR, "230100", "hrb-reg")
    await _registered(registry, terms(seller="230102", buyer="230602", total=100, tech=100))
    await _registered(registry, terms(seller="230103", buyer="230602", total=300, tech=200,
                                      category="development", subtype="cooperative"))

    province = await _stats(registry, region="230000", year=2026)
    assert (province["contracts"], province["tech_amount_fen"]) == (3, 700)
    assert _rows(province) == {"230600": (1, 400), "230100": (2, 300)}
    assert province["rows"][1]["name"] == "哈尔滨市"
    harbin = await _stats(registry, region="230100", year=2026, month=4)
    assert _rows(harbin) == {"230103": (1, 200), "230102": (1, 100)}
    assert _rows(await _stats(registry, region="230000", year=2026, by="category")) == {
        "transfer": (2, 500), "development": (1, 200)}
    assert _rows(await _stats(registry, region="230000", year=2026, by="month")) == {
        "4": (3, 700)}
    assert (await _stats(registry, region="230100", year=2026, month=5))["contracts"] == 0

    # Inflow / outflow: Harbin sold 300 to Daqing and bought 400 from it.
    assert _rows(await _stats(registry, region="230100", year=2026, by="flow")) == {
        "outflow": (2, 300), "inflow": (1, 400)}
    assert _rows(await _stats(registry, region="230600", year=2026, by="flow")) == {
        "outflow": (1, 400), "inflow": (2, 300)}
    assert _rows(await _stats(registry, region="230103", year=2026, by="flow")) == {
        "inflow": (1, 400), "outflow": (1, 200)}
    assert _rows(await _stats(registry, region="230000", year=2026, by="flow")) == {
        "internal": (3, 700)}


async def test_cross_border_entity_ip_and_cancellation_subtracts(registry):
    await _registered(registry, terms(seller="230102", buyer="230103", total=100, tech=100))
    abroad = await _registered(registry, terms("licence", seller="230102", buyer=None,
                                               buyer_country="DE", total=50, tech=50))
    assert _rows(await _stats(registry, region="230000", year=2026, by="cross_border")) == {
        "domestic": (1, 100), "cross_border": (1, 50)}
    assert _rows(await _stats(registry, region="230102", year=2026, by="flow")) == {
        "outflow": (2, 150)}
    assert _rows(await _stats(registry, region="230000", year=2026, by="entity_type")) == {
        "university": (2, 150)}
    assert _rows(await _stats(registry, region="230000", year=2026, by="ip_type")) == {
        "patent_invention": (2, 150)}
    await registry.post(f"/contracts/{abroad}/cancellation", headers=registry.seller,
                        json={"reason": "解除"})
    await registry.post(f"/contracts/{abroad}/registration", headers=registry.registrar)
    after = await _stats(registry, region="230000", year=2026, by="cross_border")
    assert (after["contracts"], after["tech_amount_fen"]) == (1, 100)
    assert _rows(after) == {"domestic": (1, 100)}


async def test_growth_against_the_target_and_the_csv_export(registry, clock):
    from datetime import timedelta

    await _registered(registry, terms(total=1000, tech=1000))
    clock.advance(timedelta(days=365))
    await _registered(registry, terms(total=1050, tech=1050))
    s = await _stats(registry, region="230000", year=2027)
    assert s["previous_year_tech_amount_fen"] == 1000
    assert s["growth_percent"] == 5.0 and s["target_met"] is False
    assert s["growth_target_percent"] == "8"
    r = await registry.get("/statistics.csv", params={"region": "230000", "year": 2027},
                           headers=registry.regulator)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0][:5] == ["region", "year", "month", "by", "key"]
    assert lines[1] == ["230000", "2027", "", "region", "230100", "哈尔滨市", "1", "1050"]
    assert lines[-1][3:] == ["total", "", "黑龙江省", "1", "1050"]


async def test_principals_see_their_own_subtree_only(registry):
    common = registry.runtime.common
    harbin = bearer(common, Role.OPERATOR, "230100", "harbin-exchange")
    assert (await registry.get("/statistics", params={"region": "230102", "year": 2026},
                               headers=harbin)).status_code == 200
    province = await registry.get("/statistics", params={"region": "230000", "year": 2026},
                                  headers=harbin)
    assert province.status_code == 403
    seller = await registry.get("/statistics", params={"region": "230100", "year": 2026},
                                headers=registry.seller)
    assert seller.status_code == 403
    unknown = await registry.get("/statistics", params={"region": "230199", "year": 2026},
                                 headers=registry.regulator)
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    bad_by = await registry.get("/statistics", params={"region": "230000", "year": 2026,
                                                       "by": "colour"},
                                headers=registry.regulator)
    assert bad_by.status_code == 422


async def test_the_bulk_rebuild_agrees_with_the_incremental_rollups(registry):
    await _registered(registry, terms(seller="230102", buyer="230602", total=100, tech=100))
    await _registered(registry, terms(seller="230103", buyer="230103", total=300, tech=200))
    await _registered(registry, terms("licence", seller="230102", buyer=None,
                                      buyer_country="DE", total=50, tech=50))
    tianjin = await _registered(registry, terms(seller="230102", buyer="120101", total=70,
                                                tech=70))
    amended = await registry.post(f"/contracts/{tianjin}/amendments", headers=registry.seller,
                                  json={"tech_amount_fen": 60})
    assert amended.status_code == 202
    await registry.post(f"/contracts/{tianjin}/registration", headers=registry.registrar)
    conn = await asyncpg.connect(registry.db)
    try:
        query = ("SELECT region, year, month, dimension, key, parent, contracts, amount_fen"
                 " FROM contract_stats WHERE contracts <> 0 OR amount_fen <> 0"
                 " ORDER BY 1, 2, 3, 4, 5")
        incremental = [tuple(r) for r in await conn.fetch(query)]
        await rollups.rebuild(conn)
        rebuilt = [tuple(r) for r in await conn.fetch(query)]
    finally:
        await conn.close()
    assert len(incremental) > 50
    assert rebuilt == incremental
    assert ("120000", 2026, 0, "flow", "inflow", None, 1, 60) in rebuilt
