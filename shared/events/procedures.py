"""Contracts of the pricing, settlement and registration procedures as other services read them.

The auction, settlement and registry services publish these; the listing service follows a
listing's lifecycle from them (in transaction → traded, or back to published). Their owners
may add optional fields; a breaking change is a new version.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event, register

__all__ = ["AuctionAnnounced", "AuctionFailed", "ContractParty", "ContractRegistered",
           "DealConcluded", "DealDefaulted", "DepositConfirmed", "Flow", "SettlementCompleted"]

_REGION = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
_LISTING = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"
_PROC = "6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70"
_DEAL = "9c2d1e0f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
_AT = "2026-04-02T02:00:00Z"


def _examples(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


@register
class AuctionAnnounced(Event):
    """A pricing procedure was announced for a listing (auction, listing trade or notice)."""

    aggregate: ClassVar[str] = "auction"
    name: ClassVar[str] = "announced"
    time_field: ClassVar[str] = "announced_at"
    subject_field: ClassVar[str] = "procedure_id"
    model_config = _examples(procedure_id=_PROC, listing_id=_LISTING, route="auction",
                             region="230102", announced_at=_AT,
                             starts_at="2026-04-09T02:00:00Z")

    procedure_id: UUID
    listing_id: UUID
    route: Literal["auction", "listing", "negotiated"]
    region: str = _REGION
    announced_at: AwareDatetime
    starts_at: AwareDatetime


@register
class AuctionFailed(Event):
    """The procedure ended without a deal (流拍, no qualified buyer, upheld objection)."""

    aggregate: ClassVar[str] = "auction"
    name: ClassVar[str] = "failed"
    time_field: ClassVar[str] = "failed_at"
    subject_field: ClassVar[str] = "procedure_id"
    model_config = _examples(procedure_id=_PROC, listing_id=_LISTING, region="230102",
                             reason="no-bid", failed_at=_AT)

    procedure_id: UUID
    listing_id: UUID
    region: str = _REGION
    reason: str
    failed_at: AwareDatetime


@register
class DealConcluded(Event):
    """A price was set by one of the three routes: everything settlement and registry need."""

    aggregate: ClassVar[str] = "deal"
    name: ClassVar[str] = "concluded"
    time_field: ClassVar[str] = "concluded_at"
    subject_field: ClassVar[str] = "deal_id"
    model_config = _examples(deal_id=_DEAL, procedure_id=_PROC, listing_id=_LISTING,
                             route="auction", region="230102", seller_id="hit-university",
                             buyer_id="longjiang-coatings", price_fen=186000000,
                             concluded_at=_AT)

    deal_id: UUID
    procedure_id: UUID
    listing_id: UUID
    route: Literal["auction", "listing", "negotiated"]
    region: str = _REGION
    seller_id: str
    buyer_id: str
    price_fen: int = Field(gt=0, description="the deal price in fen (分)")
    concluded_at: AwareDatetime


@register
class DepositConfirmed(Event):
    """The settlement service holds a bidder's deposit for a procedure: the bidder qualifies."""

    aggregate: ClassVar[str] = "deposit"
    name: ClassVar[str] = "confirmed"
    time_field: ClassVar[str] = "confirmed_at"
    subject_field: ClassVar[str] = "deposit_id"
    model_config = _examples(deposit_id="1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
                             procedure_id=_PROC, bidder_id="longjiang-coatings",
                             amount_fen=15000000, region="230102", confirmed_at=_AT)

    deposit_id: UUID
    procedure_id: UUID
    bidder_id: str
    amount_fen: int = Field(gt=0)
    region: str = _REGION
    confirmed_at: AwareDatetime


@register
class SettlementCompleted(Event):
    """The deal's price was received in full and paid out."""

    aggregate: ClassVar[str] = "settlement"
    name: ClassVar[str] = "completed"
    time_field: ClassVar[str] = "completed_at"
    subject_field: ClassVar[str] = "deal_id"
    model_config = _examples(deal_id=_DEAL, listing_id=_LISTING, region="230102",
                             received_fen=186000000, completed_at=_AT,
                             procedure_id=_PROC, route="auction", seller_id="hit-university",
                             buyer_id="longjiang-coatings", price_fen=186000000,
                             concluded_at=_AT)

    deal_id: UUID
    listing_id: UUID | None = None
    region: str = _REGION
    received_fen: int = Field(ge=0, description="实际到账金额 in fen")
    completed_at: AwareDatetime
    # What the registry pre-fills a contract draft with (optional: added in the same version).
    procedure_id: UUID | None = None
    route: Literal["auction", "listing", "negotiated"] | None = None
    seller_id: str | None = None
    buyer_id: str | None = None
    price_fen: int | None = Field(default=None, gt=0, description="the deal price in fen")
    concluded_at: AwareDatetime | None = None


