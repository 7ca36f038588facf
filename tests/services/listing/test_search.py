"""Search of achievements and demands over a real, migrated PostgreSQL database."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from services.listing.api import create_app
from services.listing.config import ListingSettings
from services.listing.domain import text
from services.listing.domain.errors import BadCursor
from services.listing.schemas import AchievementQuery, DemandQuery, Match
from services.listing.store import search
from shared.auth import Role
from shared.db import migrate
from tests.support.services import bearer, running

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "listing" / "migrations"
NOW = datetime(2026, 5, 6, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# name: (title, abstract, keywords, field, region, trl, ip_type, route, price_fen, status, age)
CATALOGUE: dict[str, tuple] = {
    "graphene_coating": ("石墨烯改性防腐涂料制备技术",
                         "面向海洋工程的石墨烯防腐涂料，耐盐雾3000小时。", ["石墨烯", "防腐涂料"],
                         "new_materials", "230102", 6,
                         "patent_invention", "listing", 50_000_000, "published", 1),
    "graphene_film": ("石墨烯导热膜", "高导热石墨烯薄膜，用于电子器件散热。", ["石墨烯", "导热膜"],
                      "new_materials", "230103", 4, "patent_utility", "negotiated", 20_000_000,
                      "published", 2),
    "coating_abstract": ("海洋平台重防护体系", "以石墨烯防腐涂料为底漆的长效防护体系。", ["防护"],
                         "marine", "230202", 7, "trade_secret", "auction", 80_000_000,
                         "published", 3),
    "graphene_hebei": ("石墨烯防腐涂料产业化", "", ["石墨烯"], "new_materials", "130102", 8,
                       "patent_invention", "auction", None, "published", 4),
    "additive": ("激光增材制造钛合金构件", "增材制造钛合金航空构件的成形与热处理。",
                 ["增材制造", "钛合金"],
                 "advanced_manufacturing", "210102", 7, "patent_invention", "listing",
                 300_000_000, "published", 5),
    "additive_low": ("钛合金增材制造粉末", "增材制造用球形钛合金粉末。", ["增材制造"],
                     "advanced_manufacturing", "230100", 3, "patent_application", "listing",
                     10_000_000, "published", 6),
    "satellite": ("卫星遥感农情监测系统", "利用卫星遥感监测寒地水稻长势，服务现代农业。",
                  ["卫星遥感", "农业"],
                  "aerospace", "230000", 6, "software_copyright", "negotiated", 100_000_000,
                  "published", 7),
    "ai_vision": ("基于人工智能的机器视觉缺陷检测", "深度学习识别零件表面缺陷。",
                  ["人工智能", "机器视觉"],
                  "information", "230104", 5, "software_copyright", "listing", 150_000_000,
                  "published", 8),
    "sewage_county": ("农村污水处理一体化设备", "", ["污水处理"], "environment", "230102", 6,
                      "patent_utility", "listing", 30_000_000, "published", 9),
    "sewage_city": ("城市污水处理厂提标改造", "", ["污水处理"], "environment", "230100", 7,
                    "patent_invention", "negotiated", 60_000_000, "published", 10),
    "sewage_other_city": ("污水处理膜生物反应器", "", ["污水处理"], "environment", "230202", 5,
                          "patent_invention", "listing", 40_000_000, "published", 11),
    "sewage_hebei": ("工业污水处理回用", "", ["污水处理"], "environment", "130102", 5,
                     "patent_invention", "listing", 40_000_000, "published", 12),
    "satellite_sewage": ("卫星遥感监测污水处理厂排放", "", ["卫星遥感", "污水处理"], "environment",
                         "230103", 6, "software_copyright", "listing", 90_000_000, "published",
                         13),
    "draft": ("石墨烯防腐涂料草稿", "", ["石墨烯"], "new_materials", "230102", 6,
              "patent_invention", "listing", 50_000_000, "draft", None),
    "withdrawn": ("石墨烯防腐涂料撤回", "", ["石墨烯"], "new_materials", "230102", 6,
                  "patent_invention", "listing", 50_000_000, "withdrawn", 1),
    "in_transaction": ("石墨烯防腐涂料交易中", "", ["石墨烯"], "new_materials", "230102", 6,
                       "patent_invention", "listing", 50_000_000, "in_transaction", 2),
}
# Alike listings for paging: the first six tie on score and on time, so only the id orders them.
FILLERS = {f"filler_{i}": ("石墨烯复合材料", "石墨烯增强复合材料。", ["石墨烯"], "new_materials",
                           "230108", 5, "patent_invention", "listing", 5_000_000, "published",
                           20 if i < 6 else 20 + i) for i in range(12)}


async def add_achievement(conn: asyncpg.Connection, title: str, abstract: str,
                          keywords: list[str], field: str, region: str, trl: int, ip_type: str,
                          route: str, price: int | None, status: str, age: int | None
                          ) -> uuid.UUID:
    achievement_id = uuid.uuid4()
    published = None if age is None else NOW - age * DAY
    await conn.execute(
        """INSERT INTO achievements (id, title, abstract, region, seller_id, status, created_at,
               updated_at, field, keywords, ip_type, trl, pricing_route, reference_price_fen,
               published_at, title_words, keyword_words, abstract_words)
           VALUES ($1, $2, $3, $4, 'seller-1', $5, $6, $6, $7, $8, $9, $10, $11, $12, $13,
                   $14, $15, $16)""",
        achievement_id, title, abstract, region, status, NOW - 30 * DAY, field, keywords,
        ip_type, trl, route, price, published, text.joined(title),
        text.joined(" ".join(keywords)), text.joined(abstract))
    return achievement_id


async def add_demand(conn: asyncpg.Connection, title: str, *, description: str = "",
                     keywords: tuple[str, ...] = (), field: str = "new_materials",
                     region: str = "230102", status: str = "open", age: int = 1) -> uuid.UUID:
    demand_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO demands (id, enterprise_id, region, title, description, field, keywords,
               mode, budget_fen, min_trl, deadline, status, created_at, title_words,
               keyword_words, description_words)
           VALUES ($1, 'enterprise-1', $2, $3, $4, $5, $6, 'open_call', 100000000, 5,
                   now() + interval '30 days', $7, $8, $9, $10, $11)""",
        demand_id, region, title, description, field, list(keywords), status, NOW - age * DAY,
        text.joined(title), text.joined(" ".join(keywords)), text.joined(description))
    return demand_id


