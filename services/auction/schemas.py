"""The auction service's HTTP models: requests, responses, and the public views of bidders.

What a reader of a procedure is shown of its bidders is decided in one place: bid numbers,
and identities only to those who may know them (the rule is
:class:`~services.auction.domain.anonymity.Viewer`, the reader :func:`viewer_of`); the views
below name each field a reader may see, nothing else.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from services.auction.domain.anonymity import Viewer, label
from services.auction.domain.auction import Auction, deposit_for
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
    Objection,
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


class TradeBidView(BidderShown):
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
    bids: list[TradeBidView] = Field(default_factory=list)
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
            bids=[TradeBidView(sequence=b.sequence, amount_fen=b.amount_fen, at=b.at,
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
    objector_name: str | None = Field(default=None, description=(
        "who filed an objection without an account: shown to the operators and regulators of "
        "the notice's region only"))
    objector_contact: str | None = Field(default=None, description=(
        "how to reach that objector (phone or e-mail): for the same readers only"))


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
    def of(cls, n: Notice, objectors: Mapping[uuid.UUID, tuple[str, str]] | None = None
           ) -> NoticeOut:
        """``objectors``: the name and contact of public objections, for a reader who may
        see them (none for the others)."""
        t = n.terms
        objectors = objectors or {}
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
                                     reason=o.reason, resolved_at=o.resolved_at,
                                     objector_name=objectors.get(o.id, (None, None))[0],
                                     objector_contact=objectors.get(o.id, (None, None))[1])
                        for o in n.objections])


# -- the public views (issue 14): no token, no account of anyone ---------------------------------
#
# Each public model names every field the public may see and is built field by field from the
# rows or the state, never from a private model: a field added to a private view cannot leak
# into a public one. PUBLIC_MODELS lists them all (checked against an allow-list by the tests).

PublicStatus = Literal["upcoming", "live", "ended"]
Route = Literal["auction", "listing", "negotiated"]


class PublicResult(BaseModel):
    """How an ended procedure came out (成交公告): sold, at what price, to which bid number —
    or failed, and why."""

    outcome: Literal["sold", "failed"]
    price_fen: int | None = Field(description="the hammer price or the deal price; null if failed")
    winner_number: str | None = Field(description=(
        "the winner's bid number (竞买号); null if failed or without bidding (negotiated)"))
    failure: str | None = Field(description=(
        "why it failed: no-bid, reserve-not-met, no-qualified-buyer, objection-upheld, "
        "winner-defaulted; null if sold"))
    ended_at: datetime


def public_result(*, ended_at: datetime | None, failure: str | None, price_fen: int | None,
                  winner_number: int | None) -> PublicResult | None:
    """The result of a procedure closed at ``ended_at`` (None while it is not closed)."""
    if ended_at is None:
        return None
    if failure is not None:
        return PublicResult(outcome="failed", price_fen=None, winner_number=None,
                            failure=failure, ended_at=ended_at)
    return PublicResult(outcome="sold", price_fen=price_fen,
                        winner_number=label(winner_number) if winner_number else None,
                        failure=None, ended_at=ended_at)


class PublicProcedure(BaseModel):
    """An announcement of a procedure of any route (拍卖公告, 挂牌公告, 协议定价公示)."""

    id: uuid.UUID
    route: Route
    listing_id: uuid.UUID
    title: str
    field: str | None = Field(description="the listing's technology field, e.g. new_materials")
    region: str
    status: PublicStatus = Field(description=(
        "on the service clock: upcoming before an auction's start; live while its bidding, a "
        "listing trade or a notice's objection period runs; ended after"))
    announced_at: datetime
    starts_at: datetime
    ends_at: datetime = Field(description=(
        "an auction's current end (moved by late bids), a listing trade's period or bidding "
        "end, a notice's objection deadline"))
    price_fen: int = Field(description="the start price, the listed price or the agreed price")
    high_bid_fen: int | None
    bid_count: int
    result: PublicResult | None = Field(description="null until the procedure is closed")

    @classmethod
    def of_row(cls, r: Mapping[str, Any]) -> PublicProcedure:
        return cls(
            id=r["id"], route=r["route"], listing_id=r["listing_id"], title=r["title"],
            field=r["field"], region=r["region"], status=r["status"],
            announced_at=r["announced_at"], starts_at=r["starts_at"], ends_at=r["ends_at"],
            price_fen=r["price_fen"], high_bid_fen=r["high_bid_fen"], bid_count=r["bid_count"],
            result=public_result(ended_at=r["ended_at"], failure=r["failure"],
                                 price_fen=r["deal_price_fen"],
                                 winner_number=r["winner_number"]))


class PublicProcedurePage(BaseModel):
    items: list[PublicProcedure]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")


class PublicAuction(BaseModel):
    """An auction's public state: its terms, the high bid by bid number, its result."""

    id: uuid.UUID
    listing_id: uuid.UUID
    title: str
    region: str
    start_price_fen: int
    increment_fen: int
    deposit_fen: int
    has_reserve: bool = Field(description="whether a reserve price (保留价, secret) is set")
    starts_at: datetime
    ends_at: datetime = Field(description="the current end, moved by late bids")
    status: str = Field(description="announced, open, closed or failed")
    high_bid_fen: int | None
    high_bidder_number: str | None = Field(description="the high bid's 竞买号")
    bid_count: int
    result: PublicResult | None = Field(description="null until the auction is closed")

    @classmethod
    def of_row(cls, r: Mapping[str, Any], now: datetime) -> PublicAuction:
        """From the auction's row (see store.public.auction)."""
        closed = r["closed_at"] is not None
        status = ("failed" if r["failure"] else "closed") if closed else (
            "announced" if now < r["starts_at"] else "open")
        return cls(
            id=r["id"], listing_id=r["listing_id"], title=r["title"], region=r["region"],
            start_price_fen=r["start_price_fen"], increment_fen=r["increment_fen"],
            deposit_fen=deposit_for(r["start_price_fen"], r["deposit_ratio"]),
            has_reserve=r["has_reserve"], starts_at=r["starts_at"], ends_at=r["ends_at"],
            status=status, high_bid_fen=r["high_bid_fen"],
            high_bidder_number=label(n) if (n := r["high_bidder_number"]) else None,
            bid_count=r["bid_count"],
            result=public_result(ended_at=r["closed_at"], failure=r["failure"],
                                 price_fen=r["high_bid_fen"],
                                 winner_number=r["high_bidder_number"]))

    @classmethod
    def of_state(cls, a: Auction, now: datetime, numbers: Mapping[str, int], title: str
                 ) -> PublicAuction:
        """From the state its writer holds (the live stream's first event)."""
        high = a.high_bid
        return cls(
            id=a.id, listing_id=a.listing_id, title=title, region=a.region,
            start_price_fen=a.terms.start_price_fen, increment_fen=a.terms.increment_fen,
            deposit_fen=a.terms.deposit_fen, has_reserve=a.terms.reserve_fen is not None,
            starts_at=a.terms.starts_at, ends_at=a.ends_at, status=a.status_at(now).value,
            high_bid_fen=high.amount_fen if high else None,
            high_bidder_number=numbered(numbers, high.bidder_id) if high else None,
            bid_count=a.ladder.count,
            result=public_result(
                ended_at=a.closed_at, failure=a.failure.value if a.failure else None,
                price_fen=a.hammer_price_fen,
                winner_number=numbers.get(a.winner_id) if a.winner_id else None))


