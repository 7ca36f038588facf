"""Listing trade (挂牌交易): the three outcomes at the end of the announcement period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.auction.domain.bidding import RejectReason
from services.auction.domain.errors import (
    CalendarNotCovered,
    IllegalTransition,
    InvalidTerms,
    RegistrationRefused,
)
from services.auction.domain.listing_trade import (
    ListingTrade,
    ListingTradeTerms,
    TradeFailure,
    TradeStatus,
)
from services.auction.domain.workdays import end_of_day
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionExtended,
    AuctionFailed,
    BidAccepted,
    DealConcluded,
    ListingBiddingStarted,
    ListingPeriodExtended,
    ListingTradeTermsPublished,
)
from tests.services.auction.domain.builders import LISTING, REGION, SELLER

# Friday 30 January 2026, 10:00 in Shanghai: 20 working days run across the Spring Festival.
ANNOUNCED = datetime(2026, 1, 30, 2, 0, tzinfo=UTC)
PERIOD_ENDS = end_of_day(date(2026, 3, 5))
PRICE = 800_000
INCREMENT = 10_000
MIN = timedelta(minutes=1)


def trade(**overrides: Any) -> ListingTrade:
    fields: dict[str, Any] = {"listed_price_fen": PRICE, "increment_fen": INCREMENT,
                              "deposit_fen": 80_000, "announced_at": ANNOUNCED}
    listing_trade, _ = ListingTrade.announce(ListingTradeTerms(**(fields | overrides)),
                                             listing_id=LISTING, seller_id=SELLER,
                                             region=REGION)
    return listing_trade


def qualified(t: ListingTrade, *buyers: str, at: datetime = ANNOUNCED) -> ListingTrade:
    for buyer in buyers:
        t, _ = t.register(buyer, at)
        result = t.qualify(buyer, at)
        assert result is not None
        t = result[0]
    return t


def test_the_announcement_runs_20_working_days_across_the_spring_festival() -> None:
    t, (announced, published) = ListingTrade.announce(
        ListingTradeTerms(PRICE, INCREMENT, 80_000, ANNOUNCED), listing_id=LISTING,
        seller_id=SELLER, region=REGION)
    assert t.last_day == date(2026, 3, 5) and t.period_ends_at == PERIOD_ENDS
    assert PERIOD_ENDS == datetime(2026, 3, 5, 16, 0, tzinfo=UTC)
    assert isinstance(announced, AuctionAnnounced) and announced.route == "listing"
    assert isinstance(published, ListingTradeTermsPublished)
    assert published.period_ends_at == PERIOD_ENDS and published.working_days == 20


def test_no_qualified_buyer_extends_in_cycles_then_fails() -> None:
    t = trade(max_extensions=2)
    t, _ = t.register("A", ANNOUNCED)  # registered, but never pays the deposit
    with pytest.raises(IllegalTransition):
        t.end_period(PERIOD_ENDS - MIN)
    t, (first,) = t.end_period(PERIOD_ENDS)
    assert isinstance(first, ListingPeriodExtended) and first.cycle == 1
    assert (first.previous_ends_at, first.ends_at) == (PERIOD_ENDS, end_of_day(date(2026, 3, 12)))
    t, (second,) = t.end_period(first.ends_at)
    assert second.cycle == 2 and second.ends_at == end_of_day(date(2026, 3, 19))
    failed, (event,) = t.end_period(second.ends_at)
    assert failed.status is TradeStatus.FAILED
    assert failed.failure is TradeFailure.NO_QUALIFIED_BUYER
    assert isinstance(event, AuctionFailed) and event.reason == "no-qualified-buyer"
    with pytest.raises(IllegalTransition):
        failed.end_period(second.ends_at)


def test_a_buyer_qualifying_during_an_extension_gets_the_deal() -> None:
    t, _ = trade().end_period(PERIOD_ENDS)
    t = qualified(t, "B", at=PERIOD_ENDS + timedelta(days=1))
    closed, (record, deal) = t.end_period(t.period_ends_at)
    assert closed.extensions == 1 and closed.winner_id == "B"
    assert isinstance(record, AuctionClosed) and isinstance(deal, DealConcluded)
    assert (deal.buyer_id, deal.price_fen, deal.route) == ("B", PRICE, "listing")


def test_exactly_one_qualified_buyer_buys_at_the_listed_price() -> None:
    t = qualified(trade(), "A")
    t, _ = t.register("B", ANNOUNCED)  # not qualified: does not count
    closed, (record, deal) = t.end_period(PERIOD_ENDS)
    assert closed.status is TradeStatus.CLOSED
    assert (closed.winner_id, closed.price_fen) == ("A", PRICE)
    assert isinstance(record, AuctionClosed) and record.hammer_price_fen == PRICE
    assert isinstance(deal, DealConcluded) and (deal.buyer_id, deal.price_fen) == ("A", PRICE)
    assert deal.seller_id == SELLER and deal.procedure_id == t.id


def test_two_qualified_buyers_bid_free_quote_then_countdown() -> None:
    t = qualified(trade(free_quote=timedelta(hours=1)), "A", "B", "C")
    t, _ = t.register("D", ANNOUNCED)
    opens = PERIOD_ENDS + timedelta(hours=10)  # 10:00 on 6 March in Shanghai
    bidding, (started,) = t.end_period(PERIOD_ENDS, bidding_starts_at=opens)
    assert isinstance(started, ListingBiddingStarted) and started.qualified_bidders == 3
    free_ends = opens + timedelta(hours=1)
    assert (started.free_quote_starts_at, started.free_quote_ends_at) == (opens, free_ends)
    assert started.ends_at == bidding.ends_at == free_ends + 5 * MIN

    assert bidding.place_bid("A", PRICE, opens - MIN).reason is RejectReason.NOT_OPEN
    assert bidding.place_bid("D", PRICE, opens).reason is RejectReason.NOT_QUALIFIED
    assert bidding.place_bid("A", PRICE - INCREMENT, opens).reason is RejectReason.BELOW_MINIMUM

    # Free-quote bids do not move the end.
    b = bidding.place_bid("A", PRICE, opens + MIN)
    assert b.ok and b.state.ends_at == free_ends + 5 * MIN and len(b.events) == 1
    b = b.state.place_bid("B", PRICE + 2 * INCREMENT, free_ends - MIN)
    assert b.ok and b.state.ends_at == free_ends + 5 * MIN

    # Timed period: each bid restarts the 5-minute countdown.
    b = b.state.place_bid("A", PRICE + 3 * INCREMENT, free_ends + 2 * MIN)
    accepted, extended = b.events
    assert isinstance(accepted, BidAccepted) and isinstance(extended, AuctionExtended)
    assert b.state.ends_at == free_ends + 7 * MIN == accepted.ends_at
    b = b.state.place_bid("C", PRICE + 5 * INCREMENT, free_ends + 6 * MIN)
    assert b.state.ends_at == free_ends + 11 * MIN
    late = b.state.place_bid("A", PRICE + 9 * INCREMENT, free_ends + 11 * MIN)
    assert late.reason is RejectReason.AFTER_CLOSE

    with pytest.raises(IllegalTransition):
        b.state.close(free_ends + 10 * MIN)
    closed, (record, deal) = b.state.close(free_ends + 11 * MIN)
    assert (closed.winner_id, closed.price_fen) == ("C", PRICE + 5 * INCREMENT)
    assert isinstance(record, AuctionClosed) and record.accepted_bids == 4
    assert isinstance(deal, DealConcluded) and deal.price_fen == PRICE + 5 * INCREMENT
    assert closed.place_bid("A", 10**9, free_ends + 20 * MIN).reason is RejectReason.AFTER_CLOSE


def test_bidding_without_any_bid_fails() -> None:
    t = qualified(trade(), "A", "B")
    bidding, _ = t.end_period(PERIOD_ENDS)
    failed, (event,) = bidding.close(bidding.ends_at)
    assert failed.failure is TradeFailure.NO_BID
    assert isinstance(event, AuctionFailed) and event.reason == "no-bid"


def test_bidding_cannot_start_in_the_past() -> None:
    t = qualified(trade(), "A", "B")
    with pytest.raises(IllegalTransition):
        t.end_period(PERIOD_ENDS + MIN, bidding_starts_at=PERIOD_ENDS)


def test_registration_closes_with_the_announcement_period() -> None:
    t, _ = trade().register("A", ANNOUNCED)
    with pytest.raises(RegistrationRefused):
        t.register("B", PERIOD_ENDS)
    with pytest.raises(RegistrationRefused):
        t.qualify("A", PERIOD_ENDS)
    with pytest.raises(RegistrationRefused):
        t.register(SELLER, ANNOUNCED)
    assert t.place_bid("A", PRICE, ANNOUNCED).reason is RejectReason.NOT_OPEN


@pytest.mark.parametrize(("overrides", "field"), [
    ({"extension_working_days": 4}, "terms.extension_working_days"),
    ({"working_days": 0}, "terms.working_days"),
    ({"listed_price_fen": 0}, "terms.listed_price_fen"),
    ({"max_extensions": -1}, "terms.max_extensions"),
    ({"free_quote": timedelta(0)}, "terms.free_quote"),
    ({"announced_at": datetime(2026, 1, 30, 10, 0)}, "terms.announced_at"),
])
def test_invalid_terms(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidTerms) as e:
        trade(**overrides)
    assert [err["field"] for err in e.value.errors] == [field]


def test_a_period_beyond_the_published_calendar_is_refused() -> None:
    with pytest.raises(CalendarNotCovered):
        trade(announced_at=datetime(2026, 12, 10, 2, 0, tzinfo=UTC))
