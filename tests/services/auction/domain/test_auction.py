"""The ascending auction, example by example: terms, bidders, bids, proxies, close, re-auction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.auction.domain.auction import KEEP, Auction, AuctionRules, FailureReason, Status
from services.auction.domain.bidding import RejectReason
from services.auction.domain.deals import deal_id_for
from services.auction.domain.errors import (
    IllegalTransition,
    InvalidTerms,
    ProxyRefused,
    ReauctionRefused,
    RegistrationRefused,
)
from shared.events.auction import (
    AuctionAnnounced,
    AuctionClosed,
    AuctionExtended,
    AuctionFailed,
    AuctionTermsPublished,
    BidAccepted,
    BidderQualified,
    BidderRegistered,
    BidRejected,
    DealConcluded,
)
from tests.services.auction.domain.builders import (
    ANNOUNCED,
    ENDS,
    INCREMENT,
    LISTING,
    SELLER,
    START_PRICE,
    STARTS,
    announced,
    terms,
    with_bidders,
)

MIN = timedelta(minutes=1)


def open_auction(**overrides) -> Auction:
    return with_bidders(announced(**overrides), "A", "B", "C")


def amounts(auction: Auction) -> list[tuple[str, int, bool]]:
    return [(b.bidder_id, b.amount_fen, b.automatic) for b in auction.bids]


# -- terms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", ["0.05", "0.10", "0.20"])
def test_deposit_ratio_between_5_and_20_percent(ratio: str) -> None:
    t = terms(deposit_ratio=Decimal(ratio))
    assert t.deposit_fen == START_PRICE * Decimal(ratio)


@pytest.mark.parametrize("ratio", [Decimal("0.0499"), Decimal("0.2001"), Decimal("0"),
                                   Decimal("NaN"), 0.1])
def test_deposit_ratio_outside_the_limits_is_refused(ratio: object) -> None:
    with pytest.raises(InvalidTerms) as e:
        terms(deposit_ratio=ratio)
    assert e.value.errors == [{"field": "terms.deposit_ratio", "message": e.value.errors[0][
        "message"]}]
    assert e.value.status == 422 and e.value.type == "urn:techex:problem:auction-invalid-terms"


def test_the_deposit_is_rounded_up_to_the_fen() -> None:
    assert terms(start_price_fen=1001, deposit_ratio=Decimal("0.05")).deposit_fen == 51


def test_deposit_limits_are_configurable() -> None:
    rules = AuctionRules(deposit_ratio_min=Decimal("0.01"), deposit_ratio_max=Decimal("0.30"))
    assert terms(deposit_ratio=Decimal("0.30"), rules=rules).deposit_fen == 300_000


def test_the_start_comes_at_least_7_shanghai_days_after_the_announcement() -> None:
    # Announced on 2 April (Shanghai): the start may be on 9 April, at any hour, not on 8 April.
    nine_april = datetime(2026, 4, 8, 16, 0, tzinfo=UTC)  # 00:00 on 9 April in Shanghai
    assert terms(starts_at=nine_april).starts_at == nine_april
    with pytest.raises(InvalidTerms) as e:
        terms(starts_at=nine_april - timedelta(seconds=1))
    assert [err["field"] for err in e.value.errors] == ["terms.starts_at"]
    short = AuctionRules(min_notice_days=3)
    assert terms(starts_at=ANNOUNCED + timedelta(days=3), rules=short).rules is short


def test_bidding_lasts_at_least_24_hours() -> None:
    with pytest.raises(InvalidTerms) as e:
        terms(ends_at=STARTS + timedelta(hours=23, minutes=59))
    assert [err["field"] for err in e.value.errors] == ["terms.ends_at"]


def test_every_broken_rule_is_reported_at_once() -> None:
    with pytest.raises(InvalidTerms) as e:
        terms(start_price_fen=0, increment_fen=-1, reserve_fen=5, deposit_ratio=Decimal("1"),
              starts_at=datetime(2026, 4, 10, 10, 0))  # naive
    assert {err["field"] for err in e.value.errors} == {
        "terms.start_price_fen", "terms.increment_fen", "terms.deposit_ratio",
        "terms.starts_at"}


def test_a_reserve_below_the_start_price_is_refused() -> None:
    with pytest.raises(InvalidTerms) as e:
        terms(reserve_fen=START_PRICE - 1)
    assert [err["field"] for err in e.value.errors] == ["terms.reserve_fen"]


def test_announcing_publishes_the_terms_but_not_the_reserve() -> None:
    auction, (ann, published) = Auction.announce(
        terms(reserve_fen=2_000_000), listing_id=LISTING, seller_id=SELLER, region="230102")
    assert isinstance(ann, AuctionAnnounced) and isinstance(published, AuctionTermsPublished)
    assert ann.route == "auction" and ann.starts_at == STARTS and ann.procedure_id == auction.id
    assert published.has_reserve and published.deposit_fen == 100_000
    assert "2000000" not in published.model_dump_json() + ann.model_dump_json()
    assert auction.status_at(STARTS - MIN) is Status.ANNOUNCED
    assert auction.status_at(STARTS) is Status.OPEN


# -- bidders ----------------------------------------------------------------------------------
def test_bidders_register_then_qualify_once_the_deposit_is_confirmed() -> None:
    auction, registered = announced().register("A", ANNOUNCED)
    assert isinstance(registered, BidderRegistered) and registered.deposit_fen == 100_000
    assert auction.place_bid("A", START_PRICE, STARTS).reason is RejectReason.NOT_QUALIFIED
    result = auction.qualify("A", ANNOUNCED + MIN)
    assert result is not None
    auction, qualified = result
    assert isinstance(qualified, BidderQualified) and "A" in auction.qualified
    assert auction.qualify("A", ANNOUNCED + MIN) is None  # a redelivered confirmation
    assert auction.place_bid("A", START_PRICE, STARTS).ok


def test_registration_refusals() -> None:
    auction = with_bidders(announced(), "A")
    with pytest.raises(RegistrationRefused):
        auction.register("A", ANNOUNCED)
    with pytest.raises(RegistrationRefused):
        auction.register(SELLER, ANNOUNCED)
    with pytest.raises(RegistrationRefused):
        auction.qualify("B", ANNOUNCED)
    with pytest.raises(RegistrationRefused):
        auction.register("B", ENDS)


# -- bids -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("bidder", "amount", "at", "reason"), [
    ("A", START_PRICE, STARTS - MIN, RejectReason.NOT_OPEN),
    ("A", START_PRICE, ENDS, RejectReason.AFTER_CLOSE),
    ("Z", START_PRICE, STARTS, RejectReason.NOT_QUALIFIED),
    ("A", START_PRICE - INCREMENT, STARTS, RejectReason.BELOW_MINIMUM),
    ("A", START_PRICE + 1, STARTS, RejectReason.NOT_MULTIPLE),
])
def test_first_bid_rejections(bidder: str, amount: int, at: datetime,
                              reason: RejectReason) -> None:
    auction = open_auction()
    outcome = auction.place_bid(bidder, amount, at)
    assert outcome.reason is reason and outcome.state is auction and not outcome.accepted
    [event] = outcome.events
    assert isinstance(event, BidRejected) and event.reason == reason.value
    assert event.minimum_fen == (START_PRICE if reason in {
        RejectReason.BELOW_MINIMUM, RejectReason.NOT_MULTIPLE} else None)


def test_later_bids_exceed_the_high_bid_by_the_increment_and_nobody_outbids_itself() -> None:
    auction = open_auction().place_bid("A", START_PRICE, STARTS).state
    low = auction.place_bid("B", START_PRICE + INCREMENT - 1, STARTS + MIN)
    assert low.reason is RejectReason.BELOW_MINIMUM
    assert low.events[0].minimum_fen == START_PRICE + INCREMENT
    own = auction.place_bid("A", START_PRICE + INCREMENT, STARTS + MIN)
    assert own.reason is RejectReason.OWN_HIGH_BID
    jump = auction.place_bid("B", START_PRICE + 3 * INCREMENT, STARTS + MIN)
    assert jump.ok and jump.state.high_bid.amount_fen == START_PRICE + 3 * INCREMENT


def test_a_bid_in_the_last_five_minutes_moves_the_end_to_five_minutes_after_it() -> None:
    auction = open_auction()
    early = auction.place_bid("A", START_PRICE, ENDS - 5 * MIN)  # exactly 5 min before: no
    assert early.state.ends_at == ENDS and len(early.events) == 1
    late = early.state.place_bid("B", START_PRICE + INCREMENT, ENDS - 2 * MIN)
    accepted, extended = late.events
    assert isinstance(accepted, BidAccepted) and isinstance(extended, AuctionExtended)
    assert late.state.ends_at == ENDS + 3 * MIN == accepted.ends_at == extended.ends_at
    assert extended.previous_ends_at == ENDS and extended.sequence == 2
    # Bidding goes on past the original end, then stops at the new one.
    later = late.state.place_bid("A", START_PRICE + 2 * INCREMENT, ENDS + 2 * MIN)
    assert later.ok and later.state.ends_at == ENDS + 7 * MIN
    assert later.state.place_bid("B", 10**9, ENDS + 7 * MIN).reason is RejectReason.AFTER_CLOSE


def test_bid_times_never_go_backwards() -> None:
    auction = open_auction().place_bid("A", START_PRICE, STARTS + 2 * MIN).state
    outcome = auction.place_bid("B", START_PRICE + INCREMENT, STARTS + MIN)
    assert outcome.accepted[0].at == STARTS + 2 * MIN


# -- proxies ----------------------------------------------------------------------------------
def test_a_proxy_answers_each_bid_with_one_increment() -> None:
    auction = open_auction()
    auction = auction.set_proxy("A", START_PRICE + 10 * INCREMENT, STARTS).state
    assert amounts(auction) == [("A", START_PRICE, True)]
    outcome = auction.place_bid("B", START_PRICE + 2 * INCREMENT, STARTS + MIN)
    assert [(b.bidder_id, b.amount_fen, b.automatic) for b in outcome.accepted] == [
        ("B", START_PRICE + 2 * INCREMENT, False), ("A", START_PRICE + 3 * INCREMENT, True)]
    auto = outcome.events[-1]
    assert isinstance(auto, BidAccepted) and auto.automatic and auto.actor == "auction"


def test_two_proxies_resolve_at_one_increment_above_the_lower_maximum() -> None:
    auction = open_auction()
    auction = auction.set_proxy("A", START_PRICE + 4 * INCREMENT, STARTS).state
    outcome = auction.set_proxy("B", START_PRICE + 9 * INCREMENT + 123, STARTS + MIN)
    # A leads at the start price; B opens one increment above, A shows its maximum, B answers.
    assert amounts(outcome.state) == [
        ("A", START_PRICE, True), ("B", START_PRICE + INCREMENT, True),
        ("A", START_PRICE + 4 * INCREMENT, True), ("B", START_PRICE + 5 * INCREMENT, True)]


def test_the_higher_proxy_caps_at_its_own_maximum_and_ties_go_to_the_earlier() -> None:
    auction = open_auction()
    auction = auction.set_proxy("A", START_PRICE + 6 * INCREMENT, STARTS).state
    auction = auction.set_proxy("B", START_PRICE + 6 * INCREMENT, STARTS + MIN).state
    assert amounts(auction)[-2:] == [("B", START_PRICE + 5 * INCREMENT, True),
                                     ("A", START_PRICE + 6 * INCREMENT, True)]
    # A manual bid above every maximum wins outright; the proxies have nothing left.
    outcome = auction.place_bid("C", START_PRICE + 7 * INCREMENT, STARTS + 2 * MIN)
    assert [b.bidder_id for b in outcome.accepted] == ["C"]


def test_a_later_equal_proxy_does_not_take_the_lead() -> None:
    auction = open_auction().place_bid("C", START_PRICE, STARTS).state
    auction = auction.set_proxy("A", START_PRICE + 3 * INCREMENT, STARTS + MIN).state
    assert amounts(auction)[-1] == ("A", START_PRICE + INCREMENT, True)
    auction = auction.set_proxy("B", START_PRICE + 3 * INCREMENT, STARTS + 2 * MIN).state
    assert auction.high_bid.bidder_id == "A"
    assert auction.high_bid.amount_fen == START_PRICE + 3 * INCREMENT


def test_proxy_refusals() -> None:
    auction = open_auction()
    for bidder, maximum, at, reason in [
        ("A", START_PRICE, STARTS - MIN, "not-open"),
        ("A", START_PRICE, ENDS, "after-close"),
        ("Z", START_PRICE, STARTS, "not-qualified"),
        ("A", START_PRICE - 1, STARTS, "below-minimum"),
    ]:
        with pytest.raises(ProxyRefused) as e:
            auction.set_proxy(bidder, maximum, at)
        assert e.value.extensions["reason"] == reason
    auction = auction.set_proxy("A", START_PRICE + 5 * INCREMENT, STARTS).state
    with pytest.raises(ProxyRefused) as e:
        auction.set_proxy("A", START_PRICE + 5 * INCREMENT, STARTS + MIN)
    assert e.value.extensions["reason"] == "proxy-not-raised"
    raised = auction.set_proxy("A", START_PRICE + 8 * INCREMENT, STARTS + MIN)
    assert raised.ok and not raised.accepted  # A already leads: raising places no bid


def test_proxy_maxima_never_appear_in_events() -> None:
    auction = open_auction()
    secret = START_PRICE + 17 * INCREMENT + 4321
    outcome = auction.set_proxy("A", secret, STARTS)
    outcome = outcome.state.place_bid("B", START_PRICE + INCREMENT, STARTS + MIN)
    dumps = "".join(e.model_dump_json() for e in outcome.events)
    assert str(secret) not in dumps and str(START_PRICE + 17 * INCREMENT) not in dumps


# -- close ------------------------------------------------------------------------------------
def test_close_with_a_winner_reveals_the_reserve_and_concludes_the_deal() -> None:
    auction = open_auction(reserve_fen=START_PRICE + INCREMENT)
    auction = auction.place_bid("A", START_PRICE, STARTS).state
    auction = auction.place_bid("B", START_PRICE + INCREMENT, STARTS + MIN).state
    with pytest.raises(IllegalTransition):
        auction.close(ENDS - MIN)
    closed, (record, deal) = auction.close(ENDS)
    assert closed.status_at(ENDS) is Status.CLOSED
    assert (closed.winner_id, closed.hammer_price_fen) == ("B", START_PRICE + INCREMENT)
    assert isinstance(record, AuctionClosed) and isinstance(deal, DealConcluded)
    assert record.reserve_fen == START_PRICE + INCREMENT and record.accepted_bids == 2
    assert deal.deal_id == record.deal_id == deal_id_for(auction.id)
    assert (deal.seller_id, deal.buyer_id, deal.price_fen, deal.route) == (
        SELLER, "B", START_PRICE + INCREMENT, "auction")
    with pytest.raises(IllegalTransition):
        closed.close(ENDS + MIN)
    with pytest.raises(RegistrationRefused):
        closed.register("D", ENDS - MIN)


@pytest.mark.parametrize(("bids", "reason"), [
    ([], FailureReason.NO_BID),
    ([("A", START_PRICE)], FailureReason.RESERVE_NOT_MET),
])
def test_close_without_a_valid_bid_fails(bids: list[tuple[str, int]],
                                         reason: FailureReason) -> None:
    auction = open_auction(reserve_fen=START_PRICE + INCREMENT)
    for bidder, amount in bids:
        auction = auction.place_bid(bidder, amount, STARTS).state
    failed, (event,) = auction.close(ENDS)
    assert failed.failure is reason and failed.status_at(ENDS) is Status.FAILED
    assert isinstance(event, AuctionFailed) and event.reason == reason.value
    assert failed.winner_id is None and failed.hammer_price_fen is None


# -- re-auction -------------------------------------------------------------------------------
def failed_auction() -> Auction:
    failed, _ = open_auction(reserve_fen=START_PRICE * 2).close(ENDS)
    return failed


def reauction(previous: Auction, price: int, at: datetime, **kw) -> Auction:
    auction, (ann, published) = Auction.reauction(
        previous, price, at, starts_at=at + timedelta(days=7), ends_at=at + timedelta(days=8),
        **kw)
    assert ann.route == "auction" and published.round == previous.round + 1
    assert published.previous_procedure_id == previous.id
    return auction


def test_a_failed_lot_is_re_auctioned_within_30_days_with_at_most_20_percent_off() -> None:
    failed = failed_auction()
    again = reauction(failed, START_PRICE * 8 // 10, ENDS + timedelta(days=30))
    assert again.terms.start_price_fen == 800_000 and again.terms.reserve_fen == START_PRICE * 2
    assert again.terms.deposit_fen == 80_000 and again.listing_id == failed.listing_id
    assert again.round == 2 and again.previous_id == failed.id
    third = reauction(failed_auction(), START_PRICE, ENDS + MIN, reserve_fen=None)
    assert third.terms.reserve_fen is None
    kept = reauction(failed, START_PRICE, ENDS, reserve_fen=KEEP)
    assert kept.terms.reserve_fen == 2 * START_PRICE


@pytest.mark.parametrize(("price", "days"), [
    (START_PRICE * 8 // 10 - 1, 1),  # cut by more than 20 %
    (START_PRICE + INCREMENT, 1),    # raised
    (START_PRICE, 31),               # too late
])
def test_re_auction_limits(price: int, days: int) -> None:
    with pytest.raises(ReauctionRefused):
        reauction(failed_auction(), price, ENDS + timedelta(days=days))


def test_only_failed_auctions_are_re_auctioned() -> None:
    sold, _ = open_auction().place_bid("A", START_PRICE, STARTS).state.close(ENDS)
    with pytest.raises(ReauctionRefused):
        reauction(sold, START_PRICE, ENDS + MIN)
    with pytest.raises(ReauctionRefused):
        reauction(open_auction(), START_PRICE, ENDS + MIN)


def test_a_re_auction_still_needs_its_notice_period() -> None:
    with pytest.raises(InvalidTerms):
        Auction.reauction(failed_auction(), START_PRICE, ENDS + MIN,
                          starts_at=ENDS + timedelta(days=2), ends_at=ENDS + timedelta(days=3))


def test_procedure_ids_can_be_given() -> None:
    pid = uuid.uuid4()
    auction, (ann, _) = Auction.announce(terms(), listing_id=LISTING, seller_id=SELLER,
                                         region="230102", procedure_id=pid)
    assert auction.id == ann.procedure_id == pid


def test_amounts_are_integer_fen() -> None:
    auction = open_auction()
    with pytest.raises(TypeError):
        auction.place_bid("A", float(START_PRICE), STARTS)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        auction.set_proxy("A", Decimal(START_PRICE), STARTS)  # type: ignore[arg-type]
