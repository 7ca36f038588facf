"""Bidders are anonymous to each other: each has a bid number (竞买号) per procedure.

As on the online judicial-auction platforms, a procedure shows its bidders only by number:
who else bids is the exchange's to know, revealed to the operators and regulators of the
procedure's region and, once the bidding is over, to the seller. A bidder sees which number is
its own. The number is drawn when the bidder registers, kept for the procedure and never given
to another bidder of it.

Numbers are drawn at random rather than counted up: a counted number would tell its holder how
many registered before it, and a listing trade keeps even the number of its buyers to itself
until its announcement period is over.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from random import Random

DIGITS = 4


def draw_number(taken: Collection[int], rng: Random) -> int:
    """A number from 1 that no number in ``taken`` is, at random; the range grows by a digit
    whenever it is half taken, so a draw stays quick and a number stays hard to guess."""
    top = 10**DIGITS - 1
    while 2 * len(taken) >= top:
        top = top * 10 + 9
    while True:
        n = rng.randint(1, top)
        if n not in taken:
            return n


def label(number: int) -> str:
    """How a number is shown: ``7`` → ``"0007"``."""
    return f"{number:0{DIGITS}d}"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads a procedure, as far as its bidders go."""

    subject: str | None
    """The reader's account (None: an anonymous reader of a public view)."""
    sees_identities: bool

    @classmethod
    def of(cls, subject: str | None, *, oversees: bool, is_seller: bool, closed: bool
           ) -> Viewer:
        """``oversees``: an operator or regulator of the procedure's region (or one above it);
        the seller sees the bidders once the procedure is ``closed``."""
        return cls(subject, oversees or (is_seller and closed))

    def is_you(self, bidder_id: str) -> bool:
        return self.subject is not None and bidder_id == self.subject

    def identity(self, bidder_id: str) -> str | None:
        """The account behind a number, if this reader may know it (its own, always)."""
        return bidder_id if self.sees_identities or self.is_you(bidder_id) else None
