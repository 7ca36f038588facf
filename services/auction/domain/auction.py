"""Ascending auction (增价拍卖) on the model of the online judicial-auction rules.

announced → open (from ``starts_at``) → closed (a winner at the hammer price) or failed (流拍).
Bidders register, pay a deposit of 5–20 % of the start price and are qualified when it is
confirmed; only qualified bidders bid or set proxies. The bid rules are those of
:mod:`~services.auction.domain.bidding`. Every transition returns the new state and its events.

Proxy bids (代理出价): a qualified bidder leaves a maximum, and the engine bids for it, on the
bid grid and never above that maximum, whenever it is outbid. Two proxies are resolved at once,
eBay-style, instead of trading increments: the higher maximum wins at one increment above the
lower one (capped at its own maximum), the earlier proxy wins a tie. Each automatic bid is an
ordinary accepted bid in the sequence. Proxy maxima are private: no event carries them, so the
service keeps them in its own store.

``place_bid`` is the hot path: constant time per bid (the bid chain is shared between states, a
bidder's proxy is a dict lookup and the best competing proxy is one of the first two of a
ranking kept sorted), plus at most two proxy rounds of at most three automatic bids each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Final, Literal

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
from services.auction.domain.errors import (
    IllegalTransition,
    ProxyRefused,
    ReauctionRefused,
    RegistrationRefused,
)
from services.auction.domain.workdays import local_date
from shared.events.auction import (
    AuctionAnnounced,
    AuctionTermsPublished,
    BidderQualified,
    BidderRegistered,
)
from shared.events.base import Event

__all__ = [
    "KEEP",
    "Auction",
    "AuctionRules",
    "AuctionTerms",
    "FailureReason",
    "Proxy",
    "ProxyBook",
    "Status",
    "deposit_for",
]


class Status(StrEnum):
    ANNOUNCED = "announced"
    OPEN = "open"
    CLOSED = "closed"
    FAILED = "failed"


class FailureReason(StrEnum):
    NO_BID = "no-bid"
    RESERVE_NOT_MET = "reserve-not-met"
    WINNER_DEFAULTED = "winner-defaulted"  # the winner did not pay (settlement's DealDefaulted)


@dataclass(frozen=True, slots=True)
class AuctionRules:
    """An exchange's configuration; the defaults are the judicial-auction numbers."""

    min_notice_days: int = 7
    """Shanghai calendar days from the announcement's date to the start's date."""
    min_duration: timedelta = timedelta(hours=24)
    extension_window: timedelta = timedelta(minutes=5)
    deposit_ratio_min: Decimal = Decimal("0.05")
    deposit_ratio_max: Decimal = Decimal("0.20")
    reauction_within_days: int = 30
    """Shanghai calendar days from the failure's date to the re-auction's announcement."""
    reauction_max_cut: Decimal = Decimal("0.20")


@dataclass(frozen=True, slots=True)
class AuctionTerms:
    """What the seller and the operator fix before announcing; validated on construction.

    ``reserve_fen`` (保留价) is optional and secret until the close. Instants are stored in UTC.
    """

    start_price_fen: int
    increment_fen: int
    deposit_ratio: Decimal
    announce_at: datetime
    starts_at: datetime
    ends_at: datetime
    reserve_fen: int | None = None
    rules: AuctionRules = AuctionRules()

    def __post_init__(self) -> None:
        rules, c = self.rules, TermsCheck()
        start_ok = c.fen(self.start_price_fen, "start_price_fen")
        c.fen(self.increment_fen, "increment_fen")
        if self.reserve_fen is not None and c.fen(self.reserve_fen, "reserve_fen") and start_ok:
            c.require(self.reserve_fen >= self.start_price_fen, "reserve_fen",
                      "must not be below the start price")
        c.ratio(self.deposit_ratio, "deposit_ratio", rules.deposit_ratio_min,
                rules.deposit_ratio_max)
        names = ("announce_at", "starts_at", "ends_at")
        if all([c.aware(getattr(self, n), n) for n in names]):
            for n in names:
                object.__setattr__(self, n, utc(getattr(self, n)))
            notice = (local_date(self.starts_at) - local_date(self.announce_at)).days
            c.require(notice >= rules.min_notice_days, "starts_at",
                      f"must be at least {rules.min_notice_days} days (Shanghai calendar) "
                      "after the announcement")
            c.require(self.ends_at - self.starts_at >= rules.min_duration, "ends_at",
                      f"bidding must last at least {rules.min_duration}")
        c.raise_if_failed("auction terms")

    @property
    def deposit_fen(self) -> int:
        """The deposit (保证金): the ratio of the start price, rounded up to the fen."""
        return deposit_for(self.start_price_fen, self.deposit_ratio)


