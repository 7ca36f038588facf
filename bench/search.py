"""Latency of achievement search (and matching) over 100,000 published listings.

Loads synthetic but realistic Chinese listings (titles, abstracts and keywords composed from the
exchange's technical vocabulary, spread over real region codes of 黑龙江, 河北, 辽宁, 天津 and
福建, over fields, TRLs, IP types, pricing routes and prices) and some open demands into a
throw-away database of the real embedded stack, segments them with the service's own
segmenter (a sentence at a time, each distinct one once; beyond 100,000 listings, texts are
drawn again from those composed), bulk-loads them with COPY in publication order and builds
the indexes after it, VACUUM ANALYZEs, then times queries through
``services.listing.store.search`` (not HTTP), each kind many times, sequentially, through a pool:

- the typical mix: words with filters (province, TRL, field, price, county), filters alone,
  and a second page through the cursor; the headline figures are of this mix;
- stress kinds, reported apart: a long sentence (falls back to "most of the words"), one
  frequent word with no filter, words no listing holds together;
- matching achievements to a demand.

    .venv/bin/python bench/search.py [--listings 100000] [--runs 200] [--explain]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import asyncpg
import uvloop

from services.listing.domain import text
from services.listing.domain.achievement import PricingRoute
from services.listing.domain.fields import TechField
from services.listing.domain.ip import IpType
from services.listing.store import matching, search
from shared.db import create_pool, migrate
from techex.stack.stack import Stack, create_database

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "listing" / "migrations"

# Real GB/T 2260 codes: province → city → some of its counties (Tianjin has no city level).
REGIONS: dict[str, dict[str, list[str]]] = {
    "230000": {"230100": ["230102", "230103", "230104", "230108", "230109", "230110"],
               "230200": ["230202", "230203", "230204"], "230600": ["230602", "230603"],
               "231000": ["231002", "231003"]},
    "130000": {"130100": ["130102", "130104", "130105"], "130200": ["130202", "130203"],
               "130600": ["130602", "130606"]},
    "210000": {"210100": ["210102", "210103", "210104"], "210200": ["210202", "210203", "210211"],
               "210300": ["210302", "210303"]},
    "120000": {"": ["120101", "120102", "120103", "120104", "120116"]},
    "350000": {"350100": ["350102", "350103", "350104"], "350200": ["350203", "350205", "350206"],
               "350300": ["350302"]},
}
PROVINCE_WEIGHTS = {"230000": 4, "130000": 2, "210000": 2, "120000": 1, "350000": 1}

# Per field: core technologies, and the products or problems they are applied to.
TERMS: dict[TechField, tuple[list[str], list[str]]] = {
    TechField.NEW_MATERIALS: (
        ["石墨烯", "氧化石墨烯", "碳纤维", "先进复合材料", "碳化硅", "高温合金", "钛合金",
         "陶瓷基复合材料", "纳米材料", "稀土永磁材料"],
        ["防腐涂料", "水性涂料", "导热膜", "散热材料", "轻量化构件", "耐磨涂层", "锂电池负极",
         "防护材料"]),
    TechField.ADVANCED_MANUFACTURING: (
        ["增材制造", "激光增材制造", "3D打印", "智能制造", "工业机器人", "数控机床", "精密加工",
         "激光焊接", "钛合金"],
        ["航空发动机叶片", "钛合金构件", "精密模具", "齿轮箱", "液压系统", "柔性生产线",
         "大型铸件"]),
    TechField.INFORMATION: (
        ["人工智能", "机器视觉", "深度学习", "大数据", "工业互联网", "区块链", "物联网",
         "边缘计算"],
        ["缺陷检测", "智能客服", "故障诊断", "质量追溯", "视频分析", "预测性维护",
         "智能安防"]),
    TechField.AEROSPACE: (
        ["卫星应用", "卫星遥感", "北斗导航", "遥感影像", "无人机", "航空发动机", "飞行控制"],
        ["农情监测", "灾害预警", "精准定位", "国土测绘", "电力巡检", "森林防火"]),
    TechField.BIOMEDICINE: (
        ["生物医药", "创新药", "中药材", "医疗器械", "基因检测", "疫苗", "单克隆抗体",
         "体外诊断"],
        ["抗肿瘤药物", "心血管疾病", "检测试剂盒", "靶向给药", "慢病管理"]),
    TechField.AGRICULTURE: (
        ["现代农业", "智慧农业", "黑土地保护", "寒地水稻", "大豆育种", "精准施肥", "节水灌溉",
         "畜禽养殖"],
        ["病虫害防治", "秸秆还田", "品种选育", "农产品加工", "农业", "粮食增产"]),
    TechField.ENVIRONMENT: (
        ["环境治理", "污水处理", "土壤修复", "烟气脱硫", "脱硝", "固废资源化", "膜分离",
         "生物降解"],
        ["工业废水", "重金属污染", "垃圾焚烧", "黑臭水体", "除尘", "农村污水"]),
    TechField.ENERGY: (
        ["新能源", "储能", "氢能", "锂电池", "光伏", "风电", "燃料电池", "余热回收"],
        ["电池管理", "电解水制氢", "并网控制", "节能改造", "分布式发电"]),
    TechField.MARINE: (
        ["海洋工程", "船舶", "海水淡化", "海洋牧场", "水下机器人"],
        ["防腐涂料", "防污涂层", "海上风电", "深海探测"]),
}
# Fields whose listings often borrow each other's vocabulary.
NEIGHBOURS: dict[TechField, list[TechField]] = {
    TechField.NEW_MATERIALS: [TechField.MARINE, TechField.ENERGY,
                              TechField.ADVANCED_MANUFACTURING],
    TechField.ADVANCED_MANUFACTURING: [TechField.NEW_MATERIALS, TechField.AEROSPACE,
                                       TechField.INFORMATION],
    TechField.INFORMATION: [TechField.ADVANCED_MANUFACTURING, TechField.AEROSPACE],
    TechField.AEROSPACE: [TechField.AGRICULTURE, TechField.INFORMATION],
    TechField.BIOMEDICINE: [TechField.AGRICULTURE, TechField.INFORMATION],
    TechField.AGRICULTURE: [TechField.AEROSPACE, TechField.ENVIRONMENT, TechField.BIOMEDICINE],
    TechField.ENVIRONMENT: [TechField.AGRICULTURE, TechField.ENERGY],
    TechField.ENERGY: [TechField.NEW_MATERIALS, TechField.ENVIRONMENT],
    TechField.MARINE: [TechField.NEW_MATERIALS, TechField.ENERGY],
}
TITLES = ["{core}{product}{suffix}", "基于{core}的{product}{suffix}",
          "{core}在{product}中的应用", "高性能{core}{product}", "一种{core}{product}{suffix}",
          "{core}与{core2}{product}{suffix}"]
SUFFIXES = ["制备技术", "关键技术", "成套技术", "工艺", "装备", "系统", "及产业化", "平台"]
PROBLEMS = ["成本高", "寿命短", "效率低", "污染重", "精度不足", "稳定性差", "依赖进口", "能耗高"]
RESULTS = ["使综合成本降低30%以上", "使用寿命延长2倍", "生产效率提高40%", "检测准确率达到98%",
           "能耗下降25%", "关键指标达到国际先进水平", "已获授权发明专利5项"]
INDUSTRIES = ["装备制造", "石油化工", "电力", "交通运输", "食品加工", "建筑", "汽车", "农业",
              "医药", "冶金"]
PLACES = ["哈尔滨", "大庆", "齐齐哈尔", "石家庄", "唐山", "沈阳", "大连", "天津", "福州", "厦门"]


@dataclass(frozen=True)
class Listing:
    field: TechField
    title: str
    abstract: str
    keywords: list[str]


def compose(rng: random.Random) -> Listing:
    """One listing's text, mostly in its field's vocabulary, sometimes a neighbour's."""
    field = rng.choice(list(TechField))
    cores, products = TERMS[field]
    if rng.random() < 0.2:
        other_cores, other_products = TERMS[rng.choice(NEIGHBOURS[field])]
        cores, products = cores + other_cores[:3], products + other_products[:3]
    core, core2 = rng.sample(cores, 2)
    product = rng.choice(products)
    title = rng.choice(TITLES).format(core=core, core2=core2, product=product,
                                      suffix=rng.choice(SUFFIXES))
    sentences = [
        f"本成果属于{field.label}领域，针对{product}{rng.choice(PROBLEMS)}的问题，"
        f"研发了{core}{product}{rng.choice(SUFFIXES)}。",
        f"采用{core2}与{core}相结合的技术路线，{rng.choice(RESULTS)}。",
        f"已在{rng.choice(PLACES)}等地开展示范应用，{rng.choice(RESULTS)}。",
        f"可广泛应用于{rng.choice(INDUSTRIES)}、{rng.choice(INDUSTRIES)}等行业。",
    ]
    abstract = "".join(sentences[:2] + rng.sample(sentences[2:], rng.randint(0, 2)))
    keywords = list(dict.fromkeys([core, product, core2, field.label]))
    return Listing(field, title, abstract, keywords)


