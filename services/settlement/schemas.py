"""The settlement API's models: request bodies (the bank's callbacks included) and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.bounds import AwareTimestamp, PositiveFen, Reference, Share, SubjectId


# -- requests ------------------------------------------------------------------------------------
class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_id: uuid.UUID
    bidder_id: SubjectId
    amount_fen: PositiveFen
    bank_reference: Reference | None = None


class InstalmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: AwareTimestamp
    amount_fen: PositiveFen


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instalments: list[InstalmentIn] = Field(min_length=1, max_length=60)


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: PositiveFen
    reference: Reference | None = None


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inventor_share: Annotated[Share, Field(description="the inventor team's share of the net")]


class DepositCallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["deposit"]
    reference: Reference
    timestamp: AwareTimestamp
    amount_fen: PositiveFen
    procedure_id: uuid.UUID
    bidder_id: SubjectId


class PaymentCallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["payment"]
    reference: Reference
    timestamp: AwareTimestamp
    amount_fen: PositiveFen
    deal_id: uuid.UUID


CALLBACK: TypeAdapter[DepositCallback | PaymentCallback] = TypeAdapter(
    Annotated[DepositCallback | PaymentCallback, Field(discriminator="kind")])
"""Either kind of callback, told apart by ``kind``."""


# -- answers -------------------------------------------------------------------------------------


class DepositOut(BaseModel):
    deposit_id: uuid.UUID
    procedure_id: uuid.UUID
    bidder_id: str
    amount_fen: int
    region: str
    status: Literal["held", "applied", "released", "forfeited"]
    bank_reference: str | None
    confirmed_at: datetime
    deal_id: uuid.UUID | None
    already_confirmed: bool | None = None

    @classmethod
    def of(cls, row: asyncpg.Record, already_confirmed: bool | None = None) -> DepositOut:
        return cls(**{k: row[k] for k in cls.model_fields if k != "already_confirmed"},
                   already_confirmed=already_confirmed)


class InstalmentOut(BaseModel):
    n: int
    due_at: datetime
    amount_fen: int


class PaymentOut(BaseModel):
    payment_id: uuid.UUID
    amount_fen: int
    source: Literal["operator", "bank"]
    reference: str | None
    received_at: datetime


class DealOut(BaseModel):
    deal_id: uuid.UUID
    procedure_id: uuid.UUID
    listing_id: uuid.UUID
    route: Literal["auction", "listing", "negotiated"]
    region: str
    seller_id: str
    buyer_id: str
    price_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    deposit_fen: int
    paid_fen: int
    outstanding_fen: int
    status: Literal["open", "completed", "defaulted"]
    overdue_since: datetime | None
    concluded_at: datetime
    completed_at: datetime | None
    defaulted_at: datetime | None
    instalments: list[InstalmentOut]
    payments: list[PaymentOut]

    @classmethod
    def of(cls, row: asyncpg.Record, instalments: list[asyncpg.Record],
           payments: list[asyncpg.Record]) -> DealOut:
        return cls(**{k: row[k] for k in cls.model_fields
                      if k not in ("instalments", "payments")},
                   instalments=[InstalmentOut(**{k: i[k] for k in InstalmentOut.model_fields})
                                for i in instalments],
                   payments=[PaymentOut(**dict(p)) for p in payments])


class ReceiptOut(BaseModel):
    payment_id: uuid.UUID
    deal_id: uuid.UUID
    amount_fen: int
    paid_fen: int
    outstanding_fen: int
    status: Literal["open", "completed"]


class SplitOut(BaseModel):
    seller_id: str
    inventor_share: str
    configured: bool = True


class AccountTotals(BaseModel):
    account: str
    debit_fen: int
    credit_fen: int
    balance_fen: int = Field(description="debits − credits")


class TrialBalance(BaseModel):
    accounts: list[AccountTotals]
    total_debit_fen: int
    total_credit_fen: int
    difference_fen: int
    balanced: bool


class StatementLine(BaseModel):
    line: int
    entry_id: str
    memo: str
    deal_id: uuid.UUID | None
    posted_at: datetime
    debit_fen: int
    credit_fen: int
    balance_fen: int = Field(description="the account's balance after this line")


class Statement(BaseModel):
    account: str
    lines: list[StatementLine]
    next_cursor: int | None = Field(description="pass as `after` for the next page; null on "
                                    "the last page")


class SideTotals(BaseModel):
    assessed: int
    granted: int
    amount_fen: int


class RegionSubsidies(BaseModel):
    region: str
    name: str | None
    granted: int
    amount_fen: int


class SubsidyReport(BaseModel):
    region: str
    level: Literal["province", "city", "county"]
    year: int
    assessed: int
    granted: int
    received_fen: int
    amount_fen: int
    commissioner_share_fen: int
    by_side: dict[Literal["buyer", "seller"], SideTotals]
    by_region: list[RegionSubsidies]


class CallbackOut(BaseModel):
    reference: str
    duplicate: bool = Field(description="the same reference was applied before: its result")
    result: dict[str, Any] = Field(description="`kind` (deposit or payment) and, for a "
                                   "deposit, the deposit; for a payment, the receipt")
