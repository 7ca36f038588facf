"""The federation on one machine, end to end: Tianjin, Hebei and the national hub as
`techex up --federation` runs them (the module's `federation` fixture), each deployment on
its own Kafka cluster, databases, ports and token key.

A test reaches a deployment through ``federation.client(alias)`` (base URLs per service,
tokens of the deployment's own key) and waits with ``techex.client.eventually``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.envelope import Envelope
from shared.events.public import catalog
from shared.kafka import dlq_topic
from techex.client import ExchangeClient, eventually
from techex.crossborder import CrossBorder, flows, matrix
from techex.federated import DeploymentClient, DeploymentKey, FederationLayout, token_claims
from techex.stack.mirrormaker import read_topic
from techex.stack.stack import REPO
from tests.support.partners import mirror

SHANGHAI = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
async def clients(federation: FederationLayout):
    made = {alias: federation.client(alias) for alias in federation.aliases}
    try:
        yield made
    finally:
        for client in made.values():
            await client.aclose()


async def test_every_deployment_answers_and_the_hub_runs_no_auction_or_settlement(
        federation: FederationLayout, clients: dict[str, DeploymentClient]):
    for alias in ("tianjin", "hebei"):
        assert await clients[alias].healthy() == {
            "listing": True, "auction": True, "settlement": True, "registry": True,
            "records": True, "portal": True}
    hub = clients["national"]
    assert await hub.healthy() == {"listing": True, "registry": True, "portal": True}
    async with httpx.AsyncClient(timeout=2) as http:
        for service in ("auction", "settlement"):
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{federation.port('national', service)}/readyz")
    # Each deployment's services know their region and read their partners' mirrored topics.
    for alias, region in (("tianjin", "120000"), ("hebei", "130000"), ("national", "000000")):
        assert federation.federation(alias).region == region


async def test_a_deployment_accepts_its_own_tokens(
        federation: FederationLayout, clients: dict[str, DeploymentClient], tmp_path):
    for alias, region in (("hebei", "130000"), ("tianjin", "120000")):
        client = clients[alias]
        operator = client.as_("operator", region, f"op-{alias}")
        assert isinstance(await client.get("listing", "/review-queue", operator), list)
        seller = client.as_("seller", region, f"seller-{alias}")
        assert await client.get("listing", "/my/achievements", seller) == []
    # Without a token, or with one the deployment did not sign, it is a 401.
    hebei = clients["hebei"]
    await hebei.get("listing", "/review-queue", expect=401)
    stranger = DeploymentKey(tmp_path, "hebei")  # Hebei's issuer, another key
    forged = stranger.sign(token_claims(federation.issuer("hebei"), "op-hebei", "operator",
                                        "130000"))
    await hebei.get("listing", "/review-queue", {"Authorization": f"Bearer {forged}"},
                    expect=401)


# -- across the border -------------------------------------------------------------------------

@pytest.fixture
async def apis(federation: FederationLayout):
    """Each deployment as the exchange client the demo drives (its tokens, the shared clock)."""
    made = {alias: federation.exchange(alias) for alias in federation.aliases}
    try:
        yield made
    finally:
        for api in made.values():
            await api.aclose()


def _marker() -> str:
    return f"E2E-{uuid.uuid4().hex[:8].upper()}"


async def _search(api: ExchangeClient, marker: str, origin: str = "partners") -> list[dict]:
    r = await api.client.get(api.url("listing", "/public/achievements"),
                             params={"q": marker, "origin": origin, "limit": 50})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _found(api: ExchangeClient, listing_id: str, marker: str, what: str,
                 timeout: float = 90) -> dict:
    async def look():
        hits = [i for i in await _search(api, marker) if i["id"] == listing_id]
        assert len(hits) <= 1, hits  # never twice
        return hits[0] if hits else None
    return await eventually(look, what, timeout)


async def _gone(api: ExchangeClient, listing_id: str, marker: str, what: str) -> None:
    async def look():
        return not any(i["id"] == listing_id for i in await _search(api, marker))
    await eventually(look, what, 90)


async def test_a_tianjin_listing_is_found_in_hebei_and_at_the_hub_and_gone_once_withdrawn(
        apis: dict[str, ExchangeClient]):
    border = CrossBorder(apis["tianjin"], apis["hebei"], say=lambda _: None)
    marker = _marker()
    trade = await border.list(marker)

    in_hebei = await _found(apis["hebei"], trade.listing_id, marker, "Hebei to find it")
    assert in_hebei["origin"]["alias"] == "tianjin"
    assert in_hebei["origin"]["region"] == "120000"
    assert in_hebei["origin_url"] and trade.listing_id in in_hebei["origin_url"]
    at_hub = await _found(apis["national"], trade.listing_id, marker, "the hub to find it")
    assert at_hub["origin"]["alias"] == "tianjin"
    # Hebei's own listings are not the partner's: origin=local does not show it.
    assert not [i for i in await _search(apis["hebei"], marker, "local")
                if i["id"] == trade.listing_id]
    # Tianjin shows it as its own.
    [own] = [i for i in await _search(apis["tianjin"], marker, "local")
             if i["id"] == trade.listing_id]
    assert own["origin"]["alias"] == "tianjin"

    await apis["tianjin"].call("listing", "POST", f"/achievements/{trade.listing_id}/withdraw",
                               border.seller)
    await _gone(apis["hebei"], trade.listing_id, marker, "the withdrawal to reach Hebei")
    await _gone(apis["national"], trade.listing_id, marker, "the withdrawal to reach the hub")


async def test_a_hebei_buyer_wins_a_tianjin_auction_and_both_sides_and_the_hub_count_it(
        apis: dict[str, ExchangeClient]):
    tianjin, hebei, hub = apis["tianjin"], apis["hebei"], apis["national"]
    border = CrossBorder(tianjin, hebei, say=print)
    marker = _marker()
    trade = await border.list(marker)
    await border.found_in_partner(trade, timeout=90)
    # The year of the registration: the auction moves the clock a week on.
    year = (tianjin.now() + timedelta(days=8)).astimezone(SHANGHAI).year
    before = (await flows(tianjin, "120000", year), await flows(hebei, "130000", year),
              await matrix(hub, year))

    await border.auction(trade)
    assert trade.bidder_id == "hebei:jizhong-steel"   # Hebei's account, as Tianjin knows it
    await border.settle_and_register(trade)
    assert trade.registration_number

    def more(after: dict, was: dict, key) -> int:
        return after.get(key, 0) - was.get(key, 0)

    async def counted():
        t, h, m = (await flows(tianjin, "120000", year), await flows(hebei, "130000", year),
                   await matrix(hub, year))
        got = (more(t["outflow"], before[0]["outflow"], "130000"),
               more(h["inflow"], before[1]["inflow"], "120000"),
               more(m, before[2], ("120000", "130000")))
        assert all(n in (0, 1) for n in got), got   # never counted twice
        return got if got == (1, 1, 1) else None
    await eventually(counted, "Tianjin's outflow, Hebei's inflow and the hub's cell", 90)


async def test_mirrormaker_down_for_30_seconds_loses_and_doubles_nothing(
        federation: FederationLayout, apis: dict[str, ExchangeClient]):
    mm2 = federation.stack.deployment("hebei").mirrormaker
    border = CrossBorder(apis["tianjin"], apis["hebei"], say=lambda _: None)
    marker = _marker()
    mm2.stop()
    try:
        down_since = time.monotonic()
        trades = [await border.list(marker) for _ in range(3)]
        await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_since)))
        assert not [i for i in await _search(apis["hebei"], marker)
                    if i["id"] in {t.listing_id for t in trades}]
    finally:
        mm2.start(log=lambda _: None)
        mm2.wait_started()
    for t in trades:  # MM2 goes on from its committed offsets: all arrive, each once
        await _found(apis["hebei"], t.listing_id, marker, "the listings to catch up", 180)
    hits = [i["id"] for i in await _search(apis["hebei"], marker)]
    assert sorted(hits) == sorted(t.listing_id for t in trades)
    # The hub (its own MirrorMaker ran throughout) has them too, once.
    for t in trades:
        await _found(apis["national"], t.listing_id, marker, "the hub to have them")


async def test_a_partners_newer_event_is_read_and_an_unknown_type_is_dead_lettered(
        federation: FederationLayout, apis: dict[str, ExchangeClient]):
    tianjin = federation.stack.deployment("tianjin")
    hebei = federation.stack.deployment("hebei")
    marker = _marker()
    published = catalog.CatalogListingPublished
    example = published.model_json_schema()["examples"][0]

    def envelope(ce_type: str, data: dict, subject: str) -> Envelope:
        return Envelope(id=str(uuid.uuid4()), type=ce_type, source="/techex/tianjin/listing",
                        subject=subject, time=datetime.now(UTC), region="120104",
                        data=json.dumps(data, ensure_ascii=False).encode())

    newer_id, after_id = str(uuid.uuid4()), str(uuid.uuid4())
    v2 = {**example, **_listing_fields(newer_id, f"v2 {marker}"),
          "carbon_footprint": {"kg_co2e": 1200}}
    unknown = envelope("cn.techex.public.catalog.listing_teleported.v1",
                       {"listing_id": newer_id}, newer_id)
    after = {**example, **_listing_fields(after_id, f"after {marker}")}
    records = [envelope(published.ce_type().replace(".v1", ".v2"), v2, newer_id), unknown,
               envelope(published.ce_type(), after, after_id)]
    await mirror(tianjin.bootstrap, "techex.public.catalog", *records)  # Tianjin's own

    await _found(apis["hebei"], newer_id, marker, "the v2 event to be read")
    await _found(apis["hebei"], after_id, marker, "the event after the unknown one")

    async def dead_lettered():
        dlq = await read_topic(hebei.bootstrap, dlq_topic("tianjin.techex.public.catalog"),
                               timeout=5)
        mine = {dict(r.headers)["dlq_consumer"]: r for r in dlq
                if dict(r.headers).get("ce_id") == unknown.id.encode()}
        return mine if {b"listing", b"records"} <= mine.keys() else None
    # Both of Hebei's readers of the topic, its listing and its records, set it aside.
    dead = await eventually(dead_lettered, "the unknown type in the dead-letter topic", 90)
    assert {dict(r.headers)["dlq_reason"] for r in dead.values()} == {b"unknown-type"}


def _listing_fields(listing_id: str, title: str) -> dict:
    """What makes a catalog example another Tianjin listing: its id, title, region and page."""
    return {"listing_id": listing_id, "title": title, "region": "120104",
            "path": f"/achievements/{listing_id}",
            "expires_at": (datetime.now(UTC) + timedelta(days=3650)).isoformat()}


def test_the_federation_demo_trades_across_the_border(federation: FederationLayout):
    """`techex demo --federation`, as the README runs it, on the layout's clock."""
    env = {**os.environ, "TECHEX_CLOCK_SHIFT_FILE": str(federation.clock_file)}
    done = subprocess.run(
        [sys.executable, "-m", "techex", "demo", "--federation", "--profile", "test"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "registers with its Hebei token as hebei:jizhong-steel" in out
    assert "the search finds it, from 天津市" in out
    assert re.search(r"Tianjin → Hebei cell: [1-9]", out), out