PROVINCES = list(PROVINCE_WEIGHTS)
PROVINCE_CUMULATIVE = list(accumulate(PROVINCE_WEIGHTS.values()))
CITIES = {province: list(cities) for province, cities in REGIONS.items()}


def region_of(rng: random.Random) -> str:
    province = rng.choices(PROVINCES, cum_weights=PROVINCE_CUMULATIVE)[0]
    if rng.random() < 0.03:
        return province
    city = rng.choice(CITIES[province])
    if city and rng.random() < 0.12:
        return city
    return rng.choice(REGIONS[province][city])


COLUMNS = ["id", "title", "abstract", "region", "seller_id", "status", "created_at",
           "updated_at", "field", "industry", "keywords", "ip_type", "trl", "transfer_mode",
           "pricing_route", "reference_price_fen", "published_at", "expires_at",
           "title_words", "keyword_words", "abstract_words"]


# Titles, keyword lists and the abstracts' sentences repeat a lot; whole abstracts rarely do.
cut = lru_cache(maxsize=200_000)(text.joined)


def cut_abstract(abstract: str) -> str:
    """``text.joined(abstract)``, one sentence at a time: the segmenter never joins words
    across a "。", so the words are the same, and each sentence is cut once (a million
    listings are segmented in seconds, not minutes)."""
    return " ".join(w for w in (cut(s + "。") for s in abstract.split("。") if s) if w)


