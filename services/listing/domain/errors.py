"""Domain errors, each a problem+json type of its own."""

from __future__ import annotations

from shared.problems import Problem


class ListingProblem(Problem):
    status = 409


class IllegalTransition(ListingProblem):
    slug = "listing-illegal-transition"
    title = "The listing cannot do that in its current status"


class NotEditable(ListingProblem):
    slug = "listing-not-editable"
    title = "Only drafts and rejected listings can be edited"


class SecurityReviewRequired(ListingProblem):
    slug = "listing-security-review-required"
    title = "A cross-border listing needs its security review before publication"


class IncompleteListing(Problem):
    slug = "listing-incomplete"
    status = 422
    title = "The listing is not complete enough to submit"


class NotTheOwner(Problem):
    slug = "listing-not-owner"
    status = 403
    title = "Only the listing's seller may do that"


class DemandProblem(Problem):
    slug = "listing-demand-illegal-transition"
    status = 409
    title = "The demand cannot do that in its current status"


class DeadlinePast(DemandProblem):
    slug = "listing-demand-deadline-past"
    status = 422
    title = "Deadline in the past"


class OwnDemand(DemandProblem):
    slug = "listing-demand-own-proposal"
    status = 422
    title = "Own demand"


class DuplicateProposal(DemandProblem):
    slug = "listing-demand-duplicate-proposal"
    title = "Duplicate proposal"


class BadCursor(Problem):
    slug = "listing-search-bad-cursor"
    status = 422
    title = "The cursor does not belong to this search"


class TooManyWebhooks(Problem):
    slug = "listing-too-many-webhooks"
    status = 409
    title = "The account has as many webhooks as it may register"
