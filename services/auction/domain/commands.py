"""The commands of an auction, as its writer (the bid engine) takes them, and their results.

Each is a plain value: the engine queues it, applies it in order with the other commands on
the same auction (:mod:`services.auction.handlers.auctions` says how each one changes the
state) and writes the batch at once. ``bidder_id`` tells the writer whose qualification it may
have to read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["AuctionCommand", "BidAnswer", "Close", "PlaceBid", "Qualify", "Register",
           "Registration", "SetProxy"]


@dataclass(frozen=True, slots=True)
class PlaceBid:
    """Place a bid; the answer says whether it was accepted and why not."""

    bidder_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class SetProxy:
    """Leave or raise a proxy maximum (private: stored, never in an event)."""

    bidder_id: str
    max_fen: int


@dataclass(frozen=True, slots=True)
class Register:
    """Register to bid (the bid number is drawn when the registration is written)."""

    bidder_id: str


@dataclass(frozen=True, slots=True)
class Qualify:
    """The bidder's deposit is confirmed (registering it first if needed)."""

    bidder_id: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the auction if bidding has ended; a no-op when it already is closed or when a
    bid moved the end meanwhile (the moved deadline closes it later)."""


AuctionCommand = PlaceBid | SetProxy | Register | Qualify | Close


@dataclass(frozen=True)
class BidAnswer:
    """What placing a bid (or a proxy maximum) did."""

    accepted: bool
    reason: str | None
    sequence: int | None
    amount_fen: int
    high_bid_fen: int | None
    ends_at: datetime
    automatic_bids: int = 0


@dataclass
class Registration:
    """A registration (or qualification) as written."""

    bidder_id: str
    deposit_fen: int
    number: int = 0
    """The bid number, drawn when the registration is written."""
