"""A double-entry ledger (复式记账) in integer fen.

Every movement of money is a :class:`Posting`: at least two :class:`Line` s whose debits equal
their credits. A :class:`Ledger` is immutable; :meth:`Ledger.post` returns a new ledger and
refuses an entry id it already holds, so a redelivered step cannot post twice. Balances are never
stored: :meth:`Ledger.balance`, :meth:`Ledger.trial_balance` and :meth:`Ledger.statement` are
derived from the postings every time.

Sign convention: a balance is ``debits − credits``. The exchange's bank account (an asset) is
normally positive; what the exchange owes — a seller's proceeds, deposits held, fee income,
subsidies to pay out — is normally negative (a credit balance); a buyer who still owes part of
the price has a positive (debit) balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from services.settlement.domain.errors import DuplicateEntry, InvalidAccount, UnbalancedPosting
from services.settlement.domain.money import require_fen


class AccountKind(StrEnum):
    BUYER = "buyer"                          # 受让方: what the buyer owes (+) or is owed (−)
    SELLER = "seller"                        # 转让方 (institution): proceeds the exchange owes
    INVENTOR_TEAM = "inventor_team"          # 成果完成人团队: their share of a seller's net
    DEPOSITS_HELD = "deposits_held"          # 保证金: held per lot and bidder
    FEE_INCOME = "fee_income"                # 交易服务费收入
    SUBSIDIES_PAYABLE = "subsidies_payable"  # 补助: received from government, to be paid out
    SUBSIDIES_RECEIVABLE = "subsidies_receivable"  # 补助 assessed, due from the policy's funder
    BANK = "bank"                            # the exchange's settlement bank / cash account


OWNED = frozenset({AccountKind.BUYER, AccountKind.SELLER, AccountKind.INVENTOR_TEAM,
                   AccountKind.DEPOSITS_HELD, AccountKind.SUBSIDIES_PAYABLE,
                   AccountKind.SUBSIDIES_RECEIVABLE})


@dataclass(frozen=True, order=True)
class Account:
    """``kind`` plus, for per-party accounts, an owner: id ``buyer:<id>``, ``fee_income``."""

    kind: AccountKind
    owner: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AccountKind):
            raise InvalidAccount(detail=f"Unknown account kind {self.kind!r}.")
        if self.kind in OWNED and not self.owner:
            raise InvalidAccount(detail=f"A {self.kind.value} account needs an owner id.")
        if self.owner is not None and (not self.owner or self.owner != self.owner.strip()):
            raise InvalidAccount(detail=f"Bad owner id {self.owner!r}.")

    @property
    def id(self) -> str:
        return self.kind.value if self.owner is None else f"{self.kind.value}:{self.owner}"

    def __str__(self) -> str:
        return self.id

    @classmethod
    def parse(cls, account_id: str) -> Account:
        """``"buyer:42"`` → ``Account(BUYER, "42")``; the owner is everything after the first
        colon, so it may itself contain colons (``deposits_held:lot-7:bidder-3``)."""
        kind, sep, owner = account_id.partition(":")
        try:
            k = AccountKind(kind)
        except ValueError:
            raise InvalidAccount(detail=f"Unknown account kind in {account_id!r}.") from None
        return cls(k, owner if sep else None)


def buyer(id_: str) -> Account:
    return Account(AccountKind.BUYER, id_)


def seller(id_: str) -> Account:
    return Account(AccountKind.SELLER, id_)


def inventor_team(seller_id: str) -> Account:
    return Account(AccountKind.INVENTOR_TEAM, seller_id)


def deposit_held(lot_id: str, bidder_id: str) -> Account:
    return Account(AccountKind.DEPOSITS_HELD, f"{lot_id}:{bidder_id}")


def subsidy_payable(recipient_id: str) -> Account:
    return Account(AccountKind.SUBSIDIES_PAYABLE, recipient_id)


def subsidy_receivable(policy_id: str) -> Account:
    return Account(AccountKind.SUBSIDIES_RECEIVABLE, policy_id)


FEE_INCOME = Account(AccountKind.FEE_INCOME)
BANK = Account(AccountKind.BANK)


@dataclass(frozen=True)
class Line:
    """One side of a posting: exactly one of ``debit_fen`` / ``credit_fen`` is positive."""

    account: Account
    debit_fen: int = 0
    credit_fen: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.account, Account):
            raise InvalidAccount(detail=f"{self.account!r} is not an Account.")
        require_fen(self.debit_fen, "debit_fen")
        require_fen(self.credit_fen, "credit_fen")
        if (self.debit_fen > 0) == (self.credit_fen > 0):
            raise UnbalancedPosting(
                detail=f"A line on {self.account} must debit or credit a positive amount, "
                       "not both and not neither.")

    @property
    def net_fen(self) -> int:
        """``debit − credit``: this line's effect on its account's balance."""
        return self.debit_fen - self.credit_fen


def debit(account: Account, fen: int) -> Line:
    return Line(account, debit_fen=fen)


def credit(account: Account, fen: int) -> Line:
    return Line(account, credit_fen=fen)


@dataclass(frozen=True)
class Posting:
    """A balanced journal entry; it cannot be constructed unbalanced."""

    entry_id: str
    lines: tuple[Line, ...]
    memo: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not isinstance(self.entry_id, str) or not self.entry_id.strip():
            raise UnbalancedPosting(detail="A posting needs a non-empty entry id.")
        if len(self.lines) < 2:
            raise UnbalancedPosting(detail=f"Entry {self.entry_id} has fewer than two lines.",
                                    entry_id=self.entry_id)
        for line in self.lines:
            if not isinstance(line, Line):
                raise UnbalancedPosting(detail=f"{line!r} is not a Line.")
        debits, credits = self.total_debit_fen, self.total_credit_fen
        if debits != credits:
            raise UnbalancedPosting(
                detail=f"Entry {self.entry_id}: debits {debits} ≠ credits {credits} fen.",
                entry_id=self.entry_id, debit_fen=debits, credit_fen=credits)

    @property
    def total_debit_fen(self) -> int:
        return sum(line.debit_fen for line in self.lines)

    @property
    def total_credit_fen(self) -> int:
        return sum(line.credit_fen for line in self.lines)

    @property
    def accounts(self) -> frozenset[Account]:
        return frozenset(line.account for line in self.lines)


@dataclass(frozen=True)
class TrialRow:
    account: Account
    debit_fen: int
    credit_fen: int

    @property
    def balance_fen(self) -> int:
        return self.debit_fen - self.credit_fen


@dataclass(frozen=True)
class TrialBalance:
    """Per-account sums of all lines, ordered by account id."""

    rows: tuple[TrialRow, ...]

    @property
    def total_debit_fen(self) -> int:
        return sum(r.debit_fen for r in self.rows)

    @property
    def total_credit_fen(self) -> int:
        return sum(r.credit_fen for r in self.rows)

    @property
    def difference_fen(self) -> int:
        """Always 0 for a ledger of balanced postings."""
        return self.total_debit_fen - self.total_credit_fen


@dataclass(frozen=True)
class StatementLine:
    entry_id: str
    memo: str
    debit_fen: int
    credit_fen: int
    balance_fen: int  # running ``debits − credits`` after this line


@dataclass(frozen=True)
class Ledger:
    """Immutable: :meth:`post` returns a new ledger; the old one is unchanged."""

    postings: tuple[Posting, ...] = ()
    _ids: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = [p.entry_id for p in self.postings]
        if len(set(ids)) != len(ids):
            raise DuplicateEntry(detail="The postings repeat an entry id.")
        object.__setattr__(self, "_ids", frozenset(ids))

    def has(self, entry_id: str) -> bool:
        return entry_id in self._ids

    def post(self, posting: Posting) -> Ledger:
        """A new ledger with ``posting`` appended; :class:`DuplicateEntry` if its id is taken
        (whether or not the lines are the same — a redelivered step is refused, not re-applied).
        """
        if not isinstance(posting, Posting):
            raise UnbalancedPosting(detail=f"{posting!r} is not a Posting.")
        if posting.entry_id in self._ids:
            raise DuplicateEntry(detail=f"Entry {posting.entry_id} is already posted.",
                                 entry_id=posting.entry_id)
        return Ledger((*self.postings, posting))

    def post_all(self, postings: Iterable[Posting]) -> Ledger:
        ledger = self
        for p in postings:
            ledger = ledger.post(p)
        return ledger

    def balance(self, account: Account) -> int:
        """``debits − credits`` of every line on ``account``, summed from the postings."""
        return sum(line.net_fen for p in self.postings for line in p.lines
                   if line.account == account)

    def accounts(self) -> tuple[Account, ...]:
        return tuple(sorted({line.account for p in self.postings for line in p.lines},
                            key=lambda a: a.id))

    def trial_balance(self) -> TrialBalance:
        sums: dict[Account, list[int]] = {}
        for p in self.postings:
            for line in p.lines:
                s = sums.setdefault(line.account, [0, 0])
                s[0] += line.debit_fen
                s[1] += line.credit_fen
        return TrialBalance(tuple(TrialRow(a, d, c) for a, (d, c)
                                  in sorted(sums.items(), key=lambda kv: kv[0].id)))

    def statement(self, account: Account) -> tuple[StatementLine, ...]:
        """Every line on ``account`` in posting order, with the running balance."""
        running = 0
        out: list[StatementLine] = []
        for p in self.postings:
            for line in p.lines:
                if line.account == account:
                    running += line.net_fen
                    out.append(StatementLine(p.entry_id, p.memo, line.debit_fen,
                                             line.credit_fen, running))
        return tuple(out)
