"""Events of the pricing procedures: auction (拍卖), listing trade (挂牌交易) and negotiated price
with public notice (协议定价 + 公示).

All three routes publish on the ``auction`` aggregate with the procedure id as subject, so one
procedure's events stay ordered on one partition. The announcement, the failure and the deal
(``AuctionAnnounced``, ``AuctionFailed``, ``DealConcluded``) are what the other services follow;
the rest is the procedure's own record, from which its terms, bid sequence, extensions,
objections and outcome can be rebuilt.

A secret reserve price appears only in ``AuctionClosed``; proxy-bid maxima never appear at all
(only the automatic bids they place do).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from shared.events.base import Event, register

__all__ = [
    "AuctionAnnounced",
    "AuctionClosed",
    "AuctionExtended",
    "AuctionFailed",
    "AuctionTermsPublished",
    "BidAccepted",
    "BidRejected",
    "BidderQualified",
    "BidderRegistered",
    "DealConcluded",
    "ListingBiddingStarted",
    "ListingPeriodExtended",
    "ListingTradeTermsPublished",
    "NoticePublished",
    "ObjectionFiled",
    "ObjectionResolved",
    "RejectReasonCode",
]

RejectReasonCode = Literal[
    "not-qualified", "not-open", "after-close", "below-minimum", "not-multiple", "own-high-bid"
]

_PROC = "6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70"
_PREV = "5b0e2d8f-0a6c-4c1d-9eff-1b2a3c4d5e6f"
_LISTING = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"
_DEAL = "9c2d1e0f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
_OBJECTION = "0e1d2c3b-4a59-4867-8f6e-5d4c3b2a1908"
_AT = "2026-04-10T02:00:00Z"
_FEN = Field(gt=0, description="an amount in fen (分)")


def _example(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [
        {"procedure_id": _PROC, "region": "230102", "occurred_at": _AT, **fields}]})


class _ProcedureEvent(Event):
    aggregate: ClassVar[str] = "auction"
    subject_field: ClassVar[str] = "procedure_id"

    procedure_id: UUID
    region: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
    occurred_at: AwareDatetime
    actor: str = Field(default="", description="who acted; 'auction' for the engine itself")


# -- terms ---------------------------------------------------------------------------------------
@register
class AuctionTermsPublished(_ProcedureEvent):
    """The public terms of an ascending auction, published with its announcement.

    ``has_reserve`` says whether a reserve price exists; its amount stays secret until the close.
    """

    name: ClassVar[str] = "terms_published"
    model_config = _example(
        listing_id=_LISTING, start_price_fen=150000000, increment_fen=2000000,
        deposit_fen=15000000, has_reserve=True, starts_at="2026-04-17T02:00:00Z",
        ends_at="2026-04-18T02:00:00Z", extension_seconds=300, round=2,
        previous_procedure_id=_PREV)

    listing_id: UUID
    start_price_fen: int = _FEN
    increment_fen: int = _FEN
    deposit_fen: int = _FEN
    has_reserve: bool
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    extension_seconds: int = Field(gt=0, description="anti-sniping window (5 min by default)")
    round: int = Field(default=1, ge=1, description="1, or 2+ for a re-auction (再次拍卖)")
    previous_procedure_id: UUID | None = None


@register
class ListingTradeTermsPublished(_ProcedureEvent):
    """The terms of a listing trade (挂牌交易), published with its announcement."""

    name: ClassVar[str] = "listing_terms_published"
    model_config = _example(
        listing_id=_LISTING, listed_price_fen=80000000, increment_fen=1000000,
        deposit_fen=8000000, working_days=20, period_ends_at="2026-05-12T16:00:00Z",
        extension_working_days=5, max_extensions=3, free_quote_seconds=3600,
        countdown_seconds=300)

    listing_id: UUID
    listed_price_fen: int = _FEN
    increment_fen: int = _FEN
    deposit_fen: int = Field(ge=0)
    working_days: int = Field(gt=0, description="announcement period in working days")
    period_ends_at: AwareDatetime
    extension_working_days: int = Field(gt=0)
    max_extensions: int = Field(ge=0)
    free_quote_seconds: int = Field(gt=0, description="自由报价期")
    countdown_seconds: int = Field(gt=0, description="限时竞价期 countdown, restarted by each bid")


# -- bidders and bids (auction and listing trade) ----------------------------------------------
@register
class BidderRegistered(_ProcedureEvent):
    """A would-be bidder / intended buyer (竞买人 / 意向受让方) registered; its deposit is due."""

    name: ClassVar[str] = "bidder_registered"
    model_config = _example(bidder_id="longjiang-coatings", deposit_fen=15000000,
                            actor="longjiang-coatings")

    bidder_id: str
    deposit_fen: int = Field(ge=0, description="the deposit (保证金) the bidder must pay")


@register
class BidderQualified(_ProcedureEvent):
    """The bidder's deposit was confirmed: it may now bid (or counts as a qualified buyer)."""

    name: ClassVar[str] = "bidder_qualified"
    model_config = _example(bidder_id="longjiang-coatings", actor="settlement")

    bidder_id: str