def records(n: int, seed: int = 2260) -> list[tuple]:
    return [row for batch in batches(n, n, seed) for row in batch]


TEXTS = 100_000
"""Distinct listing texts: beyond this many listings, one is drawn from those composed (as
the same achievement is listed again, or by another holder), with attributes of its own."""
TRL_WEIGHTS = list(accumulate([1, 2, 4, 6, 8, 8, 6, 4, 2]))


def batches(n: int, size: int, seed: int = 2260) -> Iterator[list[tuple]]:
    """``n`` listings' rows, ``size`` at a time (the same rows whatever the size)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    ip_types = [t.value for t in IpType]
    routes = list(PricingRoute)
    trls = range(1, 10)
    texts: list[tuple[str, str, str, list[str], str, str, str]] = []
    span = timedelta(days=2 * 365) / max(n, 1)
    rows: list[tuple] = []
    for i in range(n):
        if rows and i % size == 0:
            yield rows
            rows = []
        if i < TEXTS:
            listing = compose(rng)
            texts.append((listing.title, listing.abstract, listing.field.value,
                          listing.keywords, cut(listing.title),
                          cut(" ".join(listing.keywords)), cut_abstract(listing.abstract)))
        title, abstract, field, keywords, title_words, keyword_words, abstract_words = (
            texts[i] if i < TEXTS else texts[rng.randrange(TEXTS)])
        # A steady flow over two years, stored as it came: the table's order is roughly
        # that of publication, as in the service, which inserts a listing when it is drafted.
        published = now - (n - i - rng.random()) * span
        route = rng.choice(routes)
        price = (None if route is PricingRoute.AUCTION and rng.random() < 0.3
                 else rng.randint(5, 2000) * 1_000_000)  # ¥50,000 … ¥20,000,000
        rows.append((
            uuid.UUID(int=rng.getrandbits(128), version=4), title, abstract,
            region_of(rng), f"seller-{rng.randint(1, 3000)}", "published",
            published - timedelta(days=7), published, field,
            rng.choice(INDUSTRIES), keywords, rng.choice(ip_types),
            rng.choices(trls, cum_weights=TRL_WEIGHTS)[0], "transfer",
            route.value, price, published, published + timedelta(days=365),
            title_words, keyword_words, abstract_words,
        ))
    if rows:
        yield rows


DEMAND_COLUMNS = ["id", "enterprise_id", "region", "title", "description", "field", "keywords",
                  "mode", "budget_fen", "min_trl", "deadline", "status", "created_at",
                  "title_words", "keyword_words", "description_words"]


def demand_records(n: int, seed: int = 130000) -> list[tuple]:
    """Open demands, for timing the matching of achievements to a demand."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = []
    for _ in range(n):
        listing = compose(rng)
        title = listing.title.replace("制备技术", "需求").replace("关键技术", "难题")
        rows.append((
            uuid.UUID(int=rng.getrandbits(128), version=4), f"enterprise-{rng.randint(1, 900)}",
            region_of(rng), title, listing.abstract, listing.field.value, listing.keywords,
            rng.choice(["open_call", "tender"]), rng.randint(10, 1000) * 1_000_000,
            rng.randint(3, 8), now + timedelta(days=rng.randint(10, 120)), "open",
            now - timedelta(days=rng.randint(0, 300)), cut(title),
            cut(" ".join(listing.keywords)), cut_abstract(listing.abstract),
        ))
    return rows