async def load(conn: asyncpg.Connection) -> dict[str, uuid.UUID]:
    return {name: await add_achievement(conn, *row)
            for name, row in {**CATALOGUE, **FILLERS}.items()}


@pytest.fixture
async def db(database_url) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, uuid.UUID]]]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn, MIGRATIONS)
        ids = await load(conn)
    yield pool, ids
    await pool.close()


def names(ids: dict[str, uuid.UUID], page: search.Page) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[hit.id] for hit in page.items]


async def find(pool: asyncpg.Pool, **params) -> search.Page:
    return await search.search_achievements(pool, AchievementQuery(**params))


async def everything(pool: asyncpg.Pool, cursor: str | None = None, **params
                     ) -> list[uuid.UUID]:
    """All hits, page after page, following next_cursor."""
    seen: list[uuid.UUID] = []
    for _ in range(100):
        page = await find(pool, **params, cursor=cursor)
        seen += [hit.id for hit in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ran out")


# -- relevance -------------------------------------------------------------------------------


async def test_all_words_are_ranked_title_before_abstract(db):
    pool, ids = db
    page = await find(pool, q="石墨烯 防腐涂料", limit=3)
    assert page.match is Match.ALL_WORDS
    assert names(ids, page) == ["graphene_coating", "graphene_hebei", "coating_abstract"]
    scores = [hit.score for hit in page.items]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert page.items[0].highlight == ["石墨烯", "防腐涂料"]
    assert page.items[2].highlight == []  # the words are only in its abstract
    assert page.next_cursor is None
    assert page.words == ["石墨", "石墨烯", "防腐", "涂料", "防腐涂料"]


async def test_the_hit_carries_the_listing(db):
    pool, ids = db
    page = await find(pool, q="石墨烯改性防腐涂料", limit=1)
    hit = page.items[0]
    assert hit.id == ids["graphene_coating"]
    assert (hit.title, hit.field, hit.region, hit.trl, hit.ip_type, hit.pricing_route,
            hit.reference_price_fen, hit.status) == (
        "石墨烯改性防腐涂料制备技术", "new_materials", "230102", 6, "patent_invention", "listing",
        50_000_000, "published")
    assert hit.published_at == NOW - DAY
    assert hit.abstract.startswith("面向海洋工程")


async def test_abstract_is_cut_to_200_characters(db):
    pool, _ = db
    async with pool.acquire() as conn:
        await add_achievement(conn, "寒地水稻育秧技术", "水稻" * 300, [], "agriculture", "230102",
                              5, "other", "listing", None, "published", 1)
    page = await find(pool, q="寒地水稻")
    assert len(page.items[0].abstract) == 200


async def test_without_text_the_newest_come_first(db):
    pool, ids = db
    page = await find(pool, limit=3)
    assert page.match is Match.NO_TEXT
    assert names(ids, page) == ["graphene_coating", "graphene_film", "coating_abstract"]
    assert all(hit.score is None for hit in page.items)


async def test_a_query_of_only_stopwords_searches_without_text(db):
    pool, _ = db
    page = await find(pool, q="的 和 技术", limit=3)
    assert page.match is Match.NO_TEXT and page.words == []


async def test_fewer_hits_than_a_page_falls_back_to_any_word_most_words_first(db):
    pool, ids = db
    page = await find(pool, q="石墨烯 防腐涂料", limit=20)
    assert page.match is Match.ANY_WORD
    got = names(ids, page)
    assert set(got[:3]) == {"graphene_coating", "graphene_hebei", "coating_abstract"}
    assert set(got[3:]) == {"graphene_film", *FILLERS}


async def test_a_long_query_with_no_listing_holding_every_word_still_finds_some(db):
    pool, ids = db
    page = await find(pool, q="石墨烯 卫星遥感 污水处理")
    assert page.match is Match.ANY_WORD
    got = names(ids, page)
    assert got[0] == "satellite_sewage"  # holds two of the three
    assert {"satellite", "sewage_county", "graphene_coating"} <= set(got)


async def test_enough_hits_for_a_page_stay_with_all_words(db):
    pool, _ = db
    page = await find(pool, q="石墨烯", limit=5)
    assert page.match is Match.ALL_WORDS and len(page.items) == 5


# -- filters ---------------------------------------------------------------------------------


async def test_field_filter_any_of(db):
    pool, ids = db
    assert set(names(ids, await find(pool, field=["aerospace"]))) == {"satellite"}
    both = await find(pool, field=["aerospace", "information"])
    assert set(names(ids, both)) == {"satellite", "ai_vision"}


async def test_trl_range(db):
    pool, ids = db
    page = await find(pool, q="增材制造 钛合金", trl_min=5)
    assert names(ids, page) == ["additive"]
    page = await find(pool, trl_min=7, trl_max=7, limit=100)
    assert set(names(ids, page)) == {"coating_abstract", "additive", "sewage_city"}
    assert all(hit.trl == 7 for hit in page.items)


async def test_ip_type_and_pricing_route(db):
    pool, ids = db
    page = await find(pool, ip_type=["software_copyright"], pricing_route=["negotiated"])
    assert names(ids, page) == ["satellite"]
    page = await find(pool, ip_type=["trade_secret", "patent_application"], limit=100)
    assert set(names(ids, page)) == {"coating_abstract", "additive_low"}


async def test_price_range_excludes_listings_without_a_price(db):
    pool, ids = db
    page = await find(pool, q="人工智能 机器视觉", price_min_fen=100_000_000,
                      price_max_fen=200_000_000)
    assert names(ids, page) == ["ai_vision"]
    page = await find(pool, price_min_fen=80_000_000, price_max_fen=100_000_000, limit=100)
    assert set(names(ids, page)) == {"coating_abstract", "satellite", "satellite_sewage"}
    page = await find(pool, q="石墨烯", price_max_fen=10**12, limit=100)
    assert "graphene_hebei" not in names(ids, page)  # no reference price


async def test_only_published_listings_unless_asked(db):
    pool, ids = db
    default = set(names(ids, await find(pool, q="石墨烯", limit=100)))
    assert not default & {"draft", "withdrawn", "in_transaction"}
    page = await find(pool, q="石墨烯", status=["in_transaction"])
    assert names(ids, page) == ["in_transaction"]
    page = await find(pool, q="石墨烯 防腐涂料", status=["published", "in_transaction"], limit=4)
    assert "in_transaction" in names(ids, page)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("230000", {"sewage_county", "sewage_city", "sewage_other_city", "satellite_sewage"}),
        ("230100", {"sewage_county", "sewage_city", "satellite_sewage"}),
        ("230102", {"sewage_county"}),
        ("230200", {"sewage_other_city"}),
        ("130000", {"sewage_hebei"}),
        ("350000", set()),
    ],
    ids=["province-finds-its-cities-and-counties", "city-excludes-other-cities", "county-exact",
         "another-city", "another-province", "none"],
)
async def test_region_matches_its_whole_subtree(db, region, expected):
    pool, ids = db
    page = await find(pool, q="污水处理", region=region, limit=100)
    assert set(names(ids, page)) == expected


