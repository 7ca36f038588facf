"""Propagation across the federation, through the services: from an achievement published in
Tianjin to Hebei's search finding it, and from a contract registered in Tianjin to the
national hub's statistics counting it.

Runs on the layout of `techex up --federation` (used as it is when its services answer, else
brought up and stopped afterwards). Each event is made through Tianjin's HTTP API, and its
arrival is watched through Hebei's or the hub's, so the figures include the outbox relay,
MirrorMaker 2, the consumer's inbox and the read model.

    .venv/bin/python bench/federation.py [--events 200] [--rate 4] [--profile dev]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from techex.federated import DeploymentClient, FederationLayout
from techex.stack.stack import run_sync

SELLER_REGION = "120101"    # 天津市和平区
TIANJIN = "120000"
HEBEI = "130000"
BUYER_REGION = "130102"     # 石家庄市长安区
SHANGHAI = ZoneInfo("Asia/Shanghai")
POLL = 0.05
TIMEOUT = 60.0


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


# -- the steps ------------------------------------------------------------------------------

def achievement(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "abstract": "以少层石墨烯为填料的水性环氧防腐涂料，耐盐雾超过3000小时，"
                    "适用于海洋工程钢结构。",
        "region": SELLER_REGION, "field": "new_materials", "industry": "涂料制造",
        "keywords": ["石墨烯", "防腐涂料"], "ip_type": "patent_invention",
        "ip_numbers": ["ZL201510012345.3"], "trl": 6,
        "holders": [{"name": "南开大学", "kind": "university"}], "inventors": ["张伟"],
        "transfer_mode": "transfer", "pricing_route": "negotiated",
        "reference_price_fen": 150_000_000,
    }


async def publish_in(tianjin: DeploymentClient, title: str) -> str:
    """An achievement published in Tianjin (filed, submitted, reviewed, approved); its id."""
    seller = tianjin.as_("seller", SELLER_REGION, "nankai")
    operator = tianjin.as_("operator", TIANJIN, "tianjin-exchange")
    aid = (await tianjin.post("listing", "/achievements", achievement(title), seller))["id"]
    await tianjin.post("listing", f"/achievements/{aid}/submit", None, seller, expect=200)
    await tianjin.post("listing", f"/achievements/{aid}/review", None, operator, expect=200)
    await tianjin.post("listing", f"/achievements/{aid}/approve", None, operator, expect=200)
    return aid


async def found_in(hebei: DeploymentClient, title: str, who: Mapping[str, str]) -> bool:
    """Whether Hebei's search finds the partners' achievement of that title."""
    r = await hebei.request("listing", "GET", "/search/achievements", who,
                            params={"origin": "partners", "q": title})
    if r.status_code == 429:  # the account's search rate: look again later
        return False
    if r.status_code != 200:
        raise AssertionError(f"Hebei's search: {r.status_code} {r.text[:500]}")
    return any(hit.get("title") == title for hit in r.json().get("items", []))


def contract(project: str) -> dict[str, Any]:
    def party(role: str, region: str, kind: str) -> dict[str, Any]:
        return {"role": role, "name": f"{role}-{region}", "country": "CN", "region": region,
                "entity_type": kind}

    return {
        "category": "transfer", "subtype": "patent", "project_name": project,
        "signed_on": "2026-03-30", "valid_from": "2026-04-01", "valid_until": "2028-03-31",
        "total_amount_fen": 200_000_000, "tech_amount_fen": 186_000_000,
        "tech_field": "new_materials",
        "parties": [party("seller", SELLER_REGION, "university"),
                    party("buyer", BUYER_REGION, "enterprise")],
        "ip": {"ip_type": "patent_invention", "name": "一种石墨烯防腐涂料",
               "numbers": ["ZL201510012345.3"]},
        "expected_investment_fen": 500_000_000, "expected_output_fen": 2_000_000_000,
    }


async def register_in(tianjin: DeploymentClient, project: str) -> str:
    """A contract of a Tianjin seller and a Hebei buyer, filed and registered in Tianjin."""
    seller = tianjin.as_("seller", SELLER_REGION, "nankai")
    registrar = tianjin.as_("registrar", TIANJIN, "registrar-12")
    cid = (await tianjin.post("registry", "/contracts", contract(project), seller))["id"]
    await tianjin.post("registry", f"/contracts/{cid}/registration", None, registrar, expect=200)
    return cid


async def counted_in(hub: DeploymentClient, who: Mapping[str, str]) -> int:
    """The contracts of Tianjin sellers with Hebei buyers the hub's matrix counts this year."""
    year = datetime.now(UTC).astimezone(SHANGHAI).year
    matrix = await hub.get("registry", "/statistics/matrix", who, params={"year": year})
    return sum(c["contracts"] for c in matrix["cells"]
               if (c["seller_province"], c["buyer_province"]) == (TIANJIN, HEBEI))