# -- the queries ---------------------------------------------------------------------------

Q = search.AchievementQuery
Make = Callable[[], Q]

LONG_QUERIES = ["基于石墨烯的海洋平台防腐涂料低成本制备工艺",
                "寒地水稻秸秆还田与黑土地保护的智能监测系统",
                "用于航空发动机叶片的钛合金激光增材制造与缺陷检测"]
DISJOINT_QUERIES = ["石墨烯 海水淡化 区块链", "大豆育种 机器视觉 氢能", "寒地水稻 钛合金 疫苗"]
BROAD_WORDS = ["石墨烯", "钛合金", "人工智能", "污水处理"]


def typical(rng: random.Random) -> dict[str, Make]:
    """The queries the exchange expects most: words with a filter or two; filters alone."""
    provinces = list(PROVINCE_WEIGHTS)
    counties = [c for p in REGIONS.values() for cs in p.values() for c in cs]
    cities = [c for p in REGIONS.values() for c in p if c]
    fields = list(TechField)
    return {
        "graphene_province": lambda: Q(q="石墨烯 防腐涂料", region=rng.choice(provinces)),
        "additive_trl": lambda: Q(q="增材制造 钛合金", trl_min=rng.randint(4, 7)),
        "satellite_field": lambda: Q(q="卫星遥感 农业",
                                     field=[TechField.AEROSPACE, TechField.AGRICULTURE]),
        "ai_price": lambda: Q(q="人工智能 机器视觉", price_min_fen=rng.randint(1, 50) * 10**6,
                              price_max_fen=rng.randint(300, 1500) * 10**6),
        "sewage_county": lambda: Q(q="污水处理", region=rng.choice(counties)),
        "filters_only": lambda: Q(region=rng.choice(cities), field=[rng.choice(fields)],
                                  trl_min=rng.randint(3, 6)),
    }


def stress(rng: random.Random) -> dict[str, Make]:
    """Queries whose cost grows with the share of listings they match, reported apart: a
    sentence that falls back to "most of the words", one frequent word with no filter (ranks
    every listing holding it), and words no listing holds together (ranks their union)."""
    return {
        "long_sentence": lambda: Q(q=rng.choice(LONG_QUERIES)),
        "broad_word": lambda: Q(q=rng.choice(BROAD_WORDS)),
        "disjoint_words": lambda: Q(q=rng.choice(DISJOINT_QUERIES)),
    }


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50), 2), "p95_ms": round(pct(values, 95), 2),
            "p99_ms": round(pct(values, 99), 2), "max_ms": round(max(values), 2)}


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def explain(pool: asyncpg.Pool, kind: str, query: Q) -> None:
    """EXPLAIN ANALYZE of each statement the search runs for ``query``."""
    captured: list[tuple[str, tuple]] = []

    class Spy:
        async def fetch(self, sql: str, *args: object) -> list:
            captured.append((sql, args))
            return await pool.fetch(sql, *args)

        async def fetchrow(self, sql: str, *args: object) -> object:
            return await pool.fetchrow(sql, *args)

    await search.search_achievements(Spy(), query)  # type: ignore[arg-type]
    for sql, args in captured:
        plan = await pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        print(f"-- {kind}: {query.q!r}\n" + "\n".join(r[0] for r in plan))


BATCH = 50_000


async def load(pool: asyncpg.Pool, listings: int, demands: int) -> tuple[float, float]:
    """Compose, segment and COPY the listings ``BATCH`` at a time: a thread composes the next
    batch while the server stores the last one (PostgreSQL computes the tsvectors on its own
    core). The achievements' indexes are built after the COPY, in one pass each, as a restore
    would, which is much faster than maintaining them row by row for a million listings.
    Returns the seconds spent composing and segmenting, and those the loading took on top."""
    started = time.perf_counter()
    segmenting = 0.0

    def compose_next(batch_iter: Iterator[list[tuple]]) -> tuple[list[tuple] | None, float]:
        began = time.perf_counter()
        rows = next(batch_iter, None)
        return rows, time.perf_counter() - began

    async with pool.acquire() as conn:
        indexes = await conn.fetch(
            """SELECT c.relname, pg_get_indexdef(i.indexrelid) AS definition
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = 'achievements'::regclass AND NOT i.indisprimary""")
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["relname"]}"')
        batch_iter = batches(listings, BATCH)
        rows, spent = await asyncio.to_thread(compose_next, batch_iter)
        segmenting += spent
        while rows is not None:
            copying = asyncio.create_task(
                conn.copy_records_to_table("achievements", records=rows, columns=COLUMNS))
            rows, spent = await asyncio.to_thread(compose_next, batch_iter)
            segmenting += spent
            await copying
        began = time.perf_counter()
        wanted = demand_records(demands)
        segmenting += time.perf_counter() - began
        await conn.copy_records_to_table("demands", records=wanted, columns=DEMAND_COLUMNS)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            await conn.execute(index["definition"])
        # The steady state autovacuum keeps: statistics, and the GIN pending list merged.
        await conn.execute("VACUUM ANALYZE achievements")
        await conn.execute("VACUUM ANALYZE demands")
    return segmenting, time.perf_counter() - started - segmenting