async def test_region_filter_without_text(db):
    pool, ids = db
    page = await find(pool, region="230000", field=["aerospace", "environment"], limit=100)
    assert set(names(ids, page)) == {"satellite", "sewage_county", "sewage_city",
                                     "sewage_other_city", "satellite_sewage"}


def test_region_range_is_a_plain_code_range():
    assert search.region_range("230000") == ("230000", "239999")
    assert search.region_range("230100") == ("230100", "230199")
    assert search.region_range("230102") == ("230102", "230102")


# -- the newest matches are ranked ------------------------------------------------------------


def newest_first(ids: dict[str, uuid.UUID], hits: list) -> list:
    """``hits`` as the newest-first order of their listings' ages (ties: id, descending)."""
    age = {ids[name]: row[-1] for name, row in {**CATALOGUE, **FILLERS}.items()}
    return sorted(hits, key=lambda h: (age[h.id], -h.id.int))


@pytest.mark.parametrize("q", ["石墨烯", "导热膜 钛合金 污水处理"], ids=["all-words", "disjoint"])
async def test_only_the_newest_matches_are_ranked(db, monkeypatch, q):
    """However many listings match, the ranking weighs the newest CANDIDATES of them: the
    same order as ranking all, with the older ones left out, page after page."""
    pool, ids = db
    whole = await find(pool, q=q, limit=100)
    assert len(whole.items) > 5
    monkeypatch.setattr(search, "CANDIDATES", 5)
    newest = {h.id for h in newest_first(ids, whole.items)[:5]}
    expected = [h.id for h in whole.items if h.id in newest]
    page = await find(pool, q=q, limit=100)
    assert page.match is whole.match
    assert [h.id for h in page.items] == expected
    assert await everything(pool, q=q, limit=2) == expected


