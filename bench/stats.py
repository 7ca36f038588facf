"""Latency of the regional statistics over 1,000,000 registered technology contracts.

Loads synthetic registered contracts (sellers and buyers over real county codes of 黑龙江,
河北, 辽宁, 天津 and 福建, some buyers abroad; five categories, nine technology fields, four
entity types, IP types; registered over 2024–2026) straight into a throw-away database of
the test stack with COPY, then builds the rollups with ``services.registry.store.rollups.rebuild``
— the bulk form of the rules the registering transaction applies one contract at a time (the
tests check both give the same rows). Then it starts the registry service as its own process
(one uvicorn worker, as `techex serve registry`) and times statistics queries through the
real HTTP API, each kind many times from a few concurrent clients:

  province / city / county totals with their children, a month, a breakdown by category,
  field, flow (inflow / outflow), entity type, the 12 months of a year, and the CSV export.

    .venv/bin/python bench/stats.py [--contracts 1000000] [--runs 200] [--clients 4]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import uvloop

from services.registry.api import MIGRATIONS as REGISTRY_MIGRATIONS
from services.registry.store import rollups
from shared.auth import Role, mint_token
from shared.db import migrate
from shared.kafka import delete_topics
from shared.settings import CommonSettings
from techex.stack.stack import Stack, create_database

SHANGHAI = ZoneInfo("Asia/Shanghai")
COUNTIES = {  # province → city → counties (Tianjin's districts sit under the province)
    "230000": {"230100": ["230102", "230103", "230104", "230108", "230109", "230110"],
               "230200": ["230202", "230203", "230204"], "230600": ["230602", "230603"],
               "231000": ["231002", "231003"]},
    "130000": {"130100": ["130102", "130104", "130105"], "130200": ["130202", "130203"],
               "130600": ["130602", "130606"]},
    "210000": {"210100": ["210102", "210103", "210104"], "210200": ["210202", "210203",
                                                                    "210211"]},
    "120000": {"": ["120101", "120102", "120103", "120104", "120116"]},
    "350000": {"350100": ["350102", "350103", "350104"], "350200": ["350203", "350205"]},
}
PROVINCE_WEIGHTS = {"230000": 4, "130000": 2, "210000": 2, "120000": 1, "350000": 1}
CATEGORIES = {"development": (4, ["commissioned", "cooperative"]),
              "transfer": (2, ["patent", "patent_application", "trade_secret"]),
              "licence": (1, ["exclusive", "sole", "ordinary"]),
              "consulting": (1, ["consulting"]), "service": (3, ["service", "training"])}
FIELDS = ["new_materials", "advanced_manufacturing", "information", "aerospace",
          "biomedicine", "agriculture", "environment", "energy", "marine"]
ENTITIES = ["enterprise", "enterprise", "enterprise", "university", "institute", "other"]
IP_TYPES = ["patent_invention", "patent_utility", "software_copyright", "trade_secret", "none"]
COLUMNS = ["id", "seller_id", "region", "status", "terms", "registration_number",
           "registrar_region", "registrar_code", "registered_at", "created_at", "updated_at",
           "stat_year", "stat_month", "buyer_region", "category", "tech_field", "entity_type",
           "ip_type", "cross_border", "tech_amount_fen"]


def counties() -> tuple[list[str], list[float]]:
    codes, weights = [], []
    for province, cities in COUNTIES.items():
        n = sum(len(c) for c in cities.values())
        for county_list in cities.values():
            for code in county_list:
                codes.append(code)
                weights.append(PROVINCE_WEIGHTS[province] / n)
    return codes, weights


def contracts(n: int, seed: int = 2026):
    """Rows of registered contracts, numbered gap-free per registrar (one per city) and year."""
    rnd = random.Random(seed)
    codes, weights = counties()
    cats = list(CATEGORIES)
    cat_weights = [CATEGORIES[c][0] for c in cats]
    start = datetime(2024, 1, 1, tzinfo=SHANGHAI)
    span = (datetime(2026, 12, 31, tzinfo=SHANGHAI) - start).total_seconds()
    sequences: dict[tuple[int, str], int] = {}
    sellers = rnd.choices(codes, weights, k=n)
    buyers = rnd.choices(codes, weights, k=n)
    for i in range(n):
        seller = sellers[i]
        roll = rnd.random()
        buyer = None if roll < 0.04 else seller if roll < 0.25 else buyers[i]
        category = rnd.choices(cats, cat_weights)[0]
        subtype = rnd.choice(CATEGORIES[category][1])
        at = start + timedelta(seconds=rnd.random() * span)
        local = at.astimezone(SHANGHAI)
        registrar = seller[:4] + "00" if seller[:2] != "12" else "120000"
        key = (local.year, registrar)
        sequences[key] = seq = sequences.get(key, 0) + 1
        tech = rnd.randrange(50_000, 20_000_000) * 100
        total = tech + rnd.choice([0, 0, tech // 10])
        field_ = rnd.choice(FIELDS)
        ip_type = "none" if category in ("consulting", "service") else rnd.choice(IP_TYPES)
        terms = {"category": category, "subtype": subtype, "project_name": f"技术合同 {i}",
                 "total_amount_fen": total, "tech_amount_fen": tech, "tech_field": field_}
        code, number = (seq - 1) // 9999 + 1, (seq - 1) % 9999 + 1  # a city has registrars
        yield (uuid.UUID(int=rnd.getrandbits(128), version=4), f"seller-{seller}-{i % 97}",
               seller, "registered", json.dumps(terms, ensure_ascii=False),
               f"{local.year}{registrar}{code:02d}{number:04d}",
               registrar, code, at, at, at, local.year, local.month, buyer, category, field_,
               rnd.choice(ENTITIES), ip_type, buyer is None, tech)


async def load(conn: asyncpg.Connection, n: int) -> dict:
    started = time.perf_counter()
    batch: list[tuple] = []
    for row in contracts(n):
        batch.append(row)
        if len(batch) == 50_000:
            await conn.copy_records_to_table("contracts", records=batch, columns=COLUMNS)
            batch.clear()
    if batch:
        await conn.copy_records_to_table("contracts", records=batch, columns=COLUMNS)
    loaded = time.perf_counter()
    await rollups.rebuild(conn)
    rebuilt = time.perf_counter()
    await conn.execute("VACUUM ANALYZE contract_stats")
    await conn.execute("VACUUM ANALYZE contracts")
    return {"load_s": round(loaded - started, 1), "rollup_rebuild_s": round(rebuilt - loaded, 1),
            "rollup_rows": await conn.fetchval("SELECT count(*) FROM contract_stats")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(client: httpx.AsyncClient, proc: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise RuntimeError("the registry service exited while starting")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the registry service did not become ready")


def pct(values: list[float], p: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000, 2)


def kinds(rnd: random.Random) -> dict:
    """Each query kind: a function giving the next (path, params)."""
    provinces = list(COUNTIES)
    cities = [c for p in COUNTIES.values() for c in p if c]
    all_counties = [c for p in COUNTIES.values() for cs in p.values() for c in cs]
    year = lambda: rnd.choice([2024, 2025, 2026])  # noqa: E731
    return {
        "province_by_region": lambda: ("/statistics", {"region": rnd.choice(provinces),
                                                       "year": year()}),
        "city_by_region_month": lambda: ("/statistics", {"region": rnd.choice(cities),
                                                         "year": year(),
                                                         "month": rnd.randint(1, 12)}),
        "county_by_flow": lambda: ("/statistics", {"region": rnd.choice(all_counties),
                                                   "year": year(), "by": "flow"}),
        "province_by_category": lambda: ("/statistics", {"region": rnd.choice(provinces),
                                                         "year": year(), "by": "category"}),
        "city_by_field": lambda: ("/statistics", {"region": rnd.choice(cities),
                                                  "year": year(), "by": "field"}),
        "province_by_month": lambda: ("/statistics", {"region": rnd.choice(provinces),
                                                      "year": year(), "by": "month"}),
        "city_by_entity_type": lambda: ("/statistics", {"region": rnd.choice(cities),
                                                        "year": year(),
                                                        "by": "entity_type"}),
        "csv_province_by_region": lambda: ("/statistics.csv", {
            "region": rnd.choice(provinces), "year": year()}),
    }


async def time_kind(client: httpx.AsyncClient, make, runs: int, clients: int,
                    token: str) -> list[float]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}

    async def one_client(count: int) -> None:
        for _ in range(count):
            path, params = make()
            t0 = time.perf_counter()
            r = await client.get(path, params=params, headers=headers)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise RuntimeError(f"{path} {params}: {r.status_code} {r.text[:200]}")

    await asyncio.gather(*(one_client(runs // clients) for _ in range(clients)))
    return latencies


async def run(args: argparse.Namespace, stack: Stack) -> dict:
    tag = uuid.uuid4().hex[:8]
    name = f"bench_stats_{tag}"
    admin = await asyncpg.connect(stack.admin_database_url())
    await create_database(admin, name)
    await admin.close()
    url = stack.admin_database_url().rsplit("/", 1)[0] + f"/{name}"
    common = CommonSettings(kafka_bootstrap_servers=stack.bootstrap)
    figures: dict = {"bench": "stats", "contracts": args.contracts, "runs": args.runs,
                     "clients": args.clients}
    proc = None
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn, *REGISTRY_MIGRATIONS)
            figures |= await load(conn, args.contracts)
            # The rollups agree with the contracts: the province totals add up to all of them.
            provinces = await conn.fetchval(
                "SELECT sum(contracts) FROM contract_stats WHERE parent IS NULL AND month = 0"
                " AND dimension = 'total'")
            figures["rollup_total_matches"] = provinces == args.contracts
        finally:
            await conn.close()
        port = free_port()
        env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_PORT": str(port),
               "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
               "TECHEX_TOPIC_PREFIX": f"bench{tag}", "TECHEX_LOG_LEVEL": "WARNING",
               "TECHEX_DEVELOPMENT": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "techex", "serve", "registry", "--port", str(port), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        # An admin reads all five provinces (a regulator's token would see its own only).
        token = mint_token(common, "ops", Role.ADMIN, "230000")
        limits = httpx.Limits(max_connections=args.clients)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=30) as client:
            await wait_ready(client, proc)
            rnd = random.Random(7)
            all_latencies: list[float] = []
            for kind, make in kinds(rnd).items():
                await time_kind(client, make, args.clients * 5, args.clients, token)
                lat = await time_kind(client, make, args.runs, args.clients, token)
                all_latencies += lat
                figures[f"{kind}_p50_ms"] = pct(lat, 50)
                figures[f"{kind}_p95_ms"] = pct(lat, 95)
            figures["all_p50_ms"] = pct(all_latencies, 50)
            figures["all_p95_ms"] = pct(all_latencies, 95)
            figures["all_p99_ms"] = pct(all_latencies, 99)
    finally:
        if proc is not None:
            proc.terminate()
            await proc.wait()
        admin = await asyncpg.connect(stack.admin_database_url())
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await delete_topics(stack.bootstrap, f"bench{tag}.")
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contracts", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=200, help="requests per query kind")
    p.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    p.add_argument("--stack", default="test", help="the stack to run on (test or dev)")
    args = p.parse_args()
    stack = Stack(args.stack)
    started = stack.up()
    try:
        figures = uvloop.run(run(args, stack))
    finally:
        if started:
            stack.down()
    print(f"loaded {figures['contracts']:,} contracts in {figures['load_s']} s (COPY), "
          f"rollups rebuilt in {figures['rollup_rebuild_s']} s "
          f"({figures['rollup_rows']:,} rows; totals match: {figures['rollup_total_matches']})")
    for kind in kinds(random.Random()):
        print(f"{kind:24} p50 {figures[kind + '_p50_ms']:7} ms   "
              f"p95 {figures[kind + '_p95_ms']:7} ms")
    print(f"{'all':24} p50 {figures['all_p50_ms']:7} ms   p95 {figures['all_p95_ms']:7} ms   "
          f"p99 {figures['all_p99_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
