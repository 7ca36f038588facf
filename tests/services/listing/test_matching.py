"""Matching demands and achievements (精准对接) over a real, migrated PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.listing.api import create_app
from services.listing.config import ListingSettings
from services.listing.domain import text
from services.listing.domain.matching import WEIGHTS, Pair, region_proximity, score_pair
from services.listing.store import matching
from shared.auth import Role
from shared.db import migrate
from tests.support.services import bearer, running

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "listing" / "migrations"
NOW = datetime.now(UTC)


async def add_achievement(conn: asyncpg.Connection, title: str, *, abstract: str = "",
                          keywords: tuple[str, ...] = (), field: str = "new_materials",
                          region: str = "230102", trl: int = 6, price: int | None = 50_000_000,
                          status: str = "published") -> uuid.UUID:
    achievement_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO achievements (id, title, abstract, region, seller_id, status, created_at,
               updated_at, field, keywords, trl, reference_price_fen, published_at,
               title_words, keyword_words, abstract_words)
           VALUES ($1, $2, $3, $4, 'seller-1', $5, $6, $6, $7, $8, $9, $10, $6, $11, $12, $13)""",
        achievement_id, title, abstract, region, status, NOW - timedelta(days=1), field,
        list(keywords), trl, price, text.joined(title), text.joined(" ".join(keywords)),
        text.joined(abstract))
    return achievement_id