async def test_words_no_listing_holds_together_rank_the_union_best_first(db, monkeypatch):
    """Words no listing holds two of: the fallback ranks the listings holding any of them,
    by score and then newest first, within the newest CANDIDATES of those."""
    pool, ids = db
    monkeypatch.setattr(search, "CANDIDATES", 3)
    page = await find(pool, q="导热膜 钛合金 污水处理", limit=100)
    assert page.match is Match.ANY_WORD
    # The union's newest three (2, 5 and 6 days old); the five with 污水处理 are older.
    assert set(names(ids, page)) == {"graphene_film", "additive", "additive_low"}
    keys = [(-h.score, newest_first(ids, page.items).index(h)) for h in page.items]
    assert keys == sorted(keys)


async def test_recent_listings_are_looked_at_first_and_the_window_widens(db, monkeypatch):
    """The newest matches are looked for among recent listings first: a window holding
    enough of them holds the newest of all; one holding too few is widened, to all at last."""
    pool, _ = db
    statements: list[str] = []

    class Spy:
        async def fetch(self, sql: str, *args: object) -> list:
            statements.append(sql)
            return await pool.fetch(sql, *args)

        async def fetchrow(self, sql: str, *args: object) -> object:
            return await pool.fetchrow(sql, *args)

    recent = []
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        for days in (1, 3, 50):
            listing = await add_achievement(
                conn, "石墨烯散热膜", "", ["石墨烯"], "new_materials", "230102", 5,
                "patent_invention", "listing", 5_000_000, "published", 0)
            await conn.execute("UPDATE achievements SET published_at = $2 WHERE id = $1",
                               listing, now - days * DAY)
            recent.append(listing)
    monkeypatch.setattr(search, "FIRST_WINDOW", 10 * DAY)
    monkeypatch.setattr(search, "CANDIDATES", 2)
    page = await search.search_achievements(Spy(), AchievementQuery(q="石墨烯", limit=5))
    assert {h.id for h in page.items} == set(recent[:2])
    assert len(statements) == 1  # the first window held two: the newest of all
    statements.clear()
    monkeypatch.setattr(search, "CANDIDATES", 4)
    page = await search.search_achievements(Spy(), AchievementQuery(q="石墨烯", limit=5))
    assert set(recent) < {h.id for h in page.items} and len(page.items) == 4
    assert len(statements) > 2  # 10 days: two; 40 days: still two; then wider