@register
class BidAccepted(_ProcedureEvent):
    """A bid became the high bid; ``sequence`` numbers a procedure's accepted bids from 1."""

    name: ClassVar[str] = "bid_accepted"
    model_config = _example(sequence=7, bidder_id="longjiang-coatings", amount_fen=162000000,
                            automatic=False, ends_at="2026-04-18T02:04:30Z",
                            actor="longjiang-coatings")

    sequence: int = Field(ge=1)
    bidder_id: str
    amount_fen: int = _FEN
    automatic: bool = Field(description="placed by the engine for the bidder's proxy (代理出价)")
    ends_at: AwareDatetime = Field(description="when bidding ends after this bid")


@register
class BidRejected(_ProcedureEvent):
    """A bid was refused; ``minimum_fen`` is the lowest amount that would have been acceptable."""

    name: ClassVar[str] = "bid_rejected"
    model_config = _example(bidder_id="songhua-tech", amount_fen=161000000,
                            reason="below-minimum", minimum_fen=164000000, actor="songhua-tech")

    bidder_id: str
    amount_fen: int
    reason: RejectReasonCode
    minimum_fen: int | None = None


@register
class AuctionExtended(_ProcedureEvent):
    """A bid near the end moved it (anti-sniping, or the timed-period countdown restarting)."""

    name: ClassVar[str] = "extended"
    model_config = _example(sequence=7, previous_ends_at="2026-04-18T02:00:00Z",
                            ends_at="2026-04-18T02:04:30Z", actor="auction")

    sequence: int = Field(ge=1, description="the accepted bid that moved the end")
    previous_ends_at: AwareDatetime
    ends_at: AwareDatetime


@register
class AuctionClosed(_ProcedureEvent):
    """The procedure ended with a buyer and a price (followed by ``DealConcluded``)."""

    name: ClassVar[str] = "closed"
    model_config = _example(listing_id=_LISTING, route="auction", deal_id=_DEAL,
                            winner_id="longjiang-coatings", hammer_price_fen=186000000,
                            reserve_fen=180000000, accepted_bids=12, actor="auction")

    listing_id: UUID
    route: Literal["auction", "listing", "negotiated"]
    deal_id: UUID
    winner_id: str
    hammer_price_fen: int = _FEN
    reserve_fen: int | None = Field(default=None, description="disclosed only now, if any")
    accepted_bids: int = Field(ge=0)


# -- listing trade -------------------------------------------------------------------------------
@register
class ListingPeriodExtended(_ProcedureEvent):
    """No qualified buyer at the end of the announcement period: it runs one more cycle."""

    name: ClassVar[str] = "listing_period_extended"
    model_config = _example(cycle=1, working_days=5, previous_ends_at="2026-05-12T16:00:00Z",
                            ends_at="2026-05-19T16:00:00Z", actor="auction")

    cycle: int = Field(ge=1, description="1 for the first extension")
    working_days: int = Field(gt=0)
    previous_ends_at: AwareDatetime
    ends_at: AwareDatetime


@register
class ListingBiddingStarted(_ProcedureEvent):
    """Two or more qualified buyers: a free-quote period, then a timed period."""

    name: ClassVar[str] = "listing_bidding_started"
    model_config = _example(qualified_bidders=3, free_quote_starts_at="2026-05-13T01:00:00Z",
                            free_quote_ends_at="2026-05-13T02:00:00Z",
                            ends_at="2026-05-13T02:05:00Z", actor="auction")

    qualified_bidders: int = Field(ge=2)
    free_quote_starts_at: AwareDatetime
    free_quote_ends_at: AwareDatetime
    ends_at: AwareDatetime = Field(description="end of the timed period if nobody bids in it")


# -- negotiated price with public notice ---------------------------------------------------------
@register
class NoticePublished(_ProcedureEvent):
    """The agreed deal is published for objections (公示).

    ``buyer_relation`` flags a buyer who is an inventor of the achievement or a related party.
    """

    name: ClassVar[str] = "notice_published"
    model_config = _example(
        listing_id=_LISTING, project_name="石墨烯改性防腐涂料制备技术",
        abstract="以少层石墨烯为填料的水性环氧防腐涂料。", transfer_mode="transfer",
        price_fen=120000000, seller_id="hit-university", buyer_id="longjiang-coatings",
        buyer_name="龙江涂料有限公司", buyer_relation="related_party",
        ends_at="2026-04-25T16:00:00Z", actor="operator-230102")

    listing_id: UUID
    project_name: str = Field(description="项目名称 as agreed (the achievement's name)")
    abstract: str
    transfer_mode: str
    price_fen: int = _FEN
    seller_id: str
    buyer_id: str
    buyer_name: str
    buyer_relation: Literal["none", "inventor", "related_party"]
    ends_at: AwareDatetime


@register
class ObjectionFiled(_ProcedureEvent):
    """Someone filed an objection (异议) while the notice ran."""

    name: ClassVar[str] = "objection_filed"
    model_config = _example(objection_id=_OBJECTION, grounds="成交价格明显低于评估价值",
                            actor="citizen-42")

    objection_id: UUID
    grounds: str


@register
class ObjectionResolved(_ProcedureEvent):
    """An operator upheld or dismissed an objection, with the reason (published too)."""

    name: ClassVar[str] = "objection_resolved"
    model_config = _example(objection_id=_OBJECTION, outcome="dismissed",
                            reason="评估报告显示价格在合理区间", actor="operator-230102")

    objection_id: UUID
    outcome: Literal["upheld", "dismissed"]
    reason: str = Field(min_length=1)


# Read by the other services to follow a procedure (formerly the procedures module).

_REGION = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")


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
