"""Problems of the settlement service's commands that are not domain refusals (those are in
``domain/errors.py``): lookups that find nothing, and bank callbacks refused at the door."""

from __future__ import annotations

from shared.problems import Problem


class UnknownRegistration(Problem):
    slug = "settlement-unknown-registration"
    status = 404
    title = "No registration of this bidder for this procedure is known"


class UnknownDeal(Problem):
    slug = "settlement-unknown-deal"
    status = 404
    title = "No such deal is being settled"


class BadSignature(Problem):
    slug = "bank-signature-invalid"
    status = 401
    title = "The bank callback's signature is invalid"


class StaleCallback(Problem):
    slug = "bank-callback-stale"
    status = 401
    title = "The bank callback's timestamp is outside the accepted window"
