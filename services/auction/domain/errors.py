"""The auction service's problems, each a problem+json type of its own (``auction-<what>``)."""

from __future__ import annotations

from shared.problems import NotFound, Problem


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
    slug = "auction-notice-objection-refused"
    status = 409
    title = "The objection cannot be filed or resolved now"


class ObjectionNotFound(Problem):
    slug = "auction-notice-objection-not-found"
    status = 404
    title = "No such objection on this notice"


class CalendarNotCovered(Problem):
    """The official working-day calendar of that year is not known (not yet published, or
    older than the data): a deadline there cannot be computed, and guessing would be wrong."""

    slug = "auction-working-calendar-not-covered"
    status = 422
    title = "The official working-day calendar does not cover that date"


class BidRefused(Problem):
    """A bid that was not accepted; ``reason`` is its reject reason code (the refusal is
    recorded: ``cn.techex.auction.bid_rejected.v1``)."""

    slug = "auction-bid-rejected"
    status = 409
    title = "The bid was not accepted"


class ListingNotAvailable(Problem):
    slug = "auction-listing-wrong-route"
    status = 409
    title = "The listing is not published for this pricing route"


class ProcedureRunning(Problem):
    slug = "auction-listing-procedure-running"
    status = 409
    title = "A pricing procedure of this listing is already running"


class UnknownListing(NotFound):
    """No such listing has reached this service (yet: its event may still be on its way).
    Not stored as a keyed answer, so a retry once the listing has arrived runs as new."""

    retryable = True


# -- the bid engine's ownership of an auction (one writer per auction) ------------------------

class OwnedElsewhere(Problem):
    slug = "auction-owned-elsewhere"
    status = 409
    title = "Another auction-service process writes this auction"
    owner_url: str | None = None
    """The owner's internal address: used to forward the request, never shown to clients."""

    def at(self, owner_url: str | None) -> OwnedElsewhere:
        self.owner_url = owner_url
        return self


class OwnershipLost(Problem):
    slug = "auction-ownership-lost"
    status = 503
    title = "This process lost the auction to another one; retry"


class UnknownAuction(Problem):
    slug = "auction-not-found"
    status = 404
    title = "No such auction"


class OwnerUnreachable(Problem):
    slug = "auction-owner-unreachable"
    status = 503
    title = "The process that writes this auction does not answer; retry shortly"
