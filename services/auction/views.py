"""What a reader of a procedure is shown of its bidders: bid numbers, and identities only to
those who may know them (the rule is :class:`~services.auction.domain.anonymity.Viewer`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.auction.domain.anonymity import Viewer, label
from shared.auth import Principal, Role

__all__ = ["BidView", "BidderShown", "BiddersShown", "bid_json", "bidder_json", "bidders_json",
           "numbered", "viewer_of"]

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