# -- the measurements ------------------------------------------------------------------------

async def catalog(tianjin: DeploymentClient, hebei: DeploymentClient, events: int,
                  rate: float) -> tuple[list[float], int]:
    tag = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    missing = 0

    async def one(i: int) -> None:
        nonlocal missing
        title = f"联邦传播测试{tag}第{i}项"
        who = hebei.as_("buyer", BUYER_REGION, f"bench-{tag}-{i}")  # a search bucket each
        await publish_in(tianjin, title)
        published = time.perf_counter()
        while time.perf_counter() - published < TIMEOUT:
            if await found_in(hebei, title, who):
                latencies.append((time.perf_counter() - published) * 1000)
                return
            await asyncio.sleep(POLL)
        missing += 1

    await _paced(one, events, rate)
    return latencies, missing


async def contracts(tianjin: DeploymentClient, hub: DeploymentClient, events: int,
                    rate: float) -> tuple[list[float], int]:
    who = hub.as_("regulator", None, "bench-regulator")
    baseline = await counted_in(hub, who)
    registered: list[float] = []
    seen: list[float] = []
    done = asyncio.Event()

    async def watch() -> None:
        started = time.perf_counter()
        while len(seen) < events and time.perf_counter() - started < TIMEOUT + events / rate:
            counted = await counted_in(hub, who) - baseline
            now = time.perf_counter()
            while len(seen) < min(counted, len(registered)):
                seen.append(now)  # the hub counts; which contract is the count's, not known
            if done.is_set() and len(seen) >= len(registered):
                return
            await asyncio.sleep(POLL)

    async def one(i: int) -> None:
        await register_in(tianjin, f"联邦统计测试{uuid.uuid4().hex[:6]}{i}")
        registered.append(time.perf_counter())

    watcher = asyncio.create_task(watch())
    await _paced(one, events, rate)
    done.set()
    await watcher
    registered.sort()
    latencies = [(s - r) * 1000 for r, s in zip(registered, seen, strict=False)]
    return latencies, events - len(seen)


async def _paced(one, events: int, rate: float) -> None:
    tasks = []
    for i in range(events):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)


async def run(layout: FederationLayout, args: argparse.Namespace) -> dict[str, Any]:
    tianjin, hebei, hub = (layout.client(a) for a in ("tianjin", "hebei", "national"))
    out: dict[str, Any] = {"events": args.events, "rate_per_s": args.rate}
    try:
        for name, measure, reader in (("catalog", catalog, hebei),
                                      ("contracts", contracts, hub)):
            if name not in args.only:
                continue
            try:
                latencies, missing = await measure(tianjin, reader, args.events, args.rate)
            except AssertionError as exc:  # a call refused: said, and the other measured
                print(f"{name}: {exc}", file=sys.stderr, flush=True)
                out[f"{name}_error"] = str(exc)[:300]
                continue
            out |= {f"{name}_p50_ms": _round(pct(latencies, 50)),
                    f"{name}_p99_ms": _round(pct(latencies, 99)),
                    f"{name}_max_ms": _round(max(latencies, default=None)),
                    f"{name}_missing": missing}
            print(f"{name}: {len(latencies)} arrived, p50 {out[f'{name}_p50_ms']} ms, "
                  f"p99 {out[f'{name}_p99_ms']} ms, {missing} not within {TIMEOUT:.0f} s",
                  flush=True)
    finally:
        for client in (tianjin, hebei, hub):
            await client.aclose()
    return out


async def _answering(layout: FederationLayout) -> bool:
    """Whether every process of the layout answers already."""
    for alias in layout.aliases:
        async with layout.client(alias) as client:
            if not all((await client.healthy()).values()):
                return False
    return True


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200, help="events of each kind (default 200)")
    p.add_argument("--rate", type=float, default=4.0, help="events made per second")
    p.add_argument("--profile", choices=["dev", "test"], default="dev")
    p.add_argument("--only", nargs="+", choices=["catalog", "contracts"],
                   default=["catalog", "contracts"])
    args = p.parse_args()
    layout = FederationLayout(args.profile)
    running = run_sync(_answering(layout))
    started = False
    if not running:
        print("Bringing up the federation (`techex up --federation` is not running)…",
              flush=True)
        started = layout.up()
        layout.start()
    try:
        result = run_sync(run(layout, args))
    finally:
        if not running:
            layout.stop()
            if started:
                layout.down()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
