"""Problems of the settlement service's commands (problem+json types of their own)."""

from __future__ import annotations

from shared.problems import Problem


class UnknownRegistration(Problem):
    slug = "settlement-unknown-registration"
    status = 404
    title = "No registration of this bidder for this procedure is known"


class DepositMismatch(Problem):
    slug = "settlement-deposit-mismatch"
    status = 422
    title = "The deposit amount is not what the bidder owes"


class UnknownDeal(Problem):
    slug = "settlement-unknown-deal"
    status = 404
    title = "No such deal is being settled"


class DealClosed(Problem):
    slug = "settlement-deal-closed"
    status = 409
    title = "The deal's settlement is already completed or defaulted"


class Overpayment(Problem):
    slug = "settlement-overpayment"
    status = 422
    title = "The payment exceeds what is outstanding"


class ScheduleLocked(Problem):
    slug = "settlement-schedule-locked"
    status = 409
    title = "The schedule can only be changed before the first receipt"


class InvalidSchedule(Problem):
    slug = "settlement-invalid-schedule"
    status = 422
    title = "The payment schedule is not valid"


class BadSignature(Problem):
    slug = "bank-signature-invalid"
    status = 401
    title = "The bank callback's signature is invalid"


class StaleCallback(Problem):
    slug = "bank-callback-stale"
    status = 401
    title = "The bank callback's timestamp is outside the accepted window"
