"""Events of the registry service: the technology contract at the registrar.

The other services follow ``ContractRegistered``; the rest is a technology contract's life at
the registrar (技术合同认定登记): drafted from a settled deal, filed, refused with reasons,
amended, cancelled. Each carries who, when and the contract's region (the seller's).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event, register

__all__ = [
    "ContractAmended",
    "ContractCancelled",
    "ContractDrafted",
    "ContractFiled",
    "ContractParty",
    "ContractRefused",
    "ContractRegistered",
    "Flow",
    "RefusalReason",
]

_REGION = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code (seller's)")
_CONTRACT = "0b7e4c2a-5d3f-4e6a-9b8c-1d2e3f4a5b6c"
_FILING = "7d6c5b4a-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
_DEAL = "9c2d1e0f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
_LISTING = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"
_AT = "2026-04-10T02:00:00Z"

FilingKind = Literal["original", "amendment", "cancellation"]


def _examples(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


class RefusalReason(BaseModel):
    """One reason a registrar gives for not registering (未予登记)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str = Field(description="e.g. party-unclear, price-unclear, oral-contract")
    detail: str = ""


class _ContractEvent(Event):
    aggregate: ClassVar[str] = "contract"
    subject_field: ClassVar[str] = "contract_id"

    contract_id: UUID
    region: str = _REGION
    actor: str = Field(default="", description="who caused it (token subject or service)")


@register
class ContractDrafted(_ContractEvent):
    """A settled deal left a pre-filled contract draft for its seller to complete and file."""

    name: ClassVar[str] = "drafted"
    time_field: ClassVar[str] = "drafted_at"
    model_config = _examples(contract_id=_CONTRACT, region="230102", actor="settlement",
                             deal_id=_DEAL, listing_id=_LISTING, seller_id="hit-university",
                             drafted_at=_AT)

    deal_id: UUID
    listing_id: UUID | None = None
    seller_id: str
    drafted_at: AwareDatetime


@register
class ContractFiled(_ContractEvent):
    """The seller filed the contract (or an amendment, or a cancellation) at a registrar of
    its region; the registrar decides by ``due_at``."""

    name: ClassVar[str] = "filed"
    time_field: ClassVar[str] = "filed_at"
    model_config = _examples(contract_id=_CONTRACT, region="230102", actor="hit-university",
                             filing_id=_FILING, kind="original", category="transfer",
                             subtype="patent", total_amount_fen=200000000,
                             tech_amount_fen=186000000, filed_at=_AT,
                             due_at="2026-05-10T02:00:00Z")

    filing_id: UUID
    kind: FilingKind
    category: str
    subtype: str | None = None
    total_amount_fen: int = Field(ge=0)
    tech_amount_fen: int = Field(ge=0, description="技术交易额 in fen")
    filed_at: AwareDatetime
    due_at: AwareDatetime


@register
class ContractRefused(_ContractEvent):
    """A registrar refused the filing (未予登记), with its reasons."""

    name: ClassVar[str] = "refused"
    time_field: ClassVar[str] = "refused_at"
    model_config = _examples(contract_id=_CONTRACT, region="230102", actor="registrar-230100",
                             filing_id=_FILING, kind="original",
                             reasons=[{"code": "price-unclear", "detail": "技术交易额未列明"}],
                             refused_at=_AT)

    filing_id: UUID
    kind: FilingKind
    reasons: list[RefusalReason] = Field(min_length=1)
    refused_at: AwareDatetime


@register
class ContractAmended(_ContractEvent):
    """A registrar registered an amendment of a registered contract; figures are the new ones."""

    name: ClassVar[str] = "amended"
    time_field: ClassVar[str] = "amended_at"
    model_config = _examples(contract_id=_CONTRACT, region="230102", actor="registrar-230100",
                             filing_id=_FILING, registration_number="2026230100010001",
                             changed=["tech_amount_fen"], total_amount_fen=200000000,
                             tech_amount_fen=190000000, amended_at=_AT)

    filing_id: UUID
    registration_number: str
    changed: list[str]
    total_amount_fen: int = Field(ge=0)
    tech_amount_fen: int = Field(ge=0)
    amended_at: AwareDatetime


@register
class ContractCancelled(_ContractEvent):
    """A registrar registered the cancellation of a registered contract: it leaves the
    statistics."""

    name: ClassVar[str] = "cancelled"
    time_field: ClassVar[str] = "cancelled_at"
    model_config = _examples(contract_id=_CONTRACT, region="230102", actor="registrar-230100",
                             filing_id=_FILING, registration_number="2026230100010001",
                             reason="双方协议解除", cancelled_at=_AT)

    filing_id: UUID
    registration_number: str
    reason: str
    cancelled_at: AwareDatetime


# Read by the other services to follow a procedure (formerly the procedures module).


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
