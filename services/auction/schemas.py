"""The auction service's HTTP models: requests, responses, and the public views of bidders.

What a reader of a procedure is shown of its bidders is decided in one place: bid numbers,
and identities only to those who may know them (the rule is
:class:`~services.auction.domain.anonymity.Viewer`, the reader :func:`viewer_of`); the views
below name each field a reader may see, nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from services.auction.domain.anonymity import Viewer, label
from services.auction.domain.auction import Auction
from services.auction.domain.commands import BidAnswer
from services.auction.domain.deals import deal_id_for
from services.auction.domain.listing_trade import (
    MIN_EXTENSION_WORKING_DAYS,
    ListingTrade,
    TradeStatus,
)
from services.auction.domain.notice import (
    MIN_NOTICE_DAYS,
    TRANSFER_MODES,
    BuyerRelation,
    Notice,
    NoticeStatus,
    ObjectionOutcome,
)
from shared.auth import Principal, Role
from shared.bounds import (
    AwareTimestamp,
    Fen,
    PositiveFen,
    SubjectId,
    Text,
    int_field,
    ratio,
    text,
)

# -- the public views of bidders ----------------------------------------------------------------

_OVERSEERS = frozenset({Role.OPERATOR, Role.REGULATOR})


def viewer_of(principal: Principal | None, *, region: str, seller_id: str, closed: bool
              ) -> Viewer:
    """The reader ``principal`` (None: no token) of a procedure of ``region``."""
    if principal is None:
        return Viewer(None, sees_identities=False)
    oversees = principal.role is Role.ADMIN or (
        principal.role in _OVERSEERS and principal.region.contains(region))
    return Viewer.of(principal.subject, oversees=oversees,
                     is_seller=principal.role is Role.SELLER and principal.subject == seller_id,
                     closed=closed)


class BidderShown(BaseModel):
    """A bidder as a reader sees it."""

    bidder_number: str = Field(description="the bidder's bid number (竞买号) in this procedure",
                               examples=["0007"])
    you: bool = Field(description="true on the reader's own bids")
    bidder_id: str | None = Field(description=(
        "the bidder's account: shown to the operators and regulators of the procedure's "
        "region, to the seller once the bidding is closed, and to the bidder itself; null "
        "for everyone else"))


class BidView(BidderShown):
    """An accepted bid of an auction."""

    sequence: int
    amount_fen: int
    at: datetime
    automatic: bool = Field(description="placed by the engine for a proxy maximum")


class BiddersShown(BaseModel):
    """What a procedure's view says of its bidders besides their bids."""

    your_number: str | None = Field(default=None, description=(
        "the reader's own bid number, once it has registered"))
    winner_number: str | None = Field(default=None, description="the winner's bid number")
    winner_id: str | None = Field(default=None, description=(
        "the winner's account: for the operators and regulators of the procedure's region, "
        "the seller and the winner itself; null for everyone else"))


def numbered(numbers: Mapping[str, int], bidder_id: str | None) -> str | None:
    """The bid number of ``bidder_id`` as shown, if it has one."""
    return label(numbers[bidder_id]) if bidder_id in numbers else None


def bidders_json(viewer: Viewer, numbers: Mapping[str, int], winner_id: str | None
                 ) -> dict[str, Any]:
    """The fields of :class:`BiddersShown`."""
    return {"your_number": numbered(numbers, viewer.subject),
            "winner_number": numbered(numbers, winner_id),
            "winner_id": viewer.identity(winner_id) if winner_id else None}


def bidder_json(viewer: Viewer, bidder_id: str, number: int | None) -> dict[str, Any]:
    return {"bidder_number": label(number) if number is not None else None,
            "you": viewer.is_you(bidder_id), "bidder_id": viewer.identity(bidder_id)}


def bid_json(viewer: Viewer, *, sequence: int, bidder_id: str, number: int | None,
             amount_fen: int, at: datetime, automatic: bool) -> dict[str, Any]:
    """A :class:`BidView` as JSON data, without building the model (the live view sends one
    per bid to each of its readers)."""
    return {"sequence": sequence, **bidder_json(viewer, bidder_id, number),
            "amount_fen": amount_fen, "at": at.isoformat(), "automatic": automatic}


def stored_bid(viewer: Viewer, r: Any) -> dict[str, Any]:
    """A stored bid row (with its bidder's number) as :func:`bid_json`."""
    return bid_json(viewer, sequence=r["seq"], bidder_id=r["bidder_id"], number=r["number"],
                    amount_fen=r["amount_fen"], at=r["at"], automatic=r["automatic"])


def procedure_viewer(principal: Principal | None, p: Auction | ListingTrade) -> Viewer:
    """The reader ``principal`` of an auction or a listing trade."""
    return viewer_of(principal, region=p.region, seller_id=p.seller_id,
                     closed=p.closed_at is not None)


# -- auctions -----------------------------------------------------------------------------------

