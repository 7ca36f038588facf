"""Tiered fees (marginal) and the income split."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settlement.domain.errors import InvalidAmount, InvalidFeeSchedule, InvalidSplit
from services.settlement.domain.fees import (
    AUCTION_DEFAULT,
    FeeSchedule,
    fee_for,
    parse_fee_schedule,
)
from services.settlement.domain.split import SplitPolicy, split_for, split_net

POLICIES = Path(__file__).parents[4] / "services" / "settlement" / "policies"
YUAN = 100

# up to ¥1 m at 3 %, ¥1 m–¥5 m at 2 %, above at 1 %; at least ¥1,000 per side
SCHEDULE = parse_fee_schedule((POLICIES / "fees-example.json").read_text())


@pytest.mark.parametrize(("price_yuan", "fee_fen"), [
    (10_000, 1_000 * YUAN),           # 3 % = ¥300 → raised to the ¥1,000 minimum
    (1_000_000, 30_000 * YUAN),       # all in the first tier: 3 %
    (2_000_000, 50_000 * YUAN),       # 30,000 + 2 % of 1,000,000
    (5_000_000, 110_000 * YUAN),      # 30,000 + 80,000
    (10_000_000, 160_000 * YUAN),     # 30,000 + 80,000 + 1 % of 5,000,000
])
def test_fee_tiers_are_marginal(price_yuan, fee_fen):
    assert fee_for(price_yuan * YUAN, SCHEDULE) == fee_fen


def test_fee_rounds_half_up_once_on_the_total():
    s = FeeSchedule(exchange="x", tiers=[{"up_to_fen": 50, "rate": "0.01"},
                                         {"up_to_fen": None, "rate": "0.01"}])
    # 50 × 1 % = 0.5 and 51 × 1 % = 0.51 per tier would round to 1 + 1; on the total 1.01 → 1
    assert fee_for(101, s) == 1
    assert fee_for(150, s) == 2  # 1.5 → 2 (half-up)
    assert fee_for(149, s) == 1


def test_fee_minimum_but_never_above_the_price():
    assert fee_for(0, SCHEDULE) == 0
    assert fee_for(500, SCHEDULE) == 500
    assert fee_for(1_000 * YUAN, SCHEDULE) == 1_000 * YUAN


def test_auction_default_is_five_percent_per_side():
    assert fee_for(1_000_000 * YUAN, AUCTION_DEFAULT) == 50_000 * YUAN


@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=0, max_value=10**13))
def test_fee_never_falls_as_price_rises_and_is_an_integer(a, b):
    lo, hi = sorted((a, b))
    f_lo, f_hi = fee_for(lo, SCHEDULE), fee_for(hi, SCHEDULE)
    assert isinstance(f_lo, int) and 0 <= f_lo <= f_hi <= max(hi, 0)


@pytest.mark.parametrize("bad", [-1, 1.5, "100"])
def test_fee_refuses_bad_prices(bad):
    with pytest.raises(InvalidAmount):
        fee_for(bad, SCHEDULE)


@pytest.mark.parametrize("tiers", [
    [],
    [{"up_to_fen": 100, "rate": "0.01"}],                                     # not open-ended
    [{"up_to_fen": None, "rate": "0.01"}, {"up_to_fen": None, "rate": "0"}],  # two open
    [{"up_to_fen": 200, "rate": "0.01"}, {"up_to_fen": 100, "rate": "0.01"},
     {"up_to_fen": None, "rate": "0.01"}],                                    # descending
    [{"up_to_fen": None, "rate": "1.5"}],                                     # rate > 1
    [{"up_to_fen": None, "rate": "-0.1"}],
])
def test_bad_schedules_refused(tiers):
    with pytest.raises(InvalidFeeSchedule) as e:
        parse_fee_schedule({"exchange": "x", "tiers": tiers})
    assert e.value.errors


def test_split_default_is_seventy_percent_to_inventors():
    s = split_net(1_000_000 * YUAN, 30_000 * YUAN)
    assert s.net_fen == 970_000 * YUAN
    assert s.inventor_fen == 679_000 * YUAN
    assert s.institution_fen == 291_000 * YUAN


def test_split_rounds_inventors_half_up_and_gives_the_remainder_to_the_institution():
    s = split_net(5, 0)  # 3.5 → 4 to inventors, 1 to the institution
    assert (s.inventor_fen, s.institution_fen) == (4, 1)
    s = split_net(3, 0)  # 2.1 → 2
    assert (s.inventor_fen, s.institution_fen) == (2, 1)


def test_split_is_configurable_per_seller():
    policy = SplitPolicy(per_seller={"hit": Decimal("0.90")})
    assert split_for(1000, 0, "hit", policy).inventor_fen == 900
    assert split_for(1000, 0, "other", policy).inventor_fen == 700
    assert split_for(1000, 0, "other").inventor_fen == 700


@given(st.integers(min_value=0, max_value=10**13), st.data(),
       st.decimals(min_value=0, max_value=1, places=4))
def test_split_parts_sum_exactly_to_the_net(price, data, share):
    fee = data.draw(st.integers(min_value=0, max_value=price))
    s = split_net(price, fee, share)
    assert s.inventor_fen + s.institution_fen == s.net_fen == price - fee
    assert s.inventor_fen >= 0 and s.institution_fen >= 0


def test_split_refusals():
    with pytest.raises(InvalidSplit):
        split_net(100, 101)
    with pytest.raises(InvalidSplit):
        split_net(100, 0, Decimal("1.1"))
    with pytest.raises(InvalidSplit):
        SplitPolicy(per_seller={"x": 0.7})  # a float is not a share
    with pytest.raises(InvalidAmount):
        split_net(100.0, 0)
