"""The deployment's sub-platforms, public, and each region's progress against its own target."""

from __future__ import annotations

from shared.auth import Role
from tests.services.registry.builders import registered, terms
from tests.support.services import bearer


async def test_the_sub_platforms_are_listed_for_anyone(registry):
    r = await registry.get("/public/subplatforms")  # no token
    assert r.status_code == 200, r.text
    subs = r.json()
    assert [s["region"] for s in subs][:3] == ["230000", "230100", "230109"]
    province = subs[0]
    assert (province["name"], province["operator"]) == ("黑龙江省技术交易市场",
                                                       "黑龙江省科技成果转化中心")
    assert province["fees"]["auction"]["tiers"][0] == {"up_to_fen": 100_000_000,
                                                       "rate_bp": 300}
    assert province["review_days"] == 30
    daqing = next(s for s in subs if s["region"] == "230600")
    assert daqing["review_days"] == 15 and daqing["parent"] == "230000"

    one = await registry.get("/public/subplatforms/230600")
    assert one.status_code == 200 and one.json() == daqing
    none = await registry.get("/public/subplatforms/230104")  # a county without its own
    assert none.status_code == 404
    assert none.headers["content-type"] == "application/problem+json"
    for bad in ("23060", "2306000", "abcdef", "230600%00"):
        assert (await registry.get(f"/public/subplatforms/{bad}")).status_code in (404, 422)
    # The same at /subplatforms.
    assert (await registry.get("/subplatforms")).json() == subs
    assert (await registry.get("/subplatforms/230600")).json() == daqing


async def test_the_statistics_show_each_region_against_its_own_target(registry):
    daqing_seller = bearer(registry.runtime.common, Role.SELLER, "230600", "daqing-institute")
    registry.seller = daqing_seller
    registry.registrar = bearer(registry.runtime.common, Role.REGISTRAR, "230600", "dq-reg")
    await registered(registry, terms(seller="230602", buyer="230103", total=400, tech=400))

    r = await registry.get("/statistics", params={"region": "230600", "year": 2026},
                           headers=registry.regulator)
    assert r.status_code == 200, r.text
    stats = r.json()
    own = stats["target"]
    assert own["region"] == "230600" and own["year"] == 2026
    assert (own["contracts"], own["tech_amount_fen"]) == (1, 400)
    assert own["target"] is not None
    inside = {p["region"]: p for p in stats["subplatforms"]}
    assert set(inside) == {"230600", "230602"}
    assert inside["230602"]["tech_amount_fen"] == 400

    province = (await registry.get("/statistics", params={"region": "230000", "year": 2026},
                                   headers=registry.regulator)).json()
    assert province["target"]["region"] == "230000"
    assert {p["region"] for p in province["subplatforms"]} >= {"230000", "230100", "230600"}
