"""Business steps of a settlement, each turned into one balanced :class:`Posting`.

The exchange collects the buyer's money into its bank account and pays the seller, the inventor
team and subsidy recipients out of it. A step whose amount is 0 has nothing to post and refuses
(:class:`InvalidAmount`) rather than build an empty entry; negative or non-integer amounts are
refused by :class:`Line`.

=====================  ==========================================  =============================
step                   debit                                       credit
=====================  ==========================================  =============================
deposit_received       bank                                        deposits_held:<lot>:<bidder>
deposit_released       deposits_held:<lot>:<bidder>                bank
deal_agreed            buyer:<b> (owes the price)                  seller:<s> (is owed it)
deposit_applied        deposits_held:<lot>:<b>                     buyer:<b> (counts to price)
payment_received       bank                                        buyer:<b> (an instalment)
refund                 buyer:<b>                                   bank
fee_charged            buyer:<b> or seller:<s>                     fee_income
fee_reversed           fee_income                                  buyer:<b> or seller:<s>
split_to_inventors     seller:<s>                                  inventor_team:<s>
payout                 seller / inventor_team / subsidies_payable  bank
deal_cancelled         seller:<s>                                  buyer:<b> (reverses the deal)
deposit_forfeited      deposits_held:<lot>:<b>                     beneficiary (seller, fees…)
subsidy_assessed       subsidies_receivable:<policy>               subsidies_payable:<recipient>
subsidy_received       bank                                        subsidies_receivable:<policy>
=====================  ==========================================  =============================
"""

from __future__ import annotations

from services.settlement.domain.errors import InvalidAccount, InvalidAmount
from services.settlement.domain.ledger import (
    BANK,
    FEE_INCOME,
    Account,
    AccountKind,
    Posting,
    buyer,
    credit,
    debit,
    deposit_held,
    inventor_team,
    seller,
    subsidy_payable,
    subsidy_receivable,
)
from services.settlement.domain.money import require_fen


def _pair(entry_id: str, dr: Account, cr: Account, fen: int, memo: str) -> Posting:
    require_fen(fen, "amount_fen")
    if fen == 0:
        raise InvalidAmount(detail=f"Entry {entry_id}: nothing to post for 0 fen.",
                            field="amount_fen")
    return Posting(entry_id, (debit(dr, fen), credit(cr, fen)), memo)


def deposit_received(entry_id: str, *, lot_id: str, bidder_id: str, amount_fen: int) -> Posting:
    return _pair(entry_id, BANK, deposit_held(lot_id, bidder_id), amount_fen,
                 f"deposit received from {bidder_id} for {lot_id}")


def deposit_released(entry_id: str, *, lot_id: str, bidder_id: str, amount_fen: int) -> Posting:
    return _pair(entry_id, deposit_held(lot_id, bidder_id), BANK, amount_fen,
                 f"deposit released to {bidder_id} for {lot_id}")


def deal_agreed(entry_id: str, *, buyer_id: str, seller_id: str, price_fen: int) -> Posting:
    return _pair(entry_id, buyer(buyer_id), seller(seller_id), price_fen,
                 f"deal: {buyer_id} owes {seller_id} the price")


def deposit_applied(entry_id: str, *, lot_id: str, buyer_id: str, amount_fen: int) -> Posting:
    return _pair(entry_id, deposit_held(lot_id, buyer_id), buyer(buyer_id), amount_fen,
                 f"winner's deposit for {lot_id} counts toward the price")


def payment_received(entry_id: str, *, buyer_id: str, amount_fen: int) -> Posting:
    return _pair(entry_id, BANK, buyer(buyer_id), amount_fen, f"payment from {buyer_id}")


def refund(entry_id: str, *, buyer_id: str, amount_fen: int) -> Posting:
    return _pair(entry_id, buyer(buyer_id), BANK, amount_fen, f"refund to {buyer_id}")