class AuctionIn(BaseModel):
    listing_id: uuid.UUID
    start_price_fen: PositiveFen
    increment_fen: PositiveFen
    reserve_fen: PositiveFen | None = Field(default=None, description="secret until the close")
    deposit_ratio: Decimal = ratio(ge=Decimal("0.05"), le=Decimal("0.20"), examples=["0.10"])
    starts_at: AwareTimestamp
    ends_at: AwareTimestamp


class AuctionOut(BiddersShown):
    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: str
    region: str
    start_price_fen: int
    increment_fen: int
    deposit_fen: int
    has_reserve: bool
    starts_at: datetime
    ends_at: datetime
    status: str
    high_bid_fen: int | None
    high_bidder_number: str | None = Field(default=None, description="the high bid's 竞买号")
    bid_count: int
    hammer_price_fen: int | None = None
    deal_id: uuid.UUID | None = Field(default=None, description=(
        "the deal a close with a winner concluded: its settlement and contract go by it"))

    @classmethod
    def of(cls, a: Auction, now: datetime, viewer: Viewer,
           numbers: Mapping[str, int] | None = None) -> AuctionOut:
        numbers = numbers or {}
        high = a.high_bid
        return cls(
            id=a.id, listing_id=a.listing_id, seller_id=a.seller_id, region=a.region,
            start_price_fen=a.terms.start_price_fen, increment_fen=a.terms.increment_fen,
            deposit_fen=a.terms.deposit_fen, has_reserve=a.terms.reserve_fen is not None,
            starts_at=a.terms.starts_at, ends_at=a.ends_at, status=a.status_at(now).value,
            high_bid_fen=high.amount_fen if high else None,
            high_bidder_number=numbered(numbers, high.bidder_id) if high else None,
            bid_count=a.ladder.count, **bidders_json(viewer, numbers, a.winner_id),
            hammer_price_fen=a.hammer_price_fen,
            deal_id=deal_id_for(a.id) if a.winner_id else None)


class ReauctionIn(BaseModel):
    start_price_fen: PositiveFen
    starts_at: AwareTimestamp
    ends_at: AwareTimestamp


class BidIn(BaseModel):
    amount_fen: PositiveFen


class ProxyIn(BaseModel):
    max_fen: PositiveFen


class BidOut(BaseModel):
    accepted: bool
    sequence: int | None
    amount_fen: int
    high_bid_fen: int | None
    ends_at: datetime
    automatic_bids: int

    @classmethod
    def of(cls, a: BidAnswer) -> BidOut:
        return cls(accepted=a.accepted, sequence=a.sequence, amount_fen=a.amount_fen,
                   high_bid_fen=a.high_bid_fen, ends_at=a.ends_at,
                   automatic_bids=a.automatic_bids)


class RegistrationOut(BaseModel):
    auction_id: uuid.UUID
    bidder_id: str
    bidder_number: str = Field(description="your bid number (竞买号) in this auction")
    deposit_fen: int


# -- listing trades -----------------------------------------------------------------------------

class ListingTradeIn(BaseModel):
    listing_id: uuid.UUID
    listed_price_fen: PositiveFen
    increment_fen: PositiveFen
    deposit_fen: Annotated[Fen, Field(description="保证金 in fen; 0: none")]
    working_days: int = int_field(default=20, ge=1, le=250,
                                  description="announcement period in working days")
    extension_working_days: int = int_field(default=MIN_EXTENSION_WORKING_DAYS,
                                            ge=MIN_EXTENSION_WORKING_DAYS, le=250,
                                            description="length of one extension cycle")
    max_extensions: int = int_field(default=3, ge=0, le=50,
                                    description="extension cycles before failing")
    free_quote_seconds: int = int_field(default=3600, gt=0, le=30 * 86400,
                                        description="自由报价期 length")
    countdown_seconds: int = int_field(default=300, gt=0, le=86400,
                                       description="限时竞价期 countdown, restarted by each bid")


class PublicBid(BidderShown):
    """A quote of the online bidding; its bidder shown by bid number."""

    sequence: int
    amount_fen: int
    at: datetime


