"""Partners' public catalogs in Tianjin's listing service (real PostgreSQL and Kafka): events
on a partner's mirrored ``hebei.<prefix>.public.catalog`` reach the local search marked with
their origin, once each, the newest revision winning; gone when withdrawn or traded there; a
newer version is read, an unknown type, a region outside the partner or a body that is not an
event is dead-lettered and the consumer goes on."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.listing.api import create_app
from services.listing.config import ListingSettings
from shared.envelope import Envelope
from shared.events.public import catalog
from shared.kafka import delete_topics, dlq_topic
from shared.settings import CommonSettings
from techex.stack.mirrormaker import read_topic
from tests.support.auction_processes import eventually
from tests.support.partners import mirror, tianjin_file
from tests.support.services import running

pytestmark = pytest.mark.timeout(240)

EXAMPLE = catalog.CatalogListingPublished.model_json_schema()["examples"][0]


@pytest.fixture
async def tianjin(common, tmp_path):
    """Tianjin's settings: Hebei and Beijing are its partners, on the test's topic prefix."""
    yield CommonSettings(kafka_bootstrap_servers=common.kafka_bootstrap_servers,
                         topic_prefix=common.topic_prefix, topic_partitions=2,
                         federation_file=tianjin_file(tmp_path, common.topic_prefix))
    for alias in ("hebei", "beijing"):
        with contextlib.suppress(Exception):
            await delete_topics(common.kafka_bootstrap_servers, f"{alias}.{common.topic_prefix}.")


def published(listing_id: str, title: str, revision: int = 1, **extra: Any) -> dict:
    """A Hebei listing's publication (the schema's example, made this listing)."""
    return {**EXAMPLE, "listing_id": listing_id, "title": title, "region": "130109",
            "revision": revision, "path": f"/achievements/{listing_id}",
            "expires_at": (datetime.now(UTC) + timedelta(days=365)).isoformat(), **extra}


def status(kind: type[catalog.Event], listing_id: str, revision: int) -> dict:
    body = {"listing_id": listing_id, "region": "130109", "revision": revision,
            "occurred_at": datetime.now(UTC).isoformat(), "path": f"/achievements/{listing_id}"}
    if kind is catalog.CatalogListingWithdrawn:
        body["reason"] = "withdrawn"
    return body


def envelope(ce_type: str, data: dict | bytes, subject: str, region: str = "130109"
             ) -> Envelope:
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return Envelope(id=str(uuid.uuid4()), type=ce_type, source="/techex/hebei/listing",
                    subject=subject, time=datetime.now(UTC), region=region, data=raw)


async def search(client, q: str, origin: str = "partners") -> list[dict]:
    r = await client.get("/public/achievements", params={"q": q, "origin": origin})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_partners_listing_is_searched_marked_and_gone_when_withdrawn(
        tianjin: CommonSettings, new_database):
    topic = f"hebei.{tianjin.topic_prefix}.public.catalog"
    marker = f"HB{uuid.uuid4().hex[:8].upper()}"
    lid, old_lid = str(uuid.uuid4()), str(uuid.uuid4())
    first = envelope(catalog.CatalogListingPublished.ce_type(),
                     published(lid, f"钢渣微粉 {marker}", revision=3), lid)
    app = create_app(ListingSettings(database_url=await new_database()), tianjin)
    async with running(app) as client:
        # Twice the same event (a redelivery) and an older revision arriving late.
        older = envelope(catalog.CatalogListingPublished.ce_type(),
                         published(lid, f"旧标题 {marker}", revision=2), lid)
        await mirror(tianjin.kafka_bootstrap_servers, topic, first, first, older)

        async def found():
            return [i for i in await search(client, marker) if i["id"] == lid] or None
        [hit] = await eventually(found, 90, "the partner's listing in the search")
        assert hit["title"] == f"钢渣微粉 {marker}"  # revision 3 holds, the late 2 does not
        assert hit["origin"] == {"alias": "hebei", "region": "130000", "name": "河北省"}
        assert hit["origin_url"] == f"https://techex.hebei.example/achievements/{lid}"
        # Not the deployment's own: origin=local leaves it out, all has it once.
        assert not [i for i in await search(client, marker, "local") if i["id"] == lid]
        assert [i["id"] for i in await search(client, marker, "all")].count(lid) == 1
        hebei_only = await client.get("/public/achievements",
                                      params={"q": marker, "province": "130000",
                                              "origin": "all"})
        assert [i["id"] for i in hebei_only.json()["items"]] == [lid]

        # Withdrawn there, gone here; an old publication after it does not bring it back.
        withdrawn = envelope(catalog.CatalogListingWithdrawn.ce_type(),
                             status(catalog.CatalogListingWithdrawn, lid, 4), lid)
        again = envelope(catalog.CatalogListingPublished.ce_type(),
                         published(old_lid, f"另一项 {marker}"), old_lid)
        await mirror(tianjin.kafka_bootstrap_servers, topic, withdrawn, older, again)

        async def settled():
            ids = {i["id"] for i in await search(client, marker)}
            return ids == {old_lid}  # the two listings' events are on their own partitions
        await eventually(settled, 90, "the withdrawal, and the other listing")
        # Traded there: gone as well.
        traded = envelope(catalog.CatalogListingTraded.ce_type(),
                          status(catalog.CatalogListingTraded, old_lid, 2), old_lid)
        await mirror(tianjin.kafka_bootstrap_servers, topic, traded)

        async def gone():
            return not await search(client, marker)
        await eventually(gone, 90, "the traded listing to leave the search")


async def test_a_newer_version_is_read_and_bad_events_are_dead_lettered(
        tianjin: CommonSettings, new_database):
    topic = f"hebei.{tianjin.topic_prefix}.public.catalog"
    marker = f"HB{uuid.uuid4().hex[:8].upper()}"
    v2_id, beijing_id, after_id = (str(uuid.uuid4()) for _ in range(3))
    v2 = envelope(catalog.CatalogListingPublished.ce_type().replace(".v1", ".v2"),
                  published(v2_id, f"v2 {marker}", carbon_footprint={"kg_co2e": 1200}), v2_id)
    unknown = envelope("cn.techex.public.catalog.listing_teleported.v1",
                       {"listing_id": v2_id}, v2_id)
    # Hebei's topic speaking of a Beijing listing: not Hebei's to say.
    foreign = envelope(catalog.CatalogListingPublished.ce_type(),
                       {**published(beijing_id, f"京 {marker}"), "region": "110108"},
                       beijing_id, region="110108")
    not_json = envelope(catalog.CatalogListingPublished.ce_type(), b"{not json", after_id)
    after = envelope(catalog.CatalogListingPublished.ce_type(),
                     published(after_id, f"after {marker}"), after_id)
    app = create_app(ListingSettings(database_url=await new_database()), tianjin)
    async with running(app) as client:
        await mirror(tianjin.kafka_bootstrap_servers, topic, v2, unknown, foreign, not_json,
                     after)

        async def both():
            ids = {i["id"] for i in await search(client, marker)}
            return ids if after_id in ids else None
        assert await eventually(both, 90, "the v2 event and the one after the bad ones") == {
            v2_id, after_id}

        async def dead() -> dict[bytes, bytes] | None:
            records = await read_topic(tianjin.kafka_bootstrap_servers, dlq_topic(topic),
                                       timeout=5)
            reasons = {dict(r.headers).get("ce_id"): dict(r.headers).get("dlq_reason")
                       for r in records}
            wanted = {e.id.encode() for e in (unknown, foreign, not_json)}
            return reasons if wanted <= set(reasons) else None
        reasons = await eventually(dead, 90, "the bad events in the dead-letter topic")
        assert reasons[unknown.id.encode()] == b"unknown-type"
        assert reasons[foreign.id.encode()] == b"foreign-region"
        assert reasons[not_json.id.encode()] not in (None, b"unknown-type", b"foreign-region")