# -- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"q": "石墨烯"}, {}, {"q": "石墨烯 卫星遥感 污水处理"}, {"field": ["new_materials"]},
     {"region": "230108"}],
    ids=["all-words", "no-text", "any-word", "filter-only", "tied-times"],
)
async def test_pages_cover_every_hit_exactly_once_in_order(db, params):
    pool, _ = db
    whole = await find(pool, **params, limit=100)
    assert whole.next_cursor is None and len(whole.items) > 7
    for size in (1, 4, 7):
        paged = await everything(pool, **params, limit=size)
        assert len(paged) == len(set(paged))
        assert (await find(pool, **params, limit=size)).match is whole.match
        assert paged == [hit.id for hit in whole.items], size


async def test_a_page_size_may_change_between_pages(db):
    pool, _ = db
    first = await find(pool, q="石墨烯", limit=3)
    rest = await everything(pool, q="石墨烯", limit=5, cursor=first.next_cursor)
    whole = await find(pool, q="石墨烯", limit=100)
    assert [h.id for h in first.items] + rest == [h.id for h in whole.items]


@pytest.mark.parametrize(
    "other",
    [{"q": "防腐涂料"}, {"q": "石墨烯", "region": "230000"}, {"q": "石墨烯", "trl_min": 2},
     {"q": "石墨烯", "status": ["in_transaction"]}],
    ids=["other-words", "added-region", "added-trl", "other-status"],
)
async def test_a_cursor_is_refused_by_another_query(db, other):
    pool, _ = db
    cursor = (await find(pool, q="石墨烯", limit=2)).next_cursor
    assert cursor
    with pytest.raises(BadCursor) as caught:
        await find(pool, **other, cursor=cursor)
    assert caught.value.status == 422 and caught.value.slug == "listing-search-bad-cursor"


async def test_the_same_words_in_another_spelling_keep_the_cursor(db):
    pool, _ = db
    cursor = (await find(pool, q="石墨烯 复合材料", limit=2)).next_cursor
    assert (await find(pool, q="复合材料，石墨烯", cursor=cursor)).items


async def test_a_tampered_cursor_is_refused(db):
    pool, _ = db
    params = {"q": "石墨烯 卫星遥感 污水处理", "limit": 2}
    cursor = (await find(pool, **params)).next_cursor
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert payload["m"] == "any_word" and set(payload["w"]) == {"石墨烯", "卫星遥感", "污水处理"}
    for change in ({"w": ["量子通信"]}, {"w": []}, {"m": "no_text"}, {"k": [1, 0.5, "x", "y"]}):
        forged = base64.urlsafe_b64encode(json.dumps({**payload, **change}).encode()).decode()
        with pytest.raises(BadCursor):
            await find(pool, **params, cursor=forged)


@pytest.mark.parametrize("cursor", ["garbage", "", "eyJ4IjoxfQ", "!!!", "e30"])
async def test_a_malformed_cursor_is_refused(db, cursor):
    pool, _ = db
    if not cursor:
        assert (await find(pool, q="石墨烯", cursor=cursor)).items  # empty means none
        return
    with pytest.raises(BadCursor):
        await find(pool, q="石墨烯", cursor=cursor)


# -- query validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"trl_min": 0}, {"trl_max": 10}, {"trl_min": 6, "trl_max": 5}, {"limit": 0},
     {"limit": 1000}, {"region": "2301"}, {"region": "990000"}, {"region": "230002"},
     {"price_min_fen": -1}, {"price_min_fen": 10, "price_max_fen": 9}, {"field": ["magic"]},
     {"status": ["draft"]}, {"status": []}, {"unknown": 1}],
)
def test_invalid_queries_are_refused(params):
    with pytest.raises(ValidationError):
        AchievementQuery(**params)


def test_words_and_tsqueries():
    cut = ["石墨", "石墨烯", "防腐", "涂料", "防腐涂料"]
    assert search.key_words(cut) == ["石墨烯", "防腐涂料"]
    assert search.tsquery(["石墨烯", "o'neil"], "&") == "'石墨烯' & 'o''neil'"
    assert search.at_least(["a", "b", "c"], 2) == "('a' & 'b') | ('a' & 'c') | ('b' & 'c')"
    assert search.tiers(3, 2) == [2, 1]
    assert search.tiers(12, 11) == [11, 10, 2, 1]  # C(12, 9…3) > 100 AND groups


async def test_words_with_tsquery_syntax_are_searched_literally(db):
    pool, _ = db
    for q in ["石墨烯 & | ! ( ) : *", "o'neil", "a\\b", "石墨烯'"]:
        page = await find(pool, q=q)
        assert page.match in (Match.ALL_WORDS, Match.ANY_WORD, Match.NO_TEXT)


