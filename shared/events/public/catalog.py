"""``<prefix>.public.catalog``: published, withdrawn and traded listings, and the
announcements and results of procedures.

Only fields the public API shows (the allow-list of ``tests/services/test_public_views.py``):
a listing as ``GET /public/achievements/{id}`` shows it, a procedure as ``GET /public/procedures``
does, plus ``path``, the page of it at the origin (its portal's base URL + ``path``), and
``revision``. The subject is the listing (the procedure): a reader keeps, per subject, the
highest revision it has seen, so an older revision arriving late changes nothing.

The codes (field, IP type, route, mode) are the standard's: an unknown one does not validate,
so such an event is dead-lettered (``invalid-payload``) instead of reaching a reader's tables.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.bounds import text
from shared.events.base import Event, register

__all__ = [
    "FIELDS",
    "IP_TYPES",
    "CatalogHolder",
    "CatalogListingInTransaction",
    "CatalogListingPublished",
    "CatalogListingTraded",
    "CatalogListingWithdrawn",
    "CatalogProcedureAnnounced",
    "CatalogProcedureResult",
]

AGGREGATE = "public.catalog"

FieldCode = Literal["new_materials", "advanced_manufacturing", "information", "aerospace",
                    "biomedicine", "agriculture", "environment", "energy", "marine"]
IpTypeCode = Literal["patent_invention", "patent_utility", "patent_design",
                     "patent_application", "software_copyright", "trade_secret",
                     "plant_variety", "ic_layout", "other"]
TransferModeCode = Literal["transfer", "license_exclusive", "license_sole", "license_ordinary",
                           "equity", "co_development"]
Route = Literal["auction", "listing", "negotiated"]
FIELDS: tuple[str, ...] = FieldCode.__args__  # type: ignore[attr-defined]
IP_TYPES: tuple[str, ...] = IpTypeCode.__args__  # type: ignore[attr-defined]

_REGION = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
_PATH = Field(min_length=1, max_length=200, pattern=r"^/[!-~]*$",
              description="The page of it at the origin: the origin portal's base URL + path")
_REVISION = Field(ge=1, le=2**31 - 1, description=(
    "Grows with every change of the subject at the origin; a reader keeps the highest seen"))
_FEN = Field(default=None, ge=0, le=10**15, description="an amount in fen (分)")

_LISTING = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"
_PROC = "6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70"
_AT = "2026-03-18T01:30:00Z"


def _example(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


class CatalogHolder(BaseModel):
    """A rights holder (权利人) as the public sees it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = text(200, min_length=1)
    kind: Literal["university", "institute", "enterprise", "other"]


class _ListingEvent(Event):
    aggregate: ClassVar[str] = AGGREGATE
    subject_field: ClassVar[str] = "listing_id"

    listing_id: UUID
    region: str = _REGION
    occurred_at: AwareDatetime
    revision: int = _REVISION
    path: str = _PATH


def _listing_example(**fields: Any) -> ConfigDict:
    return _example(listing_id=_LISTING, region="230102", occurred_at=_AT, revision=4,
                    path=f"/achievements/{_LISTING}", **fields)


@register
class CatalogListingPublished(_ListingEvent):
    """A listing is published (again): the public achievement view, for partners' search."""

    name: ClassVar[str] = "listing_published"
    model_config = _listing_example(
        title="石墨烯改性防腐涂料制备技术", abstract="以少层石墨烯为填料的水性环氧防腐涂料。",
        field="new_materials", industry="涂料制造", keywords=["石墨烯", "防腐涂料"],
        ip_type="patent_invention", trl=6,
        holders=[{"name": "哈尔滨工业大学", "kind": "university"}], transfer_mode="transfer",
        pricing_route="auction", reference_price_fen=150000000, seller_id="hit-university",
        published_at=_AT, expires_at="2027-03-18T01:30:00Z")

    title: str = text(200, min_length=1)
    abstract: str = text(5000, default="")
    field: FieldCode
    industry: str = text(100, default="")
    keywords: list[Annotated[str, text(50)]] = Field(default=[], max_length=20)
    ip_type: IpTypeCode
    trl: int = Field(ge=1, le=9)
    holders: list[CatalogHolder] = Field(default=[], max_length=20)
    transfer_mode: TransferModeCode
    pricing_route: Route
    reference_price_fen: int | None = _FEN
    seller_id: str = text(200, default="", description="the seller's public name (account)")
    published_at: AwareDatetime
    expires_at: AwareDatetime | None = None


@register
class CatalogListingInTransaction(_ListingEvent):
    """The listing went to a procedure (auction, listing trade or notice): still shown."""

    name: ClassVar[str] = "listing_in_transaction"
    model_config = _listing_example()


@register
class CatalogListingWithdrawn(_ListingEvent):
    """The listing is no longer offered (withdrawn by its seller or its period expired)."""

    name: ClassVar[str] = "listing_withdrawn"
    model_config = _listing_example(reason="withdrawn")

    reason: Literal["withdrawn", "expired"] = "withdrawn"


@register
class CatalogListingTraded(_ListingEvent):
    """The listing was traded (its contract registered): no longer offered."""

    name: ClassVar[str] = "listing_traded"
    model_config = _listing_example()


class _ProcedureEvent(Event):
    aggregate: ClassVar[str] = AGGREGATE
    subject_field: ClassVar[str] = "procedure_id"

    procedure_id: UUID
    route: Route
    listing_id: UUID
    region: str = _REGION
    occurred_at: AwareDatetime
    revision: int = _REVISION
    path: str = _PATH


@register
class CatalogProcedureAnnounced(_ProcedureEvent):
    """A procedure was announced (拍卖公告, 挂牌公告, 协议定价公示): the public procedure view."""

    name: ClassVar[str] = "procedure_announced"
    model_config = _example(
        procedure_id=_PROC, route="auction", listing_id=_LISTING, region="230102",
        occurred_at=_AT, revision=1, path=f"/auctions/{_PROC}", title="石墨烯改性防腐涂料制备技术",
        field="new_materials", announced_at=_AT, starts_at="2026-03-25T01:30:00Z",
        ends_at="2026-03-26T01:30:00Z", price_fen=150000000)

    title: str = text(200, default="")
    field: FieldCode | None = None
    announced_at: AwareDatetime
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    price_fen: int = Field(ge=0, le=10**15, description="start, listed or agreed price in fen")


@register
class CatalogProcedureResult(_ProcedureEvent):
    """How a procedure came out (成交公告): sold at a price to a bid number, or failed and why."""

    name: ClassVar[str] = "procedure_result"
    model_config = _example(
        procedure_id=_PROC, route="auction", listing_id=_LISTING, region="230102",
        occurred_at=_AT, revision=2, path=f"/auctions/{_PROC}", outcome="sold",
        price_fen=186000000, winner_number="0007", failure=None, ended_at=_AT)

    outcome: Literal["sold", "failed"]
    price_fen: int | None = _FEN
    winner_number: str | None = Field(default=None, max_length=10,
                                      description="the winner's bid number (竞买号)")
    failure: str | None = Field(default=None, max_length=50)
    ended_at: AwareDatetime
