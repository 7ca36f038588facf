"""Events of the listing service: the listing aggregate (an achievement, 科技成果, offered on
the exchange) and the demand aggregate (an enterprise's technology demand and its open call).

Every transition of a listing is an event carrying who did it, when, and the listing's region,
so a listing's whole history can be rebuilt from the topic. ``created``, ``updated`` and
``published`` carry the full snapshot other services need (pricing route, price, IP, parties).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.bounds import text
from shared.events.base import Event, register

__all__ = [
    "DemandAwarded",
    "DemandClosed",
    "DemandPosted",
    "Holder",
    "ListingCreated",
    "ListingExpired",
    "ListingInTransaction",
    "ListingInterestMatched",
    "ListingPublished",
    "ListingRejected",
    "ListingReturned",
    "ListingReviewStarted",
    "ListingSecurityReviewed",
    "ListingSnapshot",
    "ListingSubmitted",
    "ListingTraded",
    "ListingUpdated",
    "ListingWithdrawn",
    "ProposalSubmitted",
]

Region = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")


class Holder(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = text(200, min_length=1)
    kind: Literal["university", "institute", "enterprise", "other"]


class ListingSnapshot(BaseModel):
    """What a listing says of itself at the time of the event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str
    abstract: str = ""
    field: str = Field(description="technology field code, e.g. new_materials")
    industry: str = ""
    keywords: list[str] = []
    ip_type: str
    ip_numbers: list[str] = []
    trl: int = Field(ge=1, le=9, description="technology readiness level 1–9 (技术成熟度)")
    holders: list[Holder] = []
    inventors: list[str] = []
    transfer_mode: str
    pricing_route: Literal["auction", "listing", "negotiated"]
    reference_price_fen: int | None = Field(default=None, ge=0)
    dual_use: bool = False
    public_welfare: bool = False
    cross_border: bool = False


_SNAPSHOT_EXAMPLE: dict[str, Any] = {
    "title": "石墨烯改性防腐涂料制备技术",
    "abstract": "以少层石墨烯为填料的水性环氧防腐涂料，耐盐雾超过3000小时。",
    "field": "new_materials",
    "industry": "涂料制造",
    "keywords": ["石墨烯", "防腐涂料"],
    "ip_type": "patent_invention",
    "ip_numbers": ["ZL201510012345.3"],
    "trl": 6,
    "holders": [{"name": "哈尔滨工业大学", "kind": "university"}],
    "inventors": ["张伟", "李娜"],
    "transfer_mode": "transfer",
    "pricing_route": "auction",
    "reference_price_fen": 150000000,
}
_ID = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"
_AT = "2026-03-18T01:30:00Z"


def _example(**extra: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [
        {"listing_id": _ID, "region": "230102", "occurred_at": _AT, **extra}]})


class _ListingEvent(Event):
    aggregate: ClassVar[str] = "listing"
    subject_field: ClassVar[str] = "listing_id"

    listing_id: UUID
    region: str = Region
    occurred_at: AwareDatetime
    actor: str = Field(default="", description="who caused it (token subject or service)")


@register
class ListingCreated(_ListingEvent):
    """A seller filed a new listing as a draft."""

    name: ClassVar[str] = "created"
    model_config = _example(seller_id="hit-university", listing=_SNAPSHOT_EXAMPLE)

    seller_id: str
    listing: ListingSnapshot


@register
class ListingUpdated(_ListingEvent):
    """The seller edited a draft or rejected listing."""

    name: ClassVar[str] = "updated"
    model_config = _example(listing=_SNAPSHOT_EXAMPLE)

    listing: ListingSnapshot


@register
class ListingSubmitted(_ListingEvent):
    """The seller submitted the listing for review by the operator of its region."""

    name: ClassVar[str] = "submitted"
    model_config = _example()


@register
class ListingReviewStarted(_ListingEvent):
    """An operator took the submitted listing into review."""

    name: ClassVar[str] = "review_started"
    model_config = _example(actor="harbin-exchange")


@register
class ListingSecurityReviewed(_ListingEvent):
    """The export-control and security review of a cross-border listing was recorded."""

    name: ClassVar[str] = "security_reviewed"
    model_config = _example(outcome="cleared", reference="黑科审〔2026〕12号")

    outcome: Literal["cleared", "refused"]
    reference: str


@register
class ListingPublished(_ListingEvent):
    """An operator approved the listing; it is published until ``expires_at``."""

    name: ClassVar[str] = "published"
    model_config = _example(seller_id="hit-university", expires_at="2027-03-18T01:30:00Z",
                            listing=_SNAPSHOT_EXAMPLE)

    seller_id: str
    expires_at: AwareDatetime
    listing: ListingSnapshot