class ListingTradeOut(BiddersShown):
    """The public state. Who registered or qualified is not shown (nor how many, until the
    announcement period is over): it would invite collusion."""

    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: str
    region: str
    status: str
    listed_price_fen: int
    increment_fen: int
    deposit_fen: int
    announced_at: datetime
    working_days: int
    extension_working_days: int
    max_extensions: int
    free_quote_seconds: int
    countdown_seconds: int
    period_ends_at: datetime
    extensions: int
    qualified_buyers: int | None = None
    bidding_opens_at: datetime | None = None
    free_quote_ends_at: datetime | None = None
    bidding_ends_at: datetime | None = None
    high_bid_fen: int | None = None
    bids: list[PublicBid] = Field(default_factory=list)
    failure: str | None = None
    closed_at: datetime | None = None
    price_fen: int | None = None
    deal_id: uuid.UUID | None = None

    @classmethod
    def of(cls, t: ListingTrade, viewer: Viewer, numbers: Mapping[str, int]) -> ListingTradeOut:
        terms, ladder = t.terms, t.ladder
        high = ladder.high if ladder else None

        return cls(
            id=t.id, listing_id=t.listing_id, seller_id=t.seller_id, region=t.region,
            status=t.status.value, listed_price_fen=terms.listed_price_fen,
            increment_fen=terms.increment_fen, deposit_fen=terms.deposit_fen,
            announced_at=terms.announced_at, working_days=terms.working_days,
            extension_working_days=terms.extension_working_days,
            max_extensions=terms.max_extensions,
            free_quote_seconds=int(terms.free_quote.total_seconds()),
            countdown_seconds=int(terms.countdown.total_seconds()),
            period_ends_at=t.period_ends_at, extensions=t.extensions,
            qualified_buyers=None if t.status is TradeStatus.ANNOUNCED else len(t.qualified),
            bidding_opens_at=ladder.opens_at if ladder else None,
            free_quote_ends_at=ladder.opens_at + terms.free_quote if ladder else None,
            bidding_ends_at=ladder.ends_at if ladder else None,
            high_bid_fen=high.amount_fen if high else None,
            bids=[PublicBid(sequence=b.sequence, amount_fen=b.amount_fen, at=b.at,
                            **bidder_json(viewer, b.bidder_id, numbers.get(b.bidder_id)))
                  for b in t.bids],
            failure=t.failure.value if t.failure else None, closed_at=t.closed_at,
            **bidders_json(viewer, numbers, t.winner_id), price_fen=t.price_fen,
            deal_id=deal_id_for(t.id) if t.winner_id else None)


class ListingTradeRegistrationOut(BaseModel):
    listing_trade_id: uuid.UUID
    bidder_id: str
    bidder_number: str = Field(description="your bid number (竞买号) in this trade")
    deposit_fen: int
    qualified: bool


class ListingTradeBidOut(BaseModel):
    accepted: bool
    sequence: int
    amount_fen: int
    high_bid_fen: int
    ends_at: datetime


# -- notices ------------------------------------------------------------------------------------

TransferMode = Literal[tuple(sorted(TRANSFER_MODES))]  # type: ignore[valid-type]


class NoticeIn(BaseModel):
    listing_id: uuid.UUID
    project_name: str = text(200, min_length=1, description="项目名称")
    abstract: str = text(10_000, min_length=1)
    transfer_mode: TransferMode = Field(examples=["transfer"])
    price_fen: Annotated[PositiveFen, Field(description="the agreed price in fen")]
    buyer_id: SubjectId
    buyer_name: str = text(200, min_length=1)
    buyer_relation: BuyerRelation = Field(description=(
        "none, inventor (完成人) or related_party (关联方): stated explicitly, and flagged "
        "in the published notice unless none"))
    days: int = int_field(default=MIN_NOTICE_DAYS, ge=1, le=365,
                          description=f"calendar days, at least {MIN_NOTICE_DAYS}")


class ObjectionIn(BaseModel):
    grounds: str = text(10_000, description="the grounds of the objection (异议)")


class ResolutionIn(BaseModel):
    outcome: ObjectionOutcome
    reason: Text


class ObjectionOut(BaseModel):
    """An objection as published: its grounds and outcome, not who filed it (the events
    keep that for the record)."""

    id: uuid.UUID
    grounds: str
    filed_at: datetime
    outcome: str | None
    reason: str | None
    resolved_at: datetime | None


class NoticeOut(BaseModel):
    id: uuid.UUID
    listing_id: uuid.UUID
    region: str
    status: str
    project_name: str
    abstract: str
    transfer_mode: str
    price_fen: int
    seller_id: str
    buyer_id: str
    buyer_name: str
    buyer_relation: str
    buyer_flagged: bool = Field(description="the buyer is an inventor or a related party")
    published_at: datetime
    days: int
    ends_at: datetime
    closed_at: datetime | None
    deal_id: uuid.UUID | None = Field(default=None, description="once the deal stands")
    pending_objections: int
    objections: list[ObjectionOut]

    @classmethod
    def of(cls, n: Notice) -> NoticeOut:
        t = n.terms
        return cls(
            id=n.id, listing_id=n.listing_id, region=n.region, status=n.status.value,
            project_name=t.project_name, abstract=t.abstract, transfer_mode=t.transfer_mode,
            price_fen=t.price_fen, seller_id=t.seller_id, buyer_id=t.buyer_id,
            buyer_name=t.buyer_name, buyer_relation=t.buyer_relation.value,
            buyer_flagged=t.buyer_relation is not BuyerRelation.NONE,
            published_at=t.published_at, days=t.days, ends_at=n.ends_at,
            closed_at=n.closed_at, pending_objections=len(n.pending),
            deal_id=deal_id_for(n.id) if n.status is NoticeStatus.CONCLUDED else None,
            objections=[ObjectionOut(id=o.id, grounds=o.grounds, filed_at=o.filed_at,
                                     outcome=o.outcome.value if o.outcome else None,
                                     reason=o.reason, resolved_at=o.resolved_at)
                        for o in n.objections])
