"""Properties of the ascending auction over random sequences of bids and proxy bids.

Each run replays a random script against the aggregate and checks it against an independent
model of the rules: the expected reason of every manual bid, the bid ladder, the 5-minute rule,
the close, and the proxies' limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.auction.domain.auction import Auction, FailureReason, Status
from services.auction.domain.bidding import Bid, RejectReason
from services.auction.domain.errors import ProxyRefused
from shared.events.auction import (
    AuctionClosed,
    AuctionExtended,
    AuctionFailed,
    BidAccepted,
    BidRejected,
    DealConcluded,
)
from tests.services.auction.domain.builders import (
    ANNOUNCED,
    INCREMENT,
    START_PRICE,
    announced,
    short_rules,
    with_bidders,
)

QUALIFIED = ("A", "B", "C", "D")
BIDDERS = (*QUALIFIED, "X")  # X registered but never qualified
STARTS = ANNOUNCED + timedelta(days=1)
ENDS = STARTS + timedelta(minutes=30)
WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Step:
    kind: str  # "bid" | "proxy"
    bidder: str
    amount: int
    wait: timedelta
    over_minimum: int | None  # if set, the amount is this many increments over the minimum

    def amount_in(self, auction: Auction) -> int:
        if self.over_minimum is None:
            return self.amount
        return auction.ladder.minimum() + self.over_minimum * INCREMENT


amounts = st.one_of(
    st.integers(0, 40).map(lambda k: START_PRICE + k * INCREMENT),        # on the grid
    st.integers(START_PRICE - INCREMENT, START_PRICE + 40 * INCREMENT),  # anywhere
)
steps = st.builds(
    Step,
    kind=st.sampled_from(["bid", "bid", "bid", "proxy"]),
    bidder=st.sampled_from(BIDDERS),
    amount=amounts,
    wait=st.one_of(st.integers(0, 30), st.integers(0, 900)).map(lambda s: timedelta(seconds=s)),
    over_minimum=st.one_of(st.none(), st.integers(0, 3)),
)
firsts = st.one_of(st.integers(-180, 32 * 60), st.integers(20 * 60, 30 * 60)).map(
    lambda s: timedelta(seconds=s))  # the first step's time, from the start
reserves = st.one_of(st.none(), st.integers(0, 30).map(lambda k: START_PRICE + k * INCREMENT))


def fresh(reserve: int | None) -> Auction:
    auction = announced(starts_at=STARTS, ends_at=ENDS, reserve_fen=reserve, rules=short_rules())
    auction = with_bidders(auction, *QUALIFIED)
    return with_bidders(auction, "X", qualify=False)


def expected_reason(auction: Auction, bidder: str, amount: int, at: datetime
                    ) -> RejectReason | None:
    """The rules written out once more, independently of the ladder's code."""
    high = auction.high_bid
    if at >= auction.ends_at:
        return RejectReason.AFTER_CLOSE
    if at < STARTS:
        return RejectReason.NOT_OPEN
    if bidder not in QUALIFIED:
        return RejectReason.NOT_QUALIFIED
    if high is not None and high.bidder_id == bidder:
        return RejectReason.OWN_HIGH_BID
    if amount < (high.amount_fen + INCREMENT if high else START_PRICE):
        return RejectReason.BELOW_MINIMUM
    if (amount - START_PRICE) % INCREMENT:
        return RejectReason.NOT_MULTIPLE
    return None


def expected_proxy_refusal(run: Run, bidder: str, maximum: int, at: datetime) -> str | None:
    auction, high = run.auction, run.auction.high_bid
    if at >= auction.ends_at:
        return "after-close"
    if at < STARTS:
        return "not-open"
    if bidder not in QUALIFIED:
        return "not-qualified"
    if grid_floor(maximum) < (high.amount_fen + INCREMENT if high else START_PRICE):
        return "below-minimum"
    if maximum <= run.maxima.get(bidder, 0):
        return "proxy-not-raised"
    return None


def grid_floor(amount: int) -> int:
    return START_PRICE + (amount - START_PRICE) // INCREMENT * INCREMENT


@dataclass
class Run:
    auction: Auction
    maxima: dict[str, int]  # each bidder's proxy maximum in force
    accepted: list[Bid]


def play(script: list[Step], reserve: int | None, first: timedelta) -> Run:
    auction = fresh(reserve)
    run = Run(auction, {}, [])
    at = STARTS + first
    for step in script:
        at += step.wait
        before = run.auction
        amount = step.amount_in(before)
        if step.kind == "bid":
            outcome = before.place_bid(step.bidder, amount, at)
            assert outcome.reason == expected_reason(before, step.bidder, amount, at)
            if outcome.reason is not None:
                assert outcome.state is before and not outcome.accepted
                [event] = outcome.events
                assert isinstance(event, BidRejected) and event.reason == outcome.reason.value
                continue
            assert outcome.accepted[0].bidder_id == step.bidder
            assert not outcome.accepted[0].automatic
            assert all(bid.automatic for bid in outcome.accepted[1:])
        else:
            expected = expected_proxy_refusal(run, step.bidder, amount, at)
            try:
                outcome = before.set_proxy(step.bidder, amount, at)
            except ProxyRefused as refused:
                assert refused.extensions["reason"] == expected
                continue
            assert expected is None
            run.maxima[step.bidder] = amount
            assert all(bid.automatic for bid in outcome.accepted)
        check_events(before, outcome.state, outcome.events)
        for bid in outcome.accepted:
            run.accepted.append(bid)
            if bid.automatic:
                assert bid.amount_fen <= run.maxima[bid.bidder_id], "proxy above its max"
        run.auction = outcome.state
        check_proxies_settled(run)
    return run