@register
class ListingRejected(_ListingEvent):
    """An operator rejected the listing, with the reason the seller sees."""

    name: ClassVar[str] = "rejected"
    model_config = _example(reason="知识产权证明材料不全")

    reason: str = Field(min_length=1)


@register
class ListingWithdrawn(_ListingEvent):
    """The seller withdrew the listing."""

    name: ClassVar[str] = "withdrawn"
    model_config = _example()


@register
class ListingExpired(_ListingEvent):
    """The listing's publication period ended without a transaction."""

    name: ClassVar[str] = "expired"
    model_config = _example()


@register
class ListingInTransaction(_ListingEvent):
    """A pricing procedure (auction, listing trade, negotiated deal) started on the listing."""

    name: ClassVar[str] = "in_transaction"
    model_config = _example(cause="cn.techex.auction.announced.v1",
                            procedure_id="6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70")

    cause: str
    procedure_id: str


@register
class ListingReturned(_ListingEvent):
    """The procedure failed (流拍, defaulted winner): the listing is published again."""

    name: ClassVar[str] = "returned"
    model_config = _example(cause="cn.techex.auction.failed.v1",
                            procedure_id="6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70")

    cause: str
    procedure_id: str


@register
class ListingTraded(_ListingEvent):
    """The technology contract of the deal was registered: the listing is traded."""

    name: ClassVar[str] = "traded"
    model_config = _example(cause="cn.techex.contract.registered.v1",
                            procedure_id="9c2d1e0f-3a4b-4c5d-8e6f-7a8b9c0d1e2f")

    cause: str
    procedure_id: str


@register
class ListingInterestMatched(_ListingEvent):
    """A newly published listing matches a buyer's saved interest (精准推送)."""

    name: ClassVar[str] = "interest_matched"
    model_config = _example(interest_id="5b9e7f61-0a2c-4f3e-9d1b-8c7a6e5d4c3b",
                            buyer_id="longjiang-coatings", score=0.82,
                            reasons=["共同词语: 石墨烯, 防腐", "技术领域: 新材料"])

    interest_id: UUID
    buyer_id: str
    score: float = Field(ge=0)
    reasons: list[str]


# The demand aggregate: an enterprise's technology demand (技术需求) and its open call
# (揭榜比拼 / 技术难题招标).

_DEMAND = "7d3e2f10-4b5c-4a6d-9e8f-0a1b2c3d4e5f"
_PROPOSAL = "8e4f3a21-5c6d-4b7e-8f90-1b2c3d4e5f60"
_DEMAND_AT = "2026-05-06T03:00:00Z"


def _demand_example(**extra: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [
        {"demand_id": _DEMAND, "region": "130102", "occurred_at": _DEMAND_AT, **extra}]})


class _DemandEvent(Event):
    aggregate: ClassVar[str] = "demand"
    subject_field: ClassVar[str] = "demand_id"

    demand_id: UUID
    region: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
    occurred_at: AwareDatetime
    actor: str = ""


@register
class DemandPosted(_DemandEvent):
    """An enterprise posted a technology demand with an open call for solutions."""

    name: ClassVar[str] = "posted"
    model_config = _demand_example(
        enterprise_id="jizhong-steel", title="高炉煤气深度脱硫技术", field="environment",
        mode="open_call", budget_fen=300000000, min_trl=5, deadline="2026-08-31T15:59:59Z")

    enterprise_id: str
    title: str
    field: str
    mode: Literal["open_call", "tender"]
    budget_fen: int | None = Field(default=None, ge=0)
    min_trl: int = Field(default=1, ge=1, le=9)
    deadline: AwareDatetime


@register
class ProposalSubmitted(_DemandEvent):
    """A provider answered the demand's open call (揭榜) with a proposal."""

    name: ClassVar[str] = "proposal_submitted"
    model_config = _demand_example(
        proposal_id=_PROPOSAL, provider_id="hebei-university-of-technology", listing_id=None,
        price_fen=250000000)

    proposal_id: UUID
    provider_id: str
    listing_id: UUID | None = None
    price_fen: int | None = Field(default=None, ge=0)


@register
class DemandAwarded(_DemandEvent):
    """The enterprise picked a proposal (揭榜成功)."""

    name: ClassVar[str] = "awarded"
    model_config = _demand_example(proposal_id=_PROPOSAL,
                                   provider_id="hebei-university-of-technology")

    proposal_id: UUID
    provider_id: str


@register
class DemandClosed(_DemandEvent):
    """The demand was closed without an award (withdrawn or past its deadline)."""

    name: ClassVar[str] = "closed"
    model_config = _demand_example(reason="deadline")

    reason: Literal["withdrawn", "deadline"]
