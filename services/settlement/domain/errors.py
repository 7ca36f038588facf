"""The settlement service's problems, each a problem+json type of its own: domain refusals,
lookups that find nothing and bank callbacks refused at the door."""

from __future__ import annotations

from shared.problems import Problem


class SettlementProblem(Problem):
    slug = "settlement-invalid"
    status = 422
    title = "The settlement request is invalid"


class InvalidAmount(SettlementProblem):
    slug = "settlement-invalid-amount"
    title = "Amounts are whole fen (分), never negative"


class UnbalancedPosting(SettlementProblem):
    slug = "settlement-unbalanced-posting"
    title = "A posting needs at least two lines and equal debits and credits"


class InvalidAccount(SettlementProblem):
    slug = "settlement-invalid-account"
    title = "The account id is not a known account kind"


class DuplicateEntry(SettlementProblem):
    slug = "settlement-duplicate-entry"
    status = 409
    title = "An entry with this id is already posted"


class InvalidFeeSchedule(SettlementProblem):
    slug = "settlement-invalid-fee-schedule"
    title = "The fee schedule is not valid"


class InvalidSplit(SettlementProblem):
    slug = "settlement-invalid-split"
    title = "The income split is not valid"


class InvalidPolicy(SettlementProblem):
    slug = "settlement-invalid-policy"
    title = "The subsidy policy file is not valid"


class PolicyNotApplicable(SettlementProblem):
    slug = "settlement-policy-not-applicable"
    title = "The subsidy policy does not cover that year"


# -- refusals of a deposit or a deal's settlement ----------------------------------------------
class DepositMismatch(SettlementProblem):
    slug = "settlement-deposit-mismatch"
    status = 422
    title = "The deposit amount is not what the bidder owes"


class DealClosed(SettlementProblem):
    slug = "settlement-deal-closed"
    status = 409
    title = "The deal's settlement is already completed or defaulted"


class Overpayment(SettlementProblem):
    slug = "settlement-overpayment"
    status = 422
    title = "The payment exceeds what is outstanding"


class ScheduleLocked(SettlementProblem):
    slug = "settlement-schedule-locked"
    status = 409
    title = "The schedule can only be changed before the first receipt"


class InvalidSchedule(SettlementProblem):
    slug = "settlement-invalid-schedule"
    status = 422
    title = "The payment schedule is not valid"


# -- lookups that find nothing -------------------------------------------------------------------
class UnknownRegistration(Problem):
    slug = "settlement-unknown-registration"
    status = 404
    title = "No registration of this bidder for this procedure is known"


class UnknownDeal(Problem):
    """The deal may yet arrive (its ``DealConcluded`` is consumed asynchronously), so a keyed
    command refused with it is not stored: the retry runs as new."""

    slug = "settlement-unknown-deal"
    status = 404
    title = "No such deal is being settled"
    retryable = True


# -- bank callbacks refused at the door --------------------------------------------------------
class BadSignature(Problem):
    slug = "settlement-bank-signature-invalid"
    status = 401
    title = "The bank callback's signature is invalid"


class StaleCallback(Problem):
    slug = "settlement-bank-callback-stale"
    status = 401
    title = "The bank callback's timestamp is outside the accepted window"