# -- demands ---------------------------------------------------------------------------------


async def test_demands_by_text_open_ones_only(db):
    pool, _ = db
    async with pool.acquire() as conn:
        wanted = await add_demand(conn, "寻求石墨烯防腐涂料技术", keywords=("石墨烯", "防腐"))
        other = await add_demand(conn, "寻求污水处理技术", field="environment", region="130102")
        closed = await add_demand(conn, "石墨烯防腐涂料需求（已关闭）", status="closed")
    page = await search.search_demands(pool, DemandQuery(q="石墨烯 防腐"))
    assert [h.id for h in page.items] == [wanted]
    assert page.items[0].highlight == ["石墨烯", "防腐"]
    page = await search.search_demands(pool, DemandQuery(q="石墨烯", status=["closed"]))
    assert [h.id for h in page.items] == [closed]
    page = await search.search_demands(pool, DemandQuery(region="130000"))
    assert [h.id for h in page.items] == [other]
    page = await search.search_demands(pool, DemandQuery(field=["environment", "marine"]))
    assert [h.id for h in page.items] == [other]


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def api(database_url, common):
    app = create_app(ListingSettings(database_url=database_url), common, run_background=False)
    async with running(app) as client:
        conn = await asyncpg.connect(database_url)
        try:
            client.ids = await load(conn)
        finally:
            await conn.close()
        client.headers.update(bearer(common, Role.BUYER, "230100"))
        yield client


async def test_http_search_with_repeated_list_parameters_and_pages(api):
    r = await api.get("/search/achievements", params=[
        ("q", "污水处理"), ("field", "environment"), ("field", "aerospace"),
        ("region", "230000"), ("limit", "2")])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["match"] == "all_words" and len(body["items"]) == 2 and body["next_cursor"]
    assert set(body["items"][0]) >= {"id", "title", "abstract", "field", "region", "trl",
                                     "ip_type", "pricing_route", "reference_price_fen",
                                     "status", "published_at", "score", "highlight"}
    rest = await api.get("/search/achievements", params=[
        ("q", "污水处理"), ("field", "aerospace"), ("field", "environment"),
        ("region", "230000"), ("limit", "10"), ("cursor", body["next_cursor"])])
    assert rest.status_code == 200, rest.text
    got = [h["id"] for h in body["items"] + rest.json()["items"]]
    by_id = {str(v): k for k, v in api.ids.items()}
    assert sorted(by_id[i] for i in got) == sorted(
        ["sewage_county", "sewage_city", "sewage_other_city", "satellite_sewage"])


async def test_http_bad_parameters_are_422_problems(api):
    for query in ["trl_min=0", "limit=1000", "region=2301", "region=990000",
                  "trl_min=7&trl_max=3", "field=magic", "status=draft", "price_max_fen=-5",
                  "colour=red"]:
        r = await api.get(f"/search/achievements?q=石墨烯&{query}")
        assert r.status_code == 422, (query, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:techex:problem:validation"
    r = await api.get("/search/achievements?trl_min=0&limit=1000")
    assert {e["field"] for e in r.json()["errors"]} == {"query.trl_min", "query.limit"}


async def test_http_cursor_of_another_query_is_a_422_problem(api):
    first = (await api.get("/search/achievements", params={"q": "石墨烯", "limit": 2})).json()
    r = await api.get("/search/achievements",
                      params={"q": "防腐涂料", "cursor": first["next_cursor"]})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:techex:problem:listing-search-bad-cursor"
    r = await api.get("/search/demands", params={"cursor": first["next_cursor"]})
    assert r.json()["type"] == "urn:techex:problem:listing-search-bad-cursor"


async def test_http_every_role_may_search_and_anonymous_may_not(api, common):
    for role in Role:
        headers = bearer(common, role, "350000")
        r = await api.get("/search/achievements", params={"q": "石墨烯"}, headers=headers)
        assert r.status_code == 200 and r.json()["items"], role
    api.headers.pop("Authorization")
    r = await api.get("/search/demands")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_http_demands_and_the_latency_histogram(api):
    r = await api.get("/search/demands", params={"q": "石墨烯"})
    assert r.status_code == 200 and r.json() == {
        "items": [], "next_cursor": None, "match": "all_words", "words": ["石墨", "石墨烯"]}
    metrics = (await api.get("/metrics")).text
    assert 'techex_listing_search_seconds_count{kind="demands"}' in metrics