class PublicBid(BaseModel):
    """An accepted bid of an auction, its bidder shown by bid number only."""

    bidder_number: str = Field(description="the bidder's bid number (竞买号)", examples=["0007"])
    sequence: int
    amount_fen: int
    at: datetime
    automatic: bool = Field(description="placed by the engine for a proxy maximum")

    @classmethod
    def of_row(cls, r: Mapping[str, Any]) -> PublicBid:
        return cls(bidder_number=label(r["number"]), sequence=r["seq"],
                   amount_fen=r["amount_fen"], at=r["at"], automatic=r["automatic"])


class PublicLiveBid(PublicBid):
    """The data of a ``bid`` event of the public stream."""

    high_bid_fen: int = Field(description="the high bid once this bid is accepted")
    ends_at: datetime = Field(description="the auction's end once this bid is accepted")


def public_live_bid_json(*, sequence: int, number: int | None, amount_fen: int, at: datetime,
                         automatic: bool, ends_at: datetime) -> dict[str, Any]:
    """A :class:`PublicLiveBid` as JSON data, without building the model (the stream sends one
    per bid to each reader). Every accepted bid is the high bid when it is accepted."""
    return {"bidder_number": label(number) if number is not None else None,
            "sequence": sequence, "amount_fen": amount_fen, "at": at.isoformat(),
            "automatic": automatic, "high_bid_fen": amount_fen, "ends_at": ends_at.isoformat()}