async def add_demand(conn: asyncpg.Connection, title: str, *, description: str = "",
                     keywords: tuple[str, ...] = (), field: str = "new_materials",
                     region: str = "230102", min_trl: int = 5,
                     budget: int | None = 100_000_000, status: str = "open",
                     deadline: timedelta = timedelta(days=30)) -> uuid.UUID:
    demand_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO demands (id, enterprise_id, region, title, description, field, keywords,
               mode, budget_fen, min_trl, deadline, status, created_at, title_words,
               keyword_words, description_words)
           VALUES ($1, 'enterprise-1', $2, $3, $4, $5, $6, 'open_call', $7, $8, $9, $10, $11,
                   $12, $13, $14)""",
        demand_id, region, title, description, field, list(keywords), budget, min_trl,
        NOW + deadline, status, NOW - timedelta(days=1), text.joined(title),
        text.joined(" ".join(keywords)), text.joined(description))
    return demand_id


@pytest.fixture
async def pool(database_url) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn, MIGRATIONS)
    yield pool
    await pool.close()


async def test_the_graphene_coating_answers_the_graphene_anticorrosion_demand(pool):
    async with pool.acquire() as conn:
        demand = await add_demand(conn, "寻求石墨烯防腐技术", keywords=("石墨烯", "防腐"),
                                  description="用于海上风电塔筒的长效防腐。")
        coating = await add_achievement(
            conn, "石墨烯改性防腐涂料制备技术", keywords=("石墨烯", "防腐涂料"),
            abstract="面向海洋工程的石墨烯防腐涂料，耐盐雾3000小时。")
        film = await add_achievement(conn, "石墨烯导热膜", keywords=("石墨烯", "导热膜"))
        paint = await add_achievement(conn, "水性防腐涂料", keywords=("水性涂料",),
                                      field="marine", region="230202")
        unrelated = await add_achievement(conn, "寒地水稻育秧技术", field="agriculture")
        draft = await add_achievement(conn, "石墨烯防腐涂料（草稿）", status="draft")
    matches = await matching.achievements_for_demand(pool, demand)
    assert matches is not None
    ids = [m.id for m in matches]
    assert ids[0] == coating
    assert set(ids) == {coating, film, paint}
    assert unrelated not in ids and draft not in ids
    best = matches[0]
    assert "共同词语: 石墨烯, 防腐" in best.reasons
    assert "技术领域相同: 新材料" in best.reasons
    assert "成熟度满足: TRL 6 ≥ 5" in best.reasons
    assert any(r.startswith("同一区县: ") for r in best.reasons)
    assert any(r.startswith("预算覆盖参考价: ¥1,000,000.00 ≥ ¥500,000.00") for r in best.reasons)
    assert all(0 <= m.score <= 1 for m in matches)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert matches[-1].id == paint and "技术领域相同: 新材料" not in matches[-1].reasons


async def test_nearer_regions_rank_higher(pool):
    async with pool.acquire() as conn:
        demand = await add_demand(conn, "石墨烯防腐涂料需求", region="230102")
        places = {region: await add_achievement(conn, "石墨烯防腐涂料", region=region)
                  for region in ("130102", "230202", "230103", "230102")}
    matches = await matching.achievements_for_demand(pool, demand)
    assert [m.id for m in matches] == [places[r] for r in ("230102", "230103", "230202",
                                                           "130102")]
    reasons = [next((r.split(":")[0] for r in m.reasons if r.startswith("同一")), None)
               for m in matches]
    assert reasons == ["同一区县", "同一城市", "同一省份", None]


async def test_maturity_below_the_demands_minimum_is_penalised(pool):
    async with pool.acquire() as conn:
        demand = await add_demand(conn, "石墨烯防腐涂料需求", min_trl=5)
        mature = await add_achievement(conn, "石墨烯防腐涂料", trl=5)
        early = await add_achievement(conn, "石墨烯防腐涂料", trl=3)
        earliest = await add_achievement(conn, "石墨烯防腐涂料", trl=1)
    matches = await matching.achievements_for_demand(pool, demand)
    assert [m.id for m in matches] == [mature, early, earliest]
    assert "成熟度满足: TRL 5 ≥ 5" in matches[0].reasons
    assert "成熟度不足: TRL 3 < 5" in matches[1].reasons
    assert matches[0].score > matches[1].score > matches[2].score


async def test_a_price_over_budget_counts_against(pool):
    async with pool.acquire() as conn:
        demand = await add_demand(conn, "石墨烯防腐涂料需求", budget=10_000_000)
        cheap = await add_achievement(conn, "石墨烯防腐涂料", price=8_000_000)
        unpriced = await add_achievement(conn, "石墨烯防腐涂料", price=None)
        dear = await add_achievement(conn, "石墨烯防腐涂料", price=40_000_000)
    matches = await matching.achievements_for_demand(pool, demand)
    assert [m.id for m in matches] == [cheap, unpriced, dear]
    assert "参考价超出预算: ¥400,000.00 > ¥100,000.00" in matches[2].reasons


async def test_demands_for_an_achievement_are_open_ones_in_time(pool):
    async with pool.acquire() as conn:
        coating = await add_achievement(conn, "石墨烯改性防腐涂料", keywords=("石墨烯", "防腐涂料"),
                                        trl=6)
        wanted = await add_demand(conn, "寻求石墨烯防腐涂料", keywords=("防腐",))
        too_demanding = await add_demand(conn, "寻求石墨烯防腐涂料", min_trl=8)
        elsewhere = await add_demand(conn, "石墨烯防腐涂料需求", region="350203",
                                     field="marine")
        await add_demand(conn, "寻求石墨烯防腐涂料（已关闭）", status="closed")
        await add_demand(conn, "寻求石墨烯防腐涂料（已截止）", deadline=timedelta(days=-1))
        await add_demand(conn, "寻求污水处理技术", field="environment")
    matches = await matching.demands_for_achievement(pool, coating)
    assert [m.id for m in matches] == [wanted, too_demanding, elsewhere]
    assert "成熟度不足: TRL 6 < 8" in matches[1].reasons
    assert matches[0].min_trl == 5 and matches[0].budget_fen == 100_000_000


async def test_alike_listings_score_alike_whichever_side_asks(pool):
    async with pool.acquire() as conn:
        coating = await add_achievement(conn, "石墨烯防腐涂料", keywords=("石墨烯", "防腐涂料"))
        demand = await add_demand(conn, "石墨烯防腐涂料", keywords=("石墨烯", "防腐涂料"))
    [forward] = await matching.achievements_for_demand(pool, demand)
    [backward] = await matching.demands_for_achievement(pool, coating)
    assert forward.score == backward.score
    assert forward.reasons == backward.reasons


async def test_unknown_sources_and_the_limit(pool):
    assert await matching.achievements_for_demand(pool, uuid.uuid4()) is None
    assert await matching.demands_for_achievement(pool, uuid.uuid4()) is None
    async with pool.acquire() as conn:
        demand = await add_demand(conn, "石墨烯防腐涂料需求")
        for _ in range(12):
            await add_achievement(conn, "石墨烯防腐涂料")
        lonely = await add_demand(conn, "量子通信")
    assert len(await matching.achievements_for_demand(pool, demand)) == 10
    assert len(await matching.achievements_for_demand(pool, demand, limit=3)) == 3
    assert await matching.achievements_for_demand(pool, lonely) == []


# -- scoring, pure ---------------------------------------------------------------------------


def _pair(**changes) -> Pair:
    base = dict(source_words={"石墨烯": 1.0, "防腐": 1.0}, strong_words=frozenset({"石墨烯"}),
                weak_words=frozenset({"防腐"}), demand_field="new_materials",
                achievement_field="new_materials", demand_region="230102",
                achievement_region="230102", trl=6, min_trl=5, budget_fen=None, price_fen=None)
    return Pair(**{**base, **changes})


def test_title_words_count_fully_and_abstract_words_half():
    full, _ = score_pair(_pair(strong_words=frozenset({"石墨烯", "防腐"}), weak_words=frozenset()))
    half, _ = score_pair(_pair())
    none, reasons = score_pair(_pair(strong_words=frozenset(), weak_words=frozenset()))
    assert full > half > none
    assert round(full - half, 4) == round(WEIGHTS["text"] * 0.25, 4)
    assert not any(r.startswith("共同词语") for r in reasons)


def test_rarer_shared_words_weigh_more_and_come_first_in_the_reason():
    weights = {"石墨烯": 3.0, "涂料": 0.5}
    rare, _ = score_pair(_pair(source_words=weights, strong_words=frozenset({"石墨烯"}),
                                     weak_words=frozenset()))
    common, _ = score_pair(_pair(source_words=weights, strong_words=frozenset({"涂料"}),
                                 weak_words=frozenset()))
    assert rare > common
    _, reasons = score_pair(_pair(source_words={"涂料": 0.5, "石墨烯": 3.0},
                                     strong_words=frozenset({"石墨烯", "涂料"})))
    assert reasons[0] == "共同词语: 石墨烯, 涂料"


def test_the_score_stays_within_zero_and_one():
    best, _ = score_pair(_pair(strong_words=frozenset({"石墨烯", "防腐"}), budget_fen=10,
                               price_fen=5))
    worst, _ = score_pair(_pair(strong_words=frozenset(), weak_words=frozenset(),
                                achievement_field="energy", achievement_region="350203",
                                trl=1, min_trl=9, budget_fen=1, price_fen=10**9))
    assert best == 1.0 and worst == 0.0


@pytest.mark.parametrize(
    ("a", "b", "score", "reason"),
    [
        ("230102", "230102", 1.0, "同一区县"),
        ("230102", "230103", 0.7, "同一城市"),
        ("230100", "230102", 0.7, "同一城市"),
        ("230100", "230100", 0.7, "同一城市"),
        ("230102", "230202", 0.4, "同一省份"),
        ("230000", "230102", 0.4, "同一省份"),
        ("230102", "130102", 0.0, None),
    ],
)
def test_region_proximity(a, b, score, reason):
    got, why = region_proximity(a, b)
    assert got == score
    assert (why.split(":")[0] if why else None) == reason
    assert region_proximity(b, a)[0] == score


# -- over HTTP -------------------------------------------------------------------------------


async def test_http_matches_and_unknown_ids(database_url, common):
    app = create_app(ListingSettings(database_url=database_url), common, run_background=False)
    async with running(app) as client:
        conn = await asyncpg.connect(database_url)
        try:
            coating = await add_achievement(conn, "石墨烯改性防腐涂料", keywords=("石墨烯",))
            demand = await add_demand(conn, "寻求石墨烯防腐技术", keywords=("石墨烯", "防腐"))
        finally:
            await conn.close()
        headers = bearer(common, Role.REGULATOR, "230000")
        r = await client.get(f"/demands/{demand}/matches", headers=headers)
        assert r.status_code == 200, r.text
        [item] = r.json()["items"]
        assert item["id"] == str(coating) and item["reasons"][0].startswith("共同词语: 石墨烯")
        r = await client.get(f"/achievements/{coating}/matches?limit=1", headers=headers)
        assert [i["id"] for i in r.json()["items"]] == [str(demand)]
        for path in (f"/demands/{uuid.uuid4()}/matches",
                     f"/achievements/{uuid.uuid4()}/matches"):
            r = await client.get(path, headers=headers)
            assert r.status_code == 404
            assert r.json()["type"] == "urn:techex:problem:not-found"
        r = await client.get(f"/demands/{demand}/matches?limit=0", headers=headers)
        assert r.status_code == 422
        r = await client.get(f"/demands/{demand}/matches")
        assert r.status_code == 401
        metrics = (await client.get("/metrics")).text
        assert 'techex_listing_search_seconds_count{kind="matches"}' in metrics
