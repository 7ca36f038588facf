"""Domain errors of the pricing procedures, each a problem+json type of its own."""

from __future__ import annotations

from shared.problems import Problem


class InvalidTerms(Problem):
    """Terms that break a rule; ``errors`` lists each field (``terms.<name>``) and why."""

    slug = "auction-invalid-terms"
    status = 422
    title = "The procedure's terms break the exchange's rules"


class IllegalTransition(Problem):
    slug = "auction-illegal-transition"
    status = 409
    title = "The procedure cannot do that now"


class RegistrationRefused(Problem):
    slug = "auction-registration-refused"
    status = 409
    title = "The bidder cannot register or qualify now"


class ProxyRefused(Problem):
    """A proxy bid (代理出价) was refused.

    ``reason`` is a bid reason code, or ``proxy-not-raised`` for a maximum not above the last.
    """

    slug = "auction-proxy-refused"
    status = 409
    title = "The proxy bid was refused"


class ReauctionRefused(Problem):
    slug = "auction-reauction-refused"
    status = 409
    title = "The lot cannot be re-auctioned on these terms"


class ObjectionRefused(Problem):
    slug = "notice-objection-refused"
    status = 409
    title = "The objection cannot be filed or resolved now"


class ObjectionNotFound(Problem):
    slug = "notice-objection-not-found"
    status = 404
    title = "No such objection on this notice"


class CalendarNotCovered(Problem):
    """The official working-day calendar of that year is not known (not yet published, or
    older than the data): a deadline there cannot be computed, and guessing would be wrong."""

    slug = "working-calendar-not-covered"
    status = 422
    title = "The official working-day calendar does not cover that date"