class PublicExtended(BaseModel):
    """The data of an ``extended`` event: a late bid moved the end."""

    ends_at: datetime


class PublicClosed(BaseModel):
    """The data of a ``closed`` event: the auction's result; the stream ends after it."""

    result: PublicResult


class PublicListingTrade(BaseModel):
    """A listing trade's public state (挂牌交易)."""

    id: uuid.UUID
    listing_id: uuid.UUID
    title: str
    region: str
    price_fen: int = Field(description="the listed price (挂牌价)")
    status: str = Field(description="announced, bidding, closed or failed")
    period_ends_at: datetime = Field(description="the end of the announcement period")
    ends_at: datetime | None = Field(description="the end of the online bidding, once it runs")
    bid_count: int
    high_bid_fen: int | None
    result: PublicResult | None = Field(description="null until the trade is closed")

    @classmethod
    def of_row(cls, r: Mapping[str, Any]) -> PublicListingTrade:
        return cls(
            id=r["id"], listing_id=r["listing_id"], title=r["title"], region=r["region"],
            price_fen=r["listed_price_fen"], status=r["status"],
            period_ends_at=r["period_ends_at"], ends_at=r["bidding_ends_at"],
            bid_count=r["bid_count"], high_bid_fen=r["high_bid_fen"],
            result=public_result(ended_at=r["closed_at"], failure=r["failure"],
                                 price_fen=r["price_fen"], winner_number=r["winner_number"]))


class PublicObjection(BaseModel):
    """An objection (异议) as published: its reason and outcome, never who filed it."""

    id: uuid.UUID
    reason: str = Field(description="the objection's grounds")
    filed_at: datetime
    status: Literal["open", "upheld", "dismissed"]
    outcome: str | None = Field(description="the operator's reason for upholding or dismissing")

    @classmethod
    def of(cls, o: Objection) -> PublicObjection:
        return cls(id=o.id, reason=o.grounds, filed_at=o.filed_at,
                   status=o.outcome.value if o.outcome else "open", outcome=o.reason)


class PublicNotice(BaseModel):
    """A negotiated deal's public notice (协议定价公示) with its objections and outcomes."""

    id: uuid.UUID
    listing_id: uuid.UUID
    title: str
    region: str
    price_fen: int = Field(description="the agreed price")
    published_at: datetime
    objection_until: datetime = Field(description="objections are filed until then")
    status: str = Field(description="published, concluded or failed")
    objections: list[PublicObjection]

    @classmethod
    def of(cls, n: Notice, title: str) -> PublicNotice:
        return cls(id=n.id, listing_id=n.listing_id, title=title or n.terms.project_name,
                   region=n.region, price_fen=n.terms.price_fen,
                   published_at=n.terms.published_at, objection_until=n.ends_at,
                   status=n.status.value, objections=[PublicObjection.of(o) for o in n.objections])


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{3,28}[0-9]")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


def _phone_or_email(value: str) -> str:
    text_ = value.strip()
    if not (_EMAIL.fullmatch(text_) or _PHONE.fullmatch(text_)):
        raise PydanticCustomError("contact", "give a phone number or an e-mail address")
    return value


class OpenObjectionIn(BaseModel):
    """An objection from anyone, without an account: who (kept for the operators, never
    published) and why (published)."""

    name: Annotated[str, text(100, min_length=1, description="the objector's name",
                              examples=["王晓明"]), AfterValidator(_not_blank)]
    contact: Annotated[str, text(200, min_length=1, description=(
        "a phone number or an e-mail address to answer the objection"),
        examples=["wangxm@example.cn"]), AfterValidator(_phone_or_email)]
    reason: Annotated[str, text(2000, min_length=10, description="the grounds (published)"),
                      AfterValidator(_not_blank)]


PUBLIC_MODELS: tuple[type[BaseModel], ...] = (
    PublicResult, PublicProcedure, PublicProcedurePage, PublicAuction, PublicBid,
    PublicLiveBid, PublicExtended, PublicClosed, PublicListingTrade, PublicObjection,
    PublicNotice)
"""Every model the public views answer with (the allow-list test reads this)."""