def check_events(before: Auction, after: Auction, events: tuple) -> None:
    new_bids = after.ladder.since(before.ladder.count)
    accepted = [e for e in events if isinstance(e, BidAccepted)]
    assert [(e.sequence, e.bidder_id, e.amount_fen, e.automatic) for e in accepted] == [
        (b.sequence, b.bidder_id, b.amount_fen, b.automatic) for b in new_bids]
    assert all(e.ends_at == after.ends_at for e in accepted)
    extensions = [e for e in events if isinstance(e, AuctionExtended)]
    if after.ends_at == before.ends_at:
        assert extensions == []
    else:
        [extended] = extensions
        assert (extended.previous_ends_at, extended.ends_at) == (before.ends_at, after.ends_at)


def check_proxies_settled(run: Run) -> None:
    """No proxy of anyone but the leader could still outbid the leader."""
    high = run.auction.high_bid
    book = run.auction.proxies
    if high is None:
        assert not book.ranking
        return
    own = book.by_bidder.get(high.bidder_id)
    holds = max(own.effective_fen, high.amount_fen) if own else high.amount_fen
    for proxy in book.ranking:
        if proxy.bidder_id == high.bidder_id:
            continue
        assert proxy.effective_fen < high.amount_fen + INCREMENT or (
            own is not None and proxy.effective_fen == holds and own.order < proxy.order)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(steps, max_size=40), reserve=reserves, first=firsts)
def test_bidding_follows_the_rules(script: list[Step], reserve: int | None,
                                   first: timedelta) -> None:
    run = play(script, reserve, first)
    bids = run.auction.bids
    assert bids == tuple(run.accepted)
    assert [b.sequence for b in bids] == list(range(1, len(bids) + 1))

    # Accepted bids rise by at least the increment, from at least the start price.
    if bids:
        assert bids[0].amount_fen >= START_PRICE
    for earlier, later in pairwise(bids):
        assert later.amount_fen >= earlier.amount_fen + INCREMENT
        assert later.bidder_id != earlier.bidder_id  # nobody outbids itself
        assert later.at >= earlier.at

    # The end follows the 5-minute rule exactly, and no bid came in after the end then in force.
    expected_end = ENDS
    for bid in bids:
        assert STARTS <= bid.at < expected_end
        if bid.at + WINDOW > expected_end:
            expected_end = bid.at + WINDOW
    assert run.auction.ends_at == expected_end
    assert expected_end == (max(ENDS, bids[-1].at + WINDOW) if bids else ENDS)

    # Close: the highest accepted bid wins, unless there is none or the reserve is not met.
    closed, events = run.auction.close(expected_end)
    if not bids:
        assert closed.failure is FailureReason.NO_BID
    elif reserve is not None and bids[-1].amount_fen < reserve:
        assert closed.failure is FailureReason.RESERVE_NOT_MET
    if closed.failure is not None:
        assert closed.status_at(expected_end) is Status.FAILED and closed.winner_id is None
        [failed] = events
        assert isinstance(failed, AuctionFailed) and failed.reason == closed.failure.value
    else:
        top = max(bids, key=lambda b: b.amount_fen)
        assert (closed.winner_id, closed.hammer_price_fen) == (top.bidder_id, top.amount_fen)
        record, deal = events
        assert isinstance(record, AuctionClosed) and isinstance(deal, DealConcluded)
        assert (deal.buyer_id, deal.price_fen) == (top.bidder_id, top.amount_fen)
        assert record.reserve_fen == reserve
    late = closed.place_bid("A", 10**9, expected_end)
    assert late.reason is RejectReason.AFTER_CLOSE


proxy_maxima = st.lists(
    st.tuples(st.sampled_from(QUALIFIED), st.integers(START_PRICE, START_PRICE + 20 * INCREMENT)),
    min_size=1, max_size=6, unique_by=lambda t: t[0])


@settings(max_examples=300, deadline=None)
@given(maxima=proxy_maxima)
def test_proxies_alone_settle_at_the_ebay_price(maxima: list[tuple[str, int]]) -> None:
    """Higher max wins at one increment above the runner-up's max (capped at its own max);
    equal maxima go to the earlier proxy."""
    auction = fresh(None)
    at = STARTS + timedelta(minutes=1)
    standing: list[tuple[int, int, str]] = []  # (effective max, order, bidder) of accepted ones
    for order, (bidder, maximum) in enumerate(maxima):
        try:
            outcome = auction.set_proxy(bidder, maximum, at)
        except ProxyRefused as refused:
            assert grid_floor(maximum) < auction.ladder.minimum()
            assert refused.extensions["reason"] == "below-minimum"
            continue
        auction = outcome.state
        standing.append((grid_floor(maximum), order, bidder))
    ranked = sorted(standing, key=lambda s: (-s[0], s[1]))
    high = auction.high_bid
    assert high is not None and high.bidder_id == ranked[0][2]
    if len(ranked) == 1:
        assert high.amount_fen == START_PRICE
        return
    top, second = ranked[0][0], ranked[1][0]
    ebay = min(second + INCREMENT, top)
    # One exception: tied maxima one increment above the standing price. The earlier proxy
    # already leads and cannot outbid itself, so it keeps the lead one increment lower.
    assert high.amount_fen == ebay or (top == second and high.amount_fen == ebay - INCREMENT)