def fee_charged(entry_id: str, *, party: Account, amount_fen: int) -> Posting:
    """A 交易服务费 charged to a buyer (who then owes more) or a seller (who is owed less)."""
    if party.kind not in (AccountKind.BUYER, AccountKind.SELLER):
        raise InvalidAccount(detail=f"Fees are charged to buyers or sellers, not {party}.")
    return _pair(entry_id, party, FEE_INCOME, amount_fen, f"fee charged to {party}")


def split_to_inventors(entry_id: str, *, seller_id: str, amount_fen: int) -> Posting:
    """Move the inventor team's share (see :mod:`split`) off the seller institution's account."""
    return _pair(entry_id, seller(seller_id), inventor_team(seller_id), amount_fen,
                 f"inventor share of {seller_id}'s net")


PAYABLE_KINDS = frozenset({AccountKind.SELLER, AccountKind.INVENTOR_TEAM,
                           AccountKind.SUBSIDIES_PAYABLE})


def payout(entry_id: str, *, to: Account, amount_fen: int) -> Posting:
    if to.kind not in PAYABLE_KINDS:
        raise InvalidAccount(detail=f"Payouts go to sellers, inventor teams or subsidy "
                                    f"recipients, not {to}.")
    return _pair(entry_id, to, BANK, amount_fen, f"payout to {to}")


def deal_cancelled(entry_id: str, *, buyer_id: str, seller_id: str, price_fen: int) -> Posting:
    """Reverse :func:`deal_agreed`, e.g. when the winner defaults (违约)."""
    return _pair(entry_id, seller(seller_id), buyer(buyer_id), price_fen,
                 f"deal between {buyer_id} and {seller_id} cancelled")


def deposit_forfeited(entry_id: str, *, lot_id: str, bidder_id: str, amount_fen: int,
                      beneficiary: Account) -> Posting:
    """A defaulting winner's deposit goes to ``beneficiary`` — who that is (the seller as
    compensation, the exchange's fee income, …) is the exchange's rule, so the caller names it."""
    if beneficiary.kind not in (AccountKind.SELLER, AccountKind.FEE_INCOME):
        raise InvalidAccount(detail=f"A forfeited deposit goes to a seller or fee income, "
                                    f"not {beneficiary}.")
    return _pair(entry_id, deposit_held(lot_id, bidder_id), beneficiary, amount_fen,
                 f"deposit of {bidder_id} for {lot_id} forfeited")


def subsidy_assessed(entry_id: str, *, policy_id: str, recipient_id: str, amount_fen: int
                     ) -> Posting:
    """An assessed subsidy: the policy's funder owes it, the exchange owes it on."""
    return _pair(entry_id, subsidy_receivable(policy_id), subsidy_payable(recipient_id),
                 amount_fen, f"subsidy for {recipient_id} under {policy_id} assessed")


def subsidy_received(entry_id: str, *, recipient_id: str, amount_fen: int,
                     policy_id: str | None = None) -> Posting:
    """Government funds for a subsidy arrive; :func:`payout` pays them on. With ``policy_id``
    they settle what :func:`subsidy_assessed` made receivable under it."""
    if policy_id is not None:
        return _pair(entry_id, BANK, subsidy_receivable(policy_id), amount_fen,
                     f"subsidy under {policy_id} for {recipient_id} received")
    return _pair(entry_id, BANK, subsidy_payable(recipient_id), amount_fen,
                 f"subsidy for {recipient_id} received")


def fee_reversed(entry_id: str, *, party: Account, amount_fen: int) -> Posting:
    """Reverse :func:`fee_charged` (a defaulted deal owes no service fee)."""
    if party.kind not in (AccountKind.BUYER, AccountKind.SELLER):
        raise InvalidAccount(detail=f"Fees are charged to buyers or sellers, not {party}.")
    return _pair(entry_id, FEE_INCOME, party, amount_fen, f"fee charged to {party} reversed")
