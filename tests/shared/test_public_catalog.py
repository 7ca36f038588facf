"""The public catalog's events (``techex.public.catalog``): only public fields, the standard's
codes, a partner one version ahead read as the version known here, its own AsyncAPI document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.auction.schemas import Route
from services.listing.domain.achievement import PricingRoute, TransferMode
from services.listing.domain.fields import TechField
from services.listing.domain.ip import IpType
from shared.envelope import Envelope
from shared.events import UnknownEventType, decode, examples_of, readable_type
from shared.events.public import catalog
from shared.events.schema import PUBLIC_ASYNCAPI_FILE, write_schemas
from tests.services.test_public_views import ALLOWED, NEVER

PUBLIC_EVENTS = [catalog.CatalogListingPublished, catalog.CatalogListingInTransaction,
                 catalog.CatalogListingWithdrawn, catalog.CatalogListingTraded,
                 catalog.CatalogProcedureAnnounced, catalog.CatalogProcedureResult]
OF_THE_STANDARD = {"listing_id", "procedure_id", "occurred_at", "revision", "path", "reason",
                   "outcome", "failure", "winner_number"}
"""What the events say beyond the public views' field names: the subject, when, the revision,
the page at the origin and a result's parts (PublicResult's own fields)."""


def _envelope(ce_type: str, data: dict) -> Envelope:
    return Envelope(id="0d6f1c9e-58a4-4c1b-9a57-3b2e8f4d6a10", type=ce_type,
                    source="/listing/120000", subject=data.get("listing_id", "s"),
                    time=datetime(2026, 3, 18, 1, 30, tzinfo=UTC), region="120000",
                    data=json.dumps(data).encode())


@pytest.mark.parametrize("cls", PUBLIC_EVENTS, ids=lambda c: c.__name__)
def test_public_events_travel_on_the_public_catalog_topic(cls) -> None:
    assert cls.is_public()
    assert cls.aggregate == "public.catalog"
    assert cls.ce_type().startswith("cn.techex.public.catalog.")


@pytest.mark.parametrize("cls", PUBLIC_EVENTS, ids=lambda c: c.__name__)
def test_only_fields_of_the_public_allow_list(cls) -> None:
    public = set().union(*ALLOWED.values())
    fields = set(cls.model_fields)
    assert not fields & NEVER
    assert fields - public <= OF_THE_STANDARD, sorted(fields - public - OF_THE_STANDARD)


def test_the_standards_codes_are_the_services() -> None:
    assert set(catalog.FIELDS) == {f.value for f in TechField}
    assert set(catalog.IP_TYPES) == {t.value for t in IpType}
    assert set(catalog.TransferModeCode.__args__) == {m.value for m in TransferMode}
    assert set(catalog.Route.__args__) == {r.value for r in PricingRoute} == set(Route.__args__)


def test_a_newer_version_with_a_new_field_is_read_as_the_known_one() -> None:
    v1 = catalog.CatalogListingPublished
    data = {**examples_of(v1)[0], "video_url": "https://tianjin.example/v.mp4"}
    newer = v1.ce_type().replace(".v1", ".v2")
    assert readable_type(newer) == v1.ce_type()
    event = decode(_envelope(newer, data))
    assert type(event) is v1
    assert event.title == data["title"] and not hasattr(event, "video_url")


def test_an_unknown_public_type_stays_unknown() -> None:
    unknown = "cn.techex.public.catalog.listing_teleported.v1"
    assert readable_type(unknown) is None
    with pytest.raises(UnknownEventType):
        decode(_envelope(unknown, {}))


def test_an_unknown_field_code_does_not_validate() -> None:
    from shared.events import InvalidPayload

    cls = catalog.CatalogListingPublished
    data = {**examples_of(cls)[0], "field": "quantum_magic"}
    with pytest.raises(InvalidPayload):
        decode(_envelope(cls.ce_type(), data))


def test_the_public_asyncapi_document_has_only_the_public_topics(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    doc = json.loads((tmp_path / PUBLIC_ASYNCAPI_FILE).read_text(encoding="utf-8"))
    assert "public.catalog" in doc["channels"]
    assert all(ch["address"].startswith("techex.public.") for ch in doc["channels"].values())
    assert {m["name"] for m in doc["components"]["messages"].values()} >= {
        c.ce_type() for c in PUBLIC_EVENTS}
    assert all(".public." in m["name"] for m in doc["components"]["messages"].values())
    for cls in PUBLIC_EVENTS:
        assert (tmp_path / f"{cls.ce_type()}.schema.json").exists()
