"""The bid engine's commands, each applied by its step, without a database."""

from __future__ import annotations

import typing
from datetime import timedelta

import pytest

from services.auction.domain.commands import (
    AuctionCommand,
    BidAnswer,
    Close,
    PlaceBid,
    Qualify,
    Register,
    Registration,
)
from services.auction.domain.errors import RegistrationRefused
from services.auction.handlers.auctions import STEPS
from tests.services.auction.domain.builders import announced


def test_every_command_has_its_step() -> None:
    assert set(STEPS) == set(typing.get_args(AuctionCommand))


def test_a_bid_goes_through_registration_and_qualification_to_the_ladder() -> None:
    auction = announced()
    now = auction.terms.announce_at + timedelta(days=1)
    registered = STEPS[Register](auction, Register("b1"), now)
    assert isinstance(registered.result, Registration) and registered.write is not None
    qualified = STEPS[Qualify](registered.state, Qualify("b1"), now)
    assert qualified.state.qualified == {"b1"}
    opening = auction.terms.starts_at + timedelta(minutes=1)
    step = STEPS[PlaceBid](qualified.state, PlaceBid("b1", auction.terms.start_price_fen),
                           opening)
    assert isinstance(step.result, BidAnswer) and step.result.accepted
    assert step.result.sequence == 1 and step.write is None  # the bids go in the batch's append
    assert [e.ce_type() for e in step.events] == ["cn.techex.auction.bid_accepted.v1"]


def test_a_refused_command_raises_and_a_refused_bid_is_answered() -> None:
    auction = announced()
    now = auction.terms.announce_at + timedelta(days=1)
    with pytest.raises(RegistrationRefused):
        STEPS[Register](auction, Register(auction.seller_id), now)
    step = STEPS[PlaceBid](auction, PlaceBid("stranger", auction.terms.start_price_fen),
                           auction.terms.starts_at + timedelta(minutes=1))
    assert not step.result.accepted and step.result.reason == "not-qualified"
    assert step.state is auction


def test_close_is_a_no_op_before_the_end_and_closes_after_it() -> None:
    auction = announced()
    early = STEPS[Close](auction, Close(), auction.ends_at - timedelta(seconds=1))
    assert early.state is auction and early.result is False and not early.events
    closed = STEPS[Close](auction, Close(), auction.ends_at)
    assert closed.result is True and closed.state.closed_at == auction.ends_at
    assert closed.write is not None