async def measure(pool: asyncpg.Pool, runs: int, explain_plans: bool) -> dict[str, list[float]]:
    rng = random.Random(7)
    queries = {**typical(rng), **stress(rng)}
    if explain_plans:
        for kind, make in queries.items():
            await explain(pool, kind, make())
    first = await search.search_achievements(pool, Q(q="石墨烯 防腐涂料", region="230000"))
    assert first.next_cursor, "the graphene query should fill more than one page"
    page_two = Q(q="石墨烯 防腐涂料", region="230000", cursor=first.next_cursor)
    demands = [r["id"] for r in await pool.fetch("SELECT id FROM demands ORDER BY id LIMIT 50")]
    for _ in range(3):  # warm-up: caches, prepared statements
        for make in queries.values():
            await search.search_achievements(pool, make())
    timings: dict[str, list[float]] = {k: [] for k in [*queries, "second_page", "matches"]}
    for i in range(runs):
        for kind, make in queries.items():
            query = make()
            timings[kind].append(await timed(
                lambda q=query: search.search_achievements(pool, q)))
        timings["second_page"].append(await timed(
            lambda: search.search_achievements(pool, page_two)))
        demand = demands[i % len(demands)]
        timings["matches"].append(await timed(
            lambda d=demand: matching.achievements_for_demand(pool, d)))
    for kind, make in queries.items():
        page = await search.search_achievements(pool, make())
        top = page.items[0].title if page.items else "-"
        print(f"{kind:18} {page.match.value:9} {len(page.items):3} hits; first: {top}")
    return timings


async def run(args: argparse.Namespace, stack: Stack) -> dict:
    name = f"bench_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.admin_database_url())
    await create_database(admin, name)
    await admin.close()
    url = stack.admin_database_url().rsplit("/", 1)[0] + f"/{name}"
    pool = await create_pool(url, min_size=2, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, MIGRATIONS)
        segmented, loaded = await load(pool, args.listings, args.demands)
        print(f"composed and segmented {args.listings} listings and {args.demands} demands in "
              f"{segmented:.1f} s; COPY + VACUUM ANALYZE in {loaded:.1f} s")
        timings = await measure(pool, args.runs, args.explain)
    finally:
        await pool.close()
        admin = await asyncpg.connect(stack.admin_database_url())
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    mix = [*typical(random.Random()), "second_page"]
    return {
        "bench": "search",
        "listings": args.listings,
        "demands": args.demands,
        "runs_per_kind": args.runs,
        # The typical mix: the six query kinds above and a second page.
        **summary([t for k in mix for t in timings[k]]),
        "all_searches": summary([t for k, ts in timings.items() if k != "matches" for t in ts]),
        "kinds": {k: summary(ts) for k, ts in timings.items()},
        "segment_s": round(segmented, 1),
        "load_s": round(loaded, 1),
        # How ranked searches bound their work (services/listing/store/search.py).
        "ranked_candidates": search.CANDIDATES,
        "first_window_days": search.FIRST_WINDOW.days,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listings", type=int, default=100_000)
    p.add_argument("--demands", type=int, default=5_000)
    p.add_argument("--runs", type=int, default=200, help="timed runs of each query kind")
    p.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each kind")
    args = p.parse_args()
    stack = Stack("dev")
    started = stack.up()
    try:
        figures = uvloop.run(run(args, stack))
    finally:
        if started:
            stack.down()
    rows = [*figures["kinds"].items(), ("typical mix", figures),
            ("all searches", figures["all_searches"])]
    for kind, f in rows:
        print(f"{kind:18} p50 {f['p50_ms']:7.2f} ms  p95 {f['p95_ms']:7.2f} ms  "
              f"p99 {f['p99_ms']:7.2f} ms  max {f['max_ms']:7.2f} ms")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