def deposit_for(start_price_fen: int, deposit_ratio: Decimal) -> int:
    """The deposit of an auction starting at ``start_price_fen``, rounded up to the fen."""
    amount = Decimal(start_price_fen) * Decimal(deposit_ratio)
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True, slots=True)
class Proxy:
    bidder_id: str
    max_fen: int
    effective_fen: int
    """``max_fen`` rounded down to the bid grid: the most the engine will bid."""
    order: int
    """When the maximum was (last) set; the earlier proxy wins a tie."""


def _no_proxies() -> MappingProxyType[str, Proxy]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProxyBook:
    """At most one proxy per bidder, ranked by effective maximum, then by age."""

    ranking: tuple[Proxy, ...] = ()
    by_bidder: MappingProxyType[str, Proxy] = field(default_factory=_no_proxies)
    issued: int = 0

    def best_against(self, leader: str | None) -> Proxy | None:
        """The strongest proxy of anyone but ``leader`` (looks at two proxies at most)."""
        for proxy in self.ranking:
            if proxy.bidder_id != leader:
                return proxy
        return None

    def with_proxy(self, bidder_id: str, max_fen: int, effective_fen: int) -> ProxyBook:
        proxy = Proxy(bidder_id, max_fen, effective_fen, self.issued + 1)
        others = [p for p in self.ranking if p.bidder_id != bidder_id]
        ranking = sorted([*others, proxy], key=lambda p: (-p.effective_fen, p.order))
        return ProxyBook(tuple(ranking), MappingProxyType({p.bidder_id: p for p in ranking}),
                         proxy.order)


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""For :meth:`Auction.reauction`: keep the previous auction's reserve."""

