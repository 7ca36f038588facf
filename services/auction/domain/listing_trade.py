"""Listing trade (挂牌交易): a listed price announced for a number of working days.

Intended buyers (意向受让方) register and are qualified once their deposit is confirmed. When
the announcement period ends (:meth:`ListingTrade.end_period`):

- no qualified buyer: the period runs another cycle of at least 5 working days, up to
  ``max_extensions`` times; after that the procedure fails (``no-qualified-buyer``);
- exactly one: the deal is made at the listed price;
- two or more: online bidding (网络竞价) among the qualified buyers, with the bid rules of
  :mod:`~services.auction.domain.bidding` from the listed price: a free-quote period
  (自由报价期), then a timed period (限时竞价期) whose countdown every bid restarts. The timed
  period is the ladder's anti-sniping rule with a window equal to the countdown: it ends one
  countdown after the free-quote period, or after the last bid. The highest bid wins; no bid at
  all fails the procedure (``no-bid``): among equal claims at the listed price no buyer can be
  preferred.

Periods are counted in working days of the official calendar, the announcement day not counted,
and end at midnight in Shanghai after their last working day.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from services.auction.domain.bidding import (
    Bid,
    BidOutcome,
    Ladder,
    RejectReason,
    accepted_events,
    evolve,
    rejected_event,
)
from services.auction.domain.checks import TermsCheck, fen, utc
from services.auction.domain.deals import deal_events, failure_event
from services.auction.domain.errors import IllegalTransition, RegistrationRefused
from services.auction.domain.workdays import add_working_days, end_of_day, local_date
from shared.events.auction import (
    AuctionAnnounced,
    BidderQualified,
    BidderRegistered,
    ListingBiddingStarted,
    ListingPeriodExtended,
    ListingTradeTermsPublished,
)
from shared.events.base import Event

__all__ = [
    "MIN_EXTENSION_WORKING_DAYS",
    "ListingTrade",
    "ListingTradeTerms",
    "TradeFailure",
    "TradeStatus",
]

MIN_EXTENSION_WORKING_DAYS: Final = 5


class TradeStatus(StrEnum):
    ANNOUNCED = "announced"
    BIDDING = "bidding"
    CLOSED = "closed"
    FAILED = "failed"


class TradeFailure(StrEnum):
    NO_QUALIFIED_BUYER = "no-qualified-buyer"
    NO_BID = "no-bid"
    WINNER_DEFAULTED = "winner-defaulted"  # the buyer did not pay (settlement's DealDefaulted)


@dataclass(frozen=True, slots=True)
class ListingTradeTerms:
    listed_price_fen: int
    increment_fen: int
    deposit_fen: int
    announced_at: datetime
    working_days: int = 20
    extension_working_days: int = MIN_EXTENSION_WORKING_DAYS
    max_extensions: int = 3
    free_quote: timedelta = timedelta(hours=1)
    countdown: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        c = TermsCheck()
        c.fen(self.listed_price_fen, "listed_price_fen")
        c.fen(self.increment_fen, "increment_fen")
        c.fen(self.deposit_fen, "deposit_fen", minimum=0)
        c.count(self.working_days, "working_days", minimum=1)
        c.count(self.extension_working_days, "extension_working_days",
                minimum=MIN_EXTENSION_WORKING_DAYS)
        c.count(self.max_extensions, "max_extensions", minimum=0)
        c.require(self.free_quote > timedelta(0), "free_quote", "must be positive")
        c.require(self.countdown > timedelta(0), "countdown", "must be positive")
        if c.aware(self.announced_at, "announced_at"):
            object.__setattr__(self, "announced_at", utc(self.announced_at))
        c.raise_if_failed("listing-trade terms")


@dataclass(frozen=True, slots=True)
class ListingTrade:
    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: str
    region: str
    terms: ListingTradeTerms
    last_day: date
    """The last working day of the current announcement cycle."""
    status: TradeStatus = TradeStatus.ANNOUNCED
    extensions: int = 0
    registered: frozenset[str] = frozenset()
    qualified: frozenset[str] = frozenset()
    ladder: Ladder | None = None
    failure: TradeFailure | None = None
    closed_at: datetime | None = None

    @property
    def period_ends_at(self) -> datetime:
        return end_of_day(self.last_day)

    @property
    def bids(self) -> tuple[Bid, ...]:
        return self.ladder.bids if self.ladder else ()

    @property
    def ends_at(self) -> datetime | None:
        """When bidding ends (None before bidding)."""
        return self.ladder.ends_at if self.ladder else None

    @property
    def winner_id(self) -> str | None:
        if self.status is not TradeStatus.CLOSED:
            return None
        high = self.ladder.high if self.ladder else None
        return high.bidder_id if high else next(iter(self.qualified))

    @property
    def price_fen(self) -> int | None:
        if self.status is not TradeStatus.CLOSED:
            return None
        high = self.ladder.high if self.ladder else None
        return high.amount_fen if high else self.terms.listed_price_fen

    # -- announcing -------------------------------------------------------------------------
    @classmethod
    def announce(
        cls, terms: ListingTradeTerms, *, listing_id: uuid.UUID, seller_id: str, region: str,
        procedure_id: uuid.UUID | None = None,
    ) -> tuple[ListingTrade, tuple[AuctionAnnounced, ListingTradeTermsPublished]]:
        """Raises ``CalendarNotCovered`` if the period runs into a year the calendar lacks."""
        pid = procedure_id or uuid.uuid4()
        last_day = add_working_days(local_date(terms.announced_at), terms.working_days)
        trade = cls(pid, listing_id, seller_id, region, terms, last_day)
        announced = AuctionAnnounced(
            procedure_id=pid, listing_id=listing_id, route="listing", region=region,
            announced_at=terms.announced_at, starts_at=terms.announced_at)
        published = ListingTradeTermsPublished(
            procedure_id=pid, region=region, occurred_at=terms.announced_at, actor=seller_id,
            listing_id=listing_id, listed_price_fen=terms.listed_price_fen,
            increment_fen=terms.increment_fen, deposit_fen=terms.deposit_fen,
            working_days=terms.working_days, period_ends_at=trade.period_ends_at,
            extension_working_days=terms.extension_working_days,
            max_extensions=terms.max_extensions,
            free_quote_seconds=int(terms.free_quote.total_seconds()),
            countdown_seconds=int(terms.countdown.total_seconds()))
        return trade, (announced, published)

    # -- intended buyers --------------------------------------------------------------------
    def register(self, bidder_id: str, at: datetime) -> tuple[ListingTrade, BidderRegistered]:
        at = utc(at)
        self._require_announcement_running(at)
        if bidder_id == self.seller_id:
            raise RegistrationRefused("The seller cannot buy its own listing.")
        if bidder_id in self.registered:
            raise RegistrationRefused(f"{bidder_id} is already registered.")
        return (replace(self, registered=self.registered | {bidder_id}),
                BidderRegistered(procedure_id=self.id, region=self.region, occurred_at=at,
                                 actor=bidder_id, bidder_id=bidder_id,
                                 deposit_fen=self.terms.deposit_fen))

    def qualify(self, bidder_id: str, at: datetime
                ) -> tuple[ListingTrade, BidderQualified] | None:
        """The buyer's deposit is confirmed. None if it already was (a redelivered event)."""
        at = utc(at)
        if bidder_id in self.qualified:
            return None
        if bidder_id not in self.registered:
            raise RegistrationRefused(f"{bidder_id} has not registered for this listing.")
        self._require_announcement_running(at)
        return (replace(self, qualified=self.qualified | {bidder_id}),
                BidderQualified(procedure_id=self.id, region=self.region, occurred_at=at,
                                actor="settlement", bidder_id=bidder_id))

    def _require_announcement_running(self, at: datetime) -> None:
        if self.status is not TradeStatus.ANNOUNCED or at >= self.period_ends_at:
            raise RegistrationRefused("The announcement period has ended.")
        if at < self.terms.announced_at:
            raise RegistrationRefused("The listing has not been announced yet.")

    # -- the end of the announcement period -------------------------------------------------
    def end_period(self, at: datetime, *, bidding_starts_at: datetime | None = None
                   ) -> tuple[ListingTrade, tuple[Event, ...]]:
        """Decide at the period's end: extend, fail, deal at the listed price, or bidding.

        Bidding's free-quote period starts at ``bidding_starts_at`` (default: now).
        """
        at = utc(at)
        if self.status is not TradeStatus.ANNOUNCED:
            raise IllegalTransition(f"The listing trade is {self.status.value}.")
        if at < self.period_ends_at:
            raise IllegalTransition(
                f"The announcement period runs until {self.period_ends_at.isoformat()}.",
                ends_at=self.period_ends_at.isoformat())
        if not self.qualified:
            return self._extend_or_fail(at)
        if len(self.qualified) == 1:
            closed = replace(self, status=TradeStatus.CLOSED, closed_at=at)
            [buyer] = self.qualified
            return closed, self._deal(buyer, self.terms.listed_price_fen, at)
        return self._start_bidding(at, utc(bidding_starts_at) if bidding_starts_at else at)

    def _extend_or_fail(self, at: datetime) -> tuple[ListingTrade, tuple[Event, ...]]:
        terms = self.terms
        if self.extensions >= terms.max_extensions:
            failed = replace(self, status=TradeStatus.FAILED, closed_at=at,
                             failure=TradeFailure.NO_QUALIFIED_BUYER)
            return failed, (failure_event(procedure_id=self.id, listing_id=self.listing_id,
                                          region=self.region, at=at,
                                          reason=TradeFailure.NO_QUALIFIED_BUYER.value),)
        extended = replace(
            self, extensions=self.extensions + 1,
            last_day=add_working_days(self.last_day, terms.extension_working_days))
        return extended, (ListingPeriodExtended(
            procedure_id=self.id, region=self.region, occurred_at=at, actor="auction",
            cycle=extended.extensions, working_days=terms.extension_working_days,
            previous_ends_at=self.period_ends_at, ends_at=extended.period_ends_at),)

    def _start_bidding(self, at: datetime, starts_at: datetime
                       ) -> tuple[ListingTrade, tuple[Event, ...]]:
        if starts_at < at:
            raise IllegalTransition("Bidding cannot start in the past.")
        terms = self.terms
        free_quote_ends = starts_at + terms.free_quote
        ladder = Ladder(terms.listed_price_fen, terms.increment_fen, starts_at,
                        free_quote_ends + terms.countdown, terms.countdown)
        bidding = replace(self, status=TradeStatus.BIDDING, ladder=ladder)
        return bidding, (ListingBiddingStarted(
            procedure_id=self.id, region=self.region, occurred_at=at, actor="auction",
            qualified_bidders=len(self.qualified), free_quote_starts_at=starts_at,
            free_quote_ends_at=free_quote_ends, ends_at=ladder.ends_at),)

    # -- bidding ----------------------------------------------------------------------------
    def place_bid(self, bidder_id: str, amount_fen: int, at: datetime
                  ) -> BidOutcome[ListingTrade]:
        at, amount_fen = utc(at), fen(amount_fen)
        ladder = self.ladder
        reason: RejectReason | None
        if ladder is None or self.status is not TradeStatus.BIDDING:
            reason = (RejectReason.NOT_OPEN if self.status is TradeStatus.ANNOUNCED
                      else RejectReason.AFTER_CLOSE)
        else:
            reason = ladder.timing(at)
            if reason is None and bidder_id not in self.qualified:
                reason = RejectReason.NOT_QUALIFIED
            reason = reason or ladder.price_check(bidder_id, amount_fen)
        if reason is not None:
            rejected = rejected_event(ladder, bidder_id, amount_fen, at, reason,
                                      procedure_id=self.id, region=self.region)
            return BidOutcome(self, (rejected,), reason=reason)
        assert ladder is not None
        after = ladder.accept(bidder_id, amount_fen, at)
        events = accepted_events(ladder, after, procedure_id=self.id, region=self.region)
        return BidOutcome(evolve(self, ladder=after), tuple(events), after.since(ladder.count))

    def close(self, at: datetime) -> tuple[ListingTrade, tuple[Event, ...]]:
        """Close the bidding once the timed period's countdown has run out."""
        at = utc(at)
        ladder = self.ladder
        if self.status is not TradeStatus.BIDDING or ladder is None:
            raise IllegalTransition(f"The listing trade is {self.status.value}, not bidding.")
        if at < ladder.ends_at:
            raise IllegalTransition(f"Bidding runs until {ladder.ends_at.isoformat()}.",
                                    ends_at=ladder.ends_at.isoformat())
        high = ladder.high
        if high is None:
            failed = replace(self, status=TradeStatus.FAILED, closed_at=at,
                             failure=TradeFailure.NO_BID)
            return failed, (failure_event(procedure_id=self.id, listing_id=self.listing_id,
                                          region=self.region, reason=TradeFailure.NO_BID.value,
                                          at=at),)
        closed = replace(self, status=TradeStatus.CLOSED, closed_at=at)
        return closed, self._deal(high.bidder_id, high.amount_fen, at)

    def _deal(self, buyer_id: str, price_fen: int, at: datetime) -> tuple[Event, ...]:
        return deal_events(procedure_id=self.id, listing_id=self.listing_id, route="listing",
                           region=self.region, seller_id=self.seller_id, buyer_id=buyer_id,
                           price_fen=price_fen, at=at,
                           accepted_bids=self.ladder.count if self.ladder else 0)
