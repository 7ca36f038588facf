"""Partners' contract summaries in Tianjin's registry (real PostgreSQL and Kafka): summaries on
the partners' mirrored ``<alias>.<prefix>.public.contracts`` become Tianjin's cross-province
inflow, each contract once even when two partners bring it, at its latest revision (an
amendment's figures, a cancellation out of every count); an inconsistent summary and a
province speaking for another are dead-lettered and the consumer goes on. The national hub
counts every province's summaries in its statistics and matrix and registers nothing."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.registry.api import create_app
from services.registry.config import RegistrySettings
from shared.auth import Role
from shared.envelope import Envelope
from shared.events.public.contracts import (
    PublicContractAmended,
    PublicContractCancelled,
    PublicContractRegistered,
    contract_key,
    province_flow,
)
from shared.kafka import delete_topics, dlq_topic
from shared.settings import CommonSettings
from techex.stack.mirrormaker import read_topic
from tests.support.auction_processes import eventually
from tests.support.partners import mirror
from tests.support.services import bearer, running

pytestmark = pytest.mark.timeout(240)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PARTNERS = (("hebei", "河北省", "130000"), ("beijing", "北京市", "110000"),
            ("national", "全国技术转移网络", "000000"))


def deployment_file(tmp_path: Path, prefix: str, alias: str, name: str, region: str,
                    partners=PARTNERS) -> Path:
    listed = [{"alias": a, "name": n, "region": r, "national_hub": r == "000000",
               "bootstrap_servers": [f"kafka.{a}.example:9094"], "topic_prefix": prefix}
              for a, n, r in partners if a != alias]
    path = tmp_path / f"{alias}.json"
    path.write_text(json.dumps({"alias": alias, "name": name, "region": region,
                                "national_hub": region == "000000", "topic_prefix": prefix,
                                "partners": listed}, ensure_ascii=False))
    return path


@pytest.fixture
async def settings_of(common, tmp_path):
    """``settings_of(alias, name, region)``: a deployment's settings on the test's topics."""
    def make(alias: str, name: str, region: str) -> CommonSettings:
        return CommonSettings(
            kafka_bootstrap_servers=common.kafka_bootstrap_servers,
            topic_prefix=common.topic_prefix, topic_partitions=2, region=region,
            federation_file=deployment_file(tmp_path, common.topic_prefix, alias, name, region))
    yield make
    for alias, _, _ in (*PARTNERS, ("tianjin", "", "")):
        with contextlib.suppress(Exception):
            await delete_topics(common.kafka_bootstrap_servers, f"{alias}.{common.topic_prefix}.")


def today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def summary(kind: type, origin: str, seq: int, seller: str, buyer: str | None, *,
            revision: int = 1, tech_fen: int = 1_000_000, **extra: Any) -> dict:
    number = f"{today().year}{origin[:2]}0000{1:02d}{seq:04d}"
    stamp = {PublicContractRegistered: "registered_at", PublicContractAmended: "amended_at",
             PublicContractCancelled: "cancelled_at"}[kind]
    return {"contract_key": contract_key(origin, number), "origin": origin,
            "registration_number": number, "revision": revision, "region": seller,
            "seller_region": seller, "buyer_region": buyer, "cross_border": buyer is None,
            "registered_on": today().isoformat(), "category": "transfer",
            "tech_field": "new_materials", "total_amount_fen": tech_fen,
            "tech_amount_fen": tech_fen, "flow": province_flow(seller, buyer),
            stamp: datetime.now(UTC).isoformat(), **extra}


def envelope(kind: type, data: dict) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type=kind.ce_type(), source="/techex/registry",
                    subject=data["contract_key"], time=datetime.now(UTC),
                    region=data["seller_region"],
                    data=json.dumps(data, ensure_ascii=False).encode())


async def flows(client, common: CommonSettings, region: str) -> dict:
    who = bearer(common, Role.REGULATOR, region)
    r = await client.get("/statistics", params={"region": region, "year": today().year},
                         headers=who)
    assert r.status_code == 200, r.text
    found = r.json()["cross_province"]
    return {d: {row["region"]: (row["contracts"], row["amount_fen"]) for row in found[d]}
            for d in ("inflow", "outflow")}


async def test_partners_summaries_count_once_at_their_latest_revision(settings_of,
                                                                      new_database):
    tianjin = settings_of("tianjin", "天津市", "120000")
    p = tianjin.topic_prefix
    hebei_sale = summary(PublicContractRegistered, "130000", 1, "130109", "120104",
                         tech_fen=3_000_000)
    amended = summary(PublicContractAmended, "110000", 2, "110108", "120101", revision=2,
                      tech_fen=5_000_000)
    first = summary(PublicContractRegistered, "110000", 2, "110108", "120101",
                    tech_fen=4_000_000)
    gone = summary(PublicContractRegistered, "110000", 3, "110108", "120116")
    cancelled = summary(PublicContractCancelled, "110000", 3, "110108", "120116", revision=2)
    within_hebei = summary(PublicContractRegistered, "130000", 4, "130109", "130102")
    wrong_key = {**summary(PublicContractRegistered, "130000", 5, "130109", "120101"),
                 "contract_key": contract_key("130000", "2020130000019999")}
    beijing_on_hebei = summary(PublicContractRegistered, "110000", 6, "110108", "120101")
    bad = [envelope(PublicContractRegistered, wrong_key),
           envelope(PublicContractRegistered, beijing_on_hebei)]
    app = create_app(RegistrySettings(database_url=await new_database()), tianjin)
    async with running(app) as client:
        await mirror(tianjin.kafka_bootstrap_servers, f"hebei.{p}.public.contracts",
                     envelope(PublicContractRegistered, hebei_sale), *bad,
                     envelope(PublicContractRegistered, within_hebei))
        # The hub brings Hebei's contract again (it mirrors every province): counted once.
        await mirror(tianjin.kafka_bootstrap_servers, f"national.{p}.public.contracts",
                     envelope(PublicContractRegistered, hebei_sale))
        await mirror(tianjin.kafka_bootstrap_servers, f"beijing.{p}.public.contracts",
                     envelope(PublicContractAmended, amended),
                     envelope(PublicContractRegistered, first),  # older, arriving late
                     envelope(PublicContractRegistered, gone),
                     envelope(PublicContractCancelled, cancelled))
        want = {"130000": (1, 3_000_000), "110000": (1, 5_000_000)}

        async def counted():
            got = await flows(client, tianjin, "120000")
            assert all(n <= 1 for n, _ in got["inflow"].values()), got  # never twice
            return got if got["inflow"] == want else None
        got = await eventually(counted, 90, "Tianjin's inflow from Hebei and Beijing")
        assert got["outflow"] == {}
        # A district sees its own share: 南开区 120104 took in Hebei's contract only.
        assert (await flows(client, tianjin, "120104"))["inflow"] == {"130000": (1, 3_000_000)}

        async def dead():
            records = await read_topic(tianjin.kafka_bootstrap_servers,
                                       dlq_topic(f"hebei.{p}.public.contracts"), timeout=5)
            reasons = {dict(r.headers).get("ce_id"): dict(r.headers)["dlq_reason"]
                       for r in records}
            return reasons if {e.id.encode() for e in bad} <= set(reasons) else None
        reasons = await eventually(dead, 90, "the bad summaries in the dead-letter topic")
        assert reasons[bad[0].id.encode()] == b"handler-failed"    # its key is not its number
        assert reasons[bad[1].id.encode()] == b"foreign-region"    # Hebei speaking for Beijing
        # The figures still hold once the consumer went on past them.
        assert (await flows(client, tianjin, "120000"))["inflow"] == want


async def test_the_national_hub_counts_every_province_and_registers_nothing(settings_of,
                                                                           new_database):
    hub = settings_of("national", "全国技术转移网络", "000000")
    p = hub.topic_prefix
    sales = [summary(PublicContractRegistered, "130000", 1, "130109", "120104", tech_fen=100),
             summary(PublicContractRegistered, "130000", 2, "130109", "120101", tech_fen=200),
             summary(PublicContractRegistered, "110000", 3, "110108", "130102", tech_fen=400),
             summary(PublicContractRegistered, "110000", 4, "110108", "110105", tech_fen=800),
             summary(PublicContractRegistered, "110000", 5, "110108", None, tech_fen=1600)]
    app = create_app(RegistrySettings(database_url=await new_database()), hub)
    async with running(app) as client:
        await mirror(hub.kafka_bootstrap_servers, f"hebei.{p}.public.contracts",
                     *(envelope(PublicContractRegistered, s) for s in sales[:2]))
        await mirror(hub.kafka_bootstrap_servers, f"beijing.{p}.public.contracts",
                     *(envelope(PublicContractRegistered, s) for s in sales[2:]))
        reader = bearer(hub, Role.REGULATOR, "110000", "national-regulator")
        year = today().year

        async def matrix():
            r = await client.get("/statistics/matrix", params={"year": year}, headers=reader)
            assert r.status_code == 200, r.text
            cells = {(c["seller_province"], c["buyer_province"]): (c["contracts"],
                                                                   c["amount_fen"])
                     for c in r.json()["cells"]}
            return cells if sum(n for n, _ in cells.values()) >= 4 else None
        async def national():
            r = await client.get("/statistics/national", params={"year": year},
                                 headers=reader)
            assert r.status_code == 200, r.text
            return r.json() if r.json()["contracts"] >= 5 else None

        # All five first (the one abroad has no cell, so a full matrix does not mean all five
        # arrived: the two topics are consumed side by side).
        body = await eventually(national, 90, "the hub's national figures")
        assert (body["contracts"], body["tech_amount_fen"]) == (5, 3100)
        cells = await eventually(matrix, 10, "the hub's matrix")
        assert cells == {("130000", "120000"): (2, 300), ("110000", "130000"): (1, 400),
                         ("110000", "110000"): (1, 800)}   # the buyer abroad has no cell
        by_province = {r["key"]: (r["contracts"], r["tech_amount_fen"])
                       for r in body["by_province"]}
        assert by_province == {"130000": (2, 300), "110000": (3, 2800)}
        # The hub files and decides nothing.
        seller = bearer(hub, Role.SELLER, "110108")
        refused = await client.post("/contracts", json={}, headers=seller)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("registry-national-hub")


async def test_a_province_has_no_national_figures(settings_of, new_database):
    tianjin = settings_of("tianjin", "天津市", "120000")
    app = create_app(RegistrySettings(database_url=await new_database()), tianjin)
    async with running(app) as client:
        reader = bearer(tianjin, Role.REGULATOR, "120000")
        r = await client.get("/statistics/matrix", params={"year": today().year},
                             headers=reader)
        assert r.status_code == 404, r.text
        assert r.json()["type"].endswith("registry-not-the-national-hub")