AuctionEvents = tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Auction:
    id: uuid.UUID
    listing_id: uuid.UUID
    seller_id: str
    region: str
    terms: AuctionTerms
    ladder: Ladder
    registered: frozenset[str] = frozenset()
    qualified: frozenset[str] = frozenset()
    proxies: ProxyBook = field(default_factory=ProxyBook)
    failure: FailureReason | None = None
    closed_at: datetime | None = None
    round: int = 1
    previous_id: uuid.UUID | None = None

    # -- reading ----------------------------------------------------------------------------
    def status_at(self, at: datetime) -> Status:
        if self.closed_at is not None:
            return Status.FAILED if self.failure else Status.CLOSED
        return Status.ANNOUNCED if utc(at) < self.terms.starts_at else Status.OPEN

    @property
    def ends_at(self) -> datetime:
        return self.ladder.ends_at

    @property
    def high_bid(self) -> Bid | None:
        return self.ladder.high

    @property
    def bids(self) -> tuple[Bid, ...]:
        return self.ladder.bids

    @property
    def winner_id(self) -> str | None:
        high = self.ladder.high
        return high.bidder_id if high and self.closed_at and not self.failure else None

    @property
    def hammer_price_fen(self) -> int | None:
        high = self.ladder.high
        return high.amount_fen if high and self.closed_at and not self.failure else None

    # -- announcing -------------------------------------------------------------------------
    @classmethod
    def announce(
        cls, terms: AuctionTerms, *, listing_id: uuid.UUID, seller_id: str, region: str,
        procedure_id: uuid.UUID | None = None,
    ) -> tuple[Auction, tuple[AuctionAnnounced, AuctionTermsPublished]]:
        return cls._announce(terms, listing_id=listing_id, seller_id=seller_id, region=region,
                             procedure_id=procedure_id or uuid.uuid4())

    @classmethod
    def _announce(
        cls, terms: AuctionTerms, *, listing_id: uuid.UUID, seller_id: str, region: str,
        procedure_id: uuid.UUID, round: int = 1, previous_id: uuid.UUID | None = None,
    ) -> tuple[Auction, tuple[AuctionAnnounced, AuctionTermsPublished]]:
        ladder = Ladder(terms.start_price_fen, terms.increment_fen, terms.starts_at,
                        terms.ends_at, terms.rules.extension_window)
        auction = cls(procedure_id, listing_id, seller_id, region, terms, ladder, round=round,
                      previous_id=previous_id)
        announced = AuctionAnnounced(
            procedure_id=procedure_id, listing_id=listing_id, route="auction", region=region,
            announced_at=terms.announce_at, starts_at=terms.starts_at)
        published = AuctionTermsPublished(
            procedure_id=procedure_id, region=region, occurred_at=terms.announce_at,
            actor=seller_id, listing_id=listing_id, start_price_fen=terms.start_price_fen,
            increment_fen=terms.increment_fen, deposit_fen=terms.deposit_fen,
            has_reserve=terms.reserve_fen is not None, starts_at=terms.starts_at,
            ends_at=terms.ends_at,
            extension_seconds=int(terms.rules.extension_window.total_seconds()),
            round=round, previous_procedure_id=previous_id)
        return auction, (announced, published)

    @classmethod
    def reauction(
        cls, previous: Auction, new_start_price_fen: int, at: datetime, *,
        starts_at: datetime, ends_at: datetime,
        reserve_fen: int | Literal[_Keep.KEEP] | None = KEEP,
        procedure_id: uuid.UUID | None = None,
    ) -> tuple[Auction, tuple[AuctionAnnounced, AuctionTermsPublished]]:
        """Announce a failed lot again (再次拍卖), at ``at``.

        Allowed within ``reauction_within_days`` (30) Shanghai days of the failure, with a start
        price cut by at most ``reauction_max_cut`` (20 %) of the previous start price, never
        raised. The other terms carry over; the new ones are validated as any terms are.
        """
        at, rules = utc(at), previous.terms.rules
        if previous.closed_at is None or previous.failure is None:
            raise ReauctionRefused("Only a failed auction (流拍) can be re-auctioned.")
        days = (local_date(at) - local_date(previous.closed_at)).days
        if at < previous.closed_at or days > rules.reauction_within_days:
            raise ReauctionRefused(
                f"A failed lot is re-auctioned within {rules.reauction_within_days} days of "
                f"the failure ({previous.closed_at.isoformat()}).", days=days)
        old = previous.terms.start_price_fen
        floor = Decimal(old) * (1 - rules.reauction_max_cut)
        if not floor <= new_start_price_fen <= old:
            raise ReauctionRefused(
                f"The new start price must be between {floor} and {old} fen (a cut of at most "
                f"{rules.reauction_max_cut:%}).", previous_start_price_fen=old)
        terms = replace(
            previous.terms, start_price_fen=new_start_price_fen, announce_at=at,
            starts_at=starts_at, ends_at=ends_at,
            reserve_fen=previous.terms.reserve_fen if reserve_fen is KEEP else reserve_fen)
        return cls._announce(terms, listing_id=previous.listing_id,
                             seller_id=previous.seller_id, region=previous.region,
                             procedure_id=procedure_id or uuid.uuid4(),
                             round=previous.round + 1, previous_id=previous.id)

    # -- bidders ----------------------------------------------------------------------------
    def register(self, bidder_id: str, at: datetime) -> tuple[Auction, BidderRegistered]:
        at = utc(at)
        self._require_registration_open(at)
        if bidder_id == self.seller_id:
            raise RegistrationRefused("The seller cannot bid on its own lot.")
        if bidder_id in self.registered:
            raise RegistrationRefused(f"{bidder_id} is already registered.")
        return (replace(self, registered=self.registered | {bidder_id}),
                BidderRegistered(procedure_id=self.id, region=self.region, occurred_at=at,
                                 actor=bidder_id, bidder_id=bidder_id,
                                 deposit_fen=self.terms.deposit_fen))

    def qualify(self, bidder_id: str, at: datetime) -> tuple[Auction, BidderQualified] | None:
        """The bidder's deposit is confirmed. None if it already was (a redelivered event)."""
        at = utc(at)
        if bidder_id in self.qualified:
            return None
        if bidder_id not in self.registered:
            raise RegistrationRefused(f"{bidder_id} has not registered for this auction.")
        self._require_registration_open(at)
        return (replace(self, qualified=self.qualified | {bidder_id}),
                BidderQualified(procedure_id=self.id, region=self.region, occurred_at=at,
                                actor="settlement", bidder_id=bidder_id))

    def _require_registration_open(self, at: datetime) -> None:
        if at < self.terms.announce_at:
            raise RegistrationRefused("The auction has not been announced yet.")
        if self.closed_at is not None or at >= self.ladder.ends_at:
            raise RegistrationRefused("Bidding has ended.")

    # -- bidding (the hot path) -------------------------------------------------------------
    def place_bid(self, bidder_id: str, amount_fen: int, at: datetime) -> BidOutcome[Auction]:
        at, amount_fen = utc(at), fen(amount_fen)
        reason = self._refusal(bidder_id, at) or self.ladder.price_check(bidder_id, amount_fen)
        if reason is not None:
            rejected = rejected_event(self.ladder, bidder_id, amount_fen, at, reason,
                                      procedure_id=self.id, region=self.region)
            return BidOutcome(self, (rejected,), reason=reason)
        events: list[Event] = []
        ladder = self._accept(self.ladder, bidder_id, amount_fen, at, events)
        ladder = self._resolve_proxies(ladder, self.proxies, at, events)
        return self._outcome(evolve(self, ladder=ladder), events)

    def set_proxy(self, bidder_id: str, max_fen: int, at: datetime) -> BidOutcome[Auction]:
        """Leave (or raise) a proxy maximum; returns the automatic bids it placed at once.

        Refused with :class:`ProxyRefused` (``reason`` = a bid reason code, or
        ``proxy-not-raised`` when the new maximum is not above the previous one).
        """
        at, max_fen = utc(at), fen(max_fen)
        reason = self._refusal(bidder_id, at)
        effective = self.ladder.floor_to_grid(max_fen)
        if reason is None and effective < self.ladder.minimum():
            reason = RejectReason.BELOW_MINIMUM
        if reason is not None:
            raise ProxyRefused(f"The proxy bid was refused: {reason.value}.",
                               reason=reason.value, minimum_fen=self.ladder.minimum())
        current = self.proxies.by_bidder.get(bidder_id)
        if current is not None and max_fen <= current.max_fen:
            raise ProxyRefused("A proxy maximum can only be raised.", reason="proxy-not-raised")
        proxies = self.proxies.with_proxy(bidder_id, max_fen, effective)
        events: list[Event] = []
        ladder = self._resolve_proxies(self.ladder, proxies, at, events)
        return self._outcome(replace(self, ladder=ladder, proxies=proxies), events)

    def _refusal(self, bidder_id: str, at: datetime) -> RejectReason | None:
        if self.closed_at is not None:
            return RejectReason.AFTER_CLOSE
        reason = self.ladder.timing(at)
        if reason is None and bidder_id not in self.qualified:
            return RejectReason.NOT_QUALIFIED
        return reason

    def _accept(self, ladder: Ladder, bidder_id: str, amount_fen: int, at: datetime,
                events: list[Event], *, automatic: bool = False) -> Ladder:
        after = ladder.accept(bidder_id, amount_fen, at, automatic=automatic)
        events.extend(accepted_events(ladder, after, procedure_id=self.id, region=self.region))
        return after

    def _outcome(self, auction: Auction, events: list[Event]) -> BidOutcome[Auction]:
        return BidOutcome(auction, tuple(events), auction.ladder.since(self.ladder.count))

    def _resolve_proxies(self, ladder: Ladder, proxies: ProxyBook, at: datetime,
                         events: list[Event]) -> Ladder:
        """Let the proxies answer until none can outbid the leader (at most two rounds)."""
        inc = ladder.increment_fen

        def bid(lad: Ladder, proxy: Proxy, amount: int) -> Ladder:
            return self._accept(lad, proxy.bidder_id, amount, at, events, automatic=True)

        # Settles in at most three passes: an opening bid or a challenger's win, then the
        # strongest remaining proxy, which ranks below the new leader's, cannot win.
        for _ in range(3):
            high = ladder.high
            if high is None:
                opener = proxies.best_against(None)
                if opener is None:
                    return ladder
                ladder = bid(ladder, opener, ladder.start_price_fen)
                continue
            challenger = proxies.best_against(high.bidder_id)
            if challenger is None or challenger.effective_fen < high.amount_fen + inc:
                return ladder
            defender = proxies.by_bidder.get(high.bidder_id)
            holds = max(defender.effective_fen, high.amount_fen) if defender else high.amount_fen
            if challenger.effective_fen > holds or (
                    defender is not None and challenger.effective_fen == holds
                    and challenger.order < defender.order):
                price = min(holds + inc, challenger.effective_fen)
                if price - inc >= high.amount_fen + 2 * inc:
                    assert defender is not None  # holds > high.amount_fen
                    # The defender's proxy shows its last stand before losing.
                    ladder = bid(ladder, challenger, high.amount_fen + inc)
                    ladder = bid(ladder, defender, price - inc)
                ladder = bid(ladder, challenger, price)
            else:
                assert defender is not None  # holds >= challenger.effective_fen > high
                price = min(challenger.effective_fen + inc, holds)
                if price - inc > high.amount_fen:
                    ladder = bid(ladder, challenger, price - inc)
                    ladder = bid(ladder, defender, price)
                return ladder  # every other proxy is weaker than the challenger
        raise AssertionError("proxy resolution did not settle")

    # -- the end ----------------------------------------------------------------------------
    def close(self, at: datetime) -> tuple[Auction, AuctionEvents]:
        """Close once bidding has ended: a winner at the hammer price, or failed."""
        at = utc(at)
        if self.closed_at is not None:
            raise IllegalTransition("The auction is already closed.")
        if at < self.ladder.ends_at:
            raise IllegalTransition(
                f"Bidding runs until {self.ladder.ends_at.isoformat()}.",
                ends_at=self.ladder.ends_at.isoformat())
        high, reserve = self.ladder.high, self.terms.reserve_fen
        failure = None
        if high is None:
            failure = FailureReason.NO_BID
        elif reserve is not None and high.amount_fen < reserve:
            failure = FailureReason.RESERVE_NOT_MET
        closed = replace(self, closed_at=at, failure=failure)
        if failure is not None or high is None:
            return closed, (failure_event(procedure_id=self.id, listing_id=self.listing_id,
                                          region=self.region, reason=str(failure), at=at),)
        return closed, deal_events(
            procedure_id=self.id, listing_id=self.listing_id, route="auction",
            region=self.region, seller_id=self.seller_id, buyer_id=high.bidder_id,
            price_fen=high.amount_fen, at=at, accepted_bids=self.ladder.count,
            reserve_fen=reserve)