@register
class DealDefaulted(Event):
    """The buyer did not pay by the deadline: the deposit is forfeited and the lot goes back
    to the auction service, which ends the procedure as failed so the lot can be offered again."""

    aggregate: ClassVar[str] = "deal"
    name: ClassVar[str] = "defaulted"
    time_field: ClassVar[str] = "defaulted_at"
    subject_field: ClassVar[str] = "deal_id"
    model_config = _examples(deal_id=_DEAL, procedure_id=_PROC, listing_id=_LISTING,
                             region="230102", buyer_id="longjiang-coatings",
                             forfeited_fen=15000000, due_at=_AT, defaulted_at=_AT)

    deal_id: UUID
    procedure_id: UUID
    listing_id: UUID
    region: str = _REGION
    buyer_id: str
    forfeited_fen: int = Field(ge=0, description="the defaulting buyer's deposit, forfeited")
    due_at: AwareDatetime
    defaulted_at: AwareDatetime


Flow = Literal["inflow", "outflow", "internal"]
"""技术输出 / 技术吸纳 of a region: ``outflow`` when the seller is in it and the buyer is not
(abroad included), ``inflow`` when the buyer is in it and the seller is not, ``internal`` when
both are."""

_REGISTERED = {"contract_id": _DEAL, "deal_id": _DEAL, "listing_id": _LISTING,
               "region": "230102", "registration_number": "2026230100010001",
               "registered_at": _AT}


class ContractParty(BaseModel):
    """A party of a registered contract as the statistics see it (no names or contacts)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["seller", "buyer", "intermediary"]
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str | None = Field(default=None, pattern=r"^[0-9]{6}$",
                               description="GB/T 2260 code; none abroad")
    entity_type: Literal["enterprise", "university", "institute", "other"]


@register
class ContractRegistered(Event):
    """A registrar registered the technology contract (技术合同认定登记): everything the
    statistics, tax and subsidy consumers need, without an earlier event.

    Events registered before the contract's figures were carried have only the first six
    fields; readers treat the rest as unknown.
    """

    aggregate: ClassVar[str] = "contract"
    name: ClassVar[str] = "registered"
    time_field: ClassVar[str] = "registered_at"
    subject_field: ClassVar[str] = "contract_id"
    model_config = ConfigDict(json_schema_extra={"examples": [
        _REGISTERED | {
            "registrar_region": "230100", "category": "transfer", "subtype": "patent",
            "tech_field": "new_materials", "ip_type": "patent_invention",
            "total_amount_fen": 200000000, "tech_amount_fen": 186000000,
            "signed_on": "2026-03-30", "valid_from": "2026-04-01", "valid_until": "2028-03-31",
            "parties": [
                {"role": "seller", "country": "CN", "region": "230102",
                 "entity_type": "university"},
                {"role": "buyer", "country": "CN", "region": "230602",
                 "entity_type": "enterprise"}],
            "buyer_region": "230602", "crosses_province": False, "cross_border": False,
            "flow": {"230102": "outflow", "230100": "outflow", "230602": "inflow",
                     "230600": "inflow", "230000": "internal"}},
        _REGISTERED]})

    contract_id: UUID
    deal_id: UUID | None = None
    listing_id: UUID | None = None
    region: str = Field(pattern=r"^[0-9]{6}$",
                        description="GB/T 2260 code of the seller, where the contract counts")
    registration_number: str
    registered_at: AwareDatetime
    registrar_region: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    category: str | None = Field(default=None, description="development, transfer, licence, "
                                 "consulting or service")
    subtype: str | None = None
    tech_field: str | None = None
    ip_type: str | None = Field(default=None, description="none when the contract has no IP")
    total_amount_fen: int | None = Field(default=None, ge=0)
    tech_amount_fen: int | None = Field(default=None, ge=0,
                                        description="技术交易额: counts for statistics and tax")
    signed_on: date | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    parties: list[ContractParty] = Field(default_factory=list)
    buyer_region: str | None = Field(default=None, pattern=r"^[0-9]{6}$",
                                     description="GB/T 2260 code of the buyer; none abroad")
    crosses_province: bool | None = Field(
        default=None, description="seller and buyer in different provinces (or abroad)")
    cross_border: bool | None = Field(default=None, description="a party is abroad")
    flow: dict[str, Flow] = Field(
        default_factory=dict,
        description="for each region the contract counts in (the seller's and the buyer's, "
                    "with every region above them), its flow there")
