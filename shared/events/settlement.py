"""Events of the settlement service's own aggregates: ``settlement`` (a deal's payment schedule,
receipts, fees and payouts), ``deposit`` (held, applied, released, forfeited) and ``subsidy``.

The other services follow ``DepositConfirmed``, ``SettlementCompleted`` and ``DealDefaulted``;
together these events are the record from which a deal's settlement can be rebuilt step by
step. Money is integer fen.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.base import Event, register

__all__ = [
    "DealDefaulted",
    "DepositApplied",
    "DepositConfirmed",
    "DepositForfeited",
    "DepositReleased",
    "FeeCharged",
    "Instalment",
    "PaymentOverdue",
    "PaymentReceived",
    "PaymentScheduleSet",
    "PayoutMade",
    "SettlementCompleted",
    "SettlementOpened",
    "SubsidyAssessed",
]

_REGION = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 administrative code")
_PROC = "6a1f3c9e-1b7d-4d2e-8f00-2c3b4d5e6f70"
_DEAL = "9c2d1e0f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
_DEPOSIT = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"
_AT = "2026-04-02T02:00:00Z"
_DUE = "2026-04-17T02:00:00Z"


def _examples(**fields: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


class Instalment(BaseModel):
    """One payment due: ``amount_fen`` by ``due_at`` (instalments are numbered from 1)."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1)
    due_at: AwareDatetime
    amount_fen: int = Field(gt=0)


class _SettlementEvent(Event):
    aggregate: ClassVar[str] = "settlement"
    subject_field: ClassVar[str] = "deal_id"

    deal_id: UUID
    region: str = _REGION


@register
class SettlementOpened(_SettlementEvent):
    """A concluded deal is to be settled: what the buyer owes, the fees, the schedule."""

    name: ClassVar[str] = "opened"
    time_field: ClassVar[str] = "opened_at"
    model_config = _examples(
        deal_id=_DEAL, procedure_id=_PROC, region="230102", buyer_id="longjiang-coatings",
        seller_id="hit-university", price_fen=186000000, buyer_fee_fen=4220000,
        seller_fee_fen=4220000, deposit_fen=15000000, outstanding_fen=175220000,
        instalments=[{"n": 1, "due_at": _DUE, "amount_fen": 175220000}], opened_at=_AT)

    procedure_id: UUID
    buyer_id: str
    seller_id: str
    price_fen: int = Field(gt=0)
    buyer_fee_fen: int = Field(ge=0, description="交易服务费 the buyer pays on top of the price")
    seller_fee_fen: int = Field(ge=0, description="交易服务费 taken from the seller's proceeds")
    deposit_fen: int = Field(ge=0, description="the winner's deposit, counting toward the price")
    outstanding_fen: int = Field(ge=0, description="price + buyer's fee − deposit")
    instalments: list[Instalment]
    opened_at: AwareDatetime


@register
class PaymentScheduleSet(_SettlementEvent):
    """An operator replaced the payment schedule (before the first receipt)."""

    name: ClassVar[str] = "schedule_set"
    time_field: ClassVar[str] = "set_at"
    model_config = _examples(
        deal_id=_DEAL, region="230102", set_by="operator-230100",
        instalments=[{"n": 1, "due_at": _DUE, "amount_fen": 100000000},
                     {"n": 2, "due_at": "2026-05-17T02:00:00Z", "amount_fen": 75220000}],
        set_at=_AT)

    set_by: str
    instalments: list[Instalment]
    set_at: AwareDatetime


@register
class PaymentReceived(_SettlementEvent):
    """Money from the buyer toward the deal reached the exchange's account."""

    name: ClassVar[str] = "payment_received"
    time_field: ClassVar[str] = "received_at"
    model_config = _examples(
        deal_id=_DEAL, region="230102", payment_id=_DEPOSIT, buyer_id="longjiang-coatings",
        amount_fen=175220000, paid_fen=175220000, outstanding_fen=0, source="bank",
        reference="ICBC-20260405-0001", received_at=_AT)

    payment_id: UUID
    buyer_id: str
    amount_fen: int = Field(gt=0)
    paid_fen: int = Field(ge=0, description="all payments so far, the deposit not included")
    outstanding_fen: int = Field(ge=0)
    source: Literal["operator", "bank"]
    reference: str | None = None
    received_at: AwareDatetime


@register
class PaymentOverdue(_SettlementEvent):
    """An instalment's due date passed with the cumulative amount due not received."""

    name: ClassVar[str] = "payment_overdue"
    time_field: ClassVar[str] = "detected_at"
    model_config = _examples(
        deal_id=_DEAL, region="230102", buyer_id="longjiang-coatings", instalment=1,
        due_at=_DUE, shortfall_fen=175220000, default_at="2026-04-20T02:00:00Z",
        detected_at=_DUE)

    buyer_id: str
    instalment: int = Field(ge=1)
    due_at: AwareDatetime
    shortfall_fen: int = Field(gt=0)
    default_at: AwareDatetime = Field(description="when the deal defaults if still unpaid")
    detected_at: AwareDatetime


@register
class FeeCharged(_SettlementEvent):
    """A 交易服务费 charged to one side of the deal, from the exchange's tiered schedule."""

    name: ClassVar[str] = "fee_charged"
    time_field: ClassVar[str] = "charged_at"
    model_config = _examples(deal_id=_DEAL, region="230102", side="buyer",
                             party_id="longjiang-coatings", amount_fen=4220000,
                             schedule="example-exchange", charged_at=_AT)

    side: Literal["buyer", "seller"]
    party_id: str
    amount_fen: int = Field(ge=0)
    schedule: str
    charged_at: AwareDatetime


@register
class PayoutMade(_SettlementEvent):
    """The exchange paid a party its part of the deal (seller institution or inventor team)."""

    name: ClassVar[str] = "payout_made"
    time_field: ClassVar[str] = "paid_at"
    model_config = _examples(deal_id=_DEAL, region="230102", account="inventor_team:hit-university",
                             recipient="inventor_team", amount_fen=127246000,
                             inventor_share="0.70", paid_at=_AT)

    account: str
    recipient: Literal["seller", "inventor_team"]
    amount_fen: int = Field(gt=0)
    inventor_share: str = Field(description="the share of the net the inventor team gets")
    paid_at: AwareDatetime


class _DepositEvent(Event):
    aggregate: ClassVar[str] = "deposit"
    subject_field: ClassVar[str] = "deposit_id"

    deposit_id: UUID
    procedure_id: UUID
    bidder_id: str
    amount_fen: int = Field(gt=0)
    region: str = _REGION


@register
class DepositApplied(_DepositEvent):
    """The winner's deposit counted toward the price once the deal was paid in full."""

    name: ClassVar[str] = "applied"
    time_field: ClassVar[str] = "applied_at"
    model_config = _examples(deposit_id=_DEPOSIT, procedure_id=_PROC,
                             bidder_id="longjiang-coatings", amount_fen=15000000,
                             region="230102", deal_id=_DEAL, applied_at=_AT)

    deal_id: UUID
    applied_at: AwareDatetime


@register
class DepositReleased(_DepositEvent):
    """A deposit went back to its bidder (lost the auction, or the procedure failed)."""

    name: ClassVar[str] = "released"
    time_field: ClassVar[str] = "released_at"
    model_config = _examples(deposit_id=_DEPOSIT, procedure_id=_PROC,
                             bidder_id="dalian-marine", amount_fen=15000000, region="230102",
                             reason="not-the-winner", released_at=_AT)

    reason: Literal["not-the-winner", "procedure-failed"]
    released_at: AwareDatetime


@register
class DepositForfeited(_DepositEvent):
    """A defaulting winner's deposit went to the beneficiary the exchange configured."""

    name: ClassVar[str] = "forfeited"
    time_field: ClassVar[str] = "forfeited_at"
    model_config = _examples(deposit_id=_DEPOSIT, procedure_id=_PROC,
                             bidder_id="longjiang-coatings", amount_fen=15000000,
                             region="230102", deal_id=_DEAL, beneficiary="seller:hit-university",
                             forfeited_at=_AT)

    deal_id: UUID
    beneficiary: str = Field(description="the ledger account credited")
    forfeited_at: AwareDatetime


@register
class SubsidyAssessed(Event):
    """A provincial policy was evaluated for one side of a completed settlement (granted or
    not: ``amount_fen`` 0 with the reasons)."""

    aggregate: ClassVar[str] = "subsidy"
    name: ClassVar[str] = "assessed"
    time_field: ClassVar[str] = "assessed_at"
    subject_field: ClassVar[str] = "assessment_id"
    model_config = _examples(
        assessment_id="2b3c4d5e-6f70-4182-9a3b-4c5d6e7f8091", deal_id=_DEAL,
        policy_id="heilongjiang-2026", project_id="3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06",
        year=2026, side="buyer", recipient_id="longjiang-coatings", region="230102",
        received_fen=50000000, amount_fen=15000000, commissioner_share_fen=1500000,
        reasons=["30 % of received 50000000 fen"], assessed_at=_AT)

    assessment_id: UUID
    deal_id: UUID
    policy_id: str
    project_id: str
    year: int
    side: Literal["buyer", "seller"]
    recipient_id: str
    region: str = _REGION
    received_fen: int = Field(ge=0)
    amount_fen: int = Field(ge=0)
    commissioner_share_fen: int = Field(ge=0, description="the most of it that may reward the "
                                                          "transfer commissioner (技术转移专员)")
    reasons: list[str]
    assessed_at: AwareDatetime


# Read by the other services to follow a procedure (formerly the procedures module).

_LISTING = "3f0c9a52-6d1e-4b8a-9c47-2e5d8b1f7a06"


@register
class DepositConfirmed(Event):
    """The settlement service holds a bidder's deposit for a procedure: the bidder qualifies."""

    aggregate: ClassVar[str] = "deposit"
    name: ClassVar[str] = "confirmed"
    time_field: ClassVar[str] = "confirmed_at"
    subject_field: ClassVar[str] = "deposit_id"
    model_config = _examples(deposit_id="1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
                             procedure_id=_PROC, bidder_id="longjiang-coatings",
                             amount_fen=15000000, region="230102", confirmed_at=_AT)

    deposit_id: UUID
    procedure_id: UUID
    bidder_id: str
    amount_fen: int = Field(gt=0)
    region: str = _REGION
    confirmed_at: AwareDatetime


@register
class SettlementCompleted(Event):
    """The deal's price was received in full and paid out."""

    aggregate: ClassVar[str] = "settlement"
    name: ClassVar[str] = "completed"
    time_field: ClassVar[str] = "completed_at"
    subject_field: ClassVar[str] = "deal_id"
    model_config = _examples(deal_id=_DEAL, listing_id=_LISTING, region="230102",
                             received_fen=186000000, completed_at=_AT,
                             procedure_id=_PROC, route="auction", seller_id="hit-university",
                             buyer_id="longjiang-coatings", price_fen=186000000,
                             concluded_at=_AT)

    deal_id: UUID
    listing_id: UUID | None = None
    region: str = _REGION
    received_fen: int = Field(ge=0, description="实际到账金额 in fen")
    completed_at: AwareDatetime
    # What the registry pre-fills a contract draft with (optional: added in the same version).
    procedure_id: UUID | None = None
    route: Literal["auction", "listing", "negotiated"] | None = None
    seller_id: str | None = None
    buyer_id: str | None = None
    price_fen: int | None = Field(default=None, gt=0, description="the deal price in fen")
    concluded_at: AwareDatetime | None = None


@register
class DealDefaulted(Event):
    """The buyer did not pay by the deadline: the deposit is forfeited and the lot goes back
    to the auction service, which ends the procedure as failed so the lot can be offered again."""

    aggregate: ClassVar[str] = "deal"
    name: ClassVar[str] = "defaulted"
    time_field: ClassVar[str] = "defaulted_at"
    subject_field: ClassVar[str] = "deal_id"
    model_config = _examples(deal_id=_DEAL, procedure_id=_PROC, listing_id=_LISTING,
                             region="230102", buyer_id="longjiang-coatings",
                             forfeited_fen=15000000, due_at=_AT, defaulted_at=_AT)

    deal_id: UUID
    procedure_id: UUID
    listing_id: UUID
    region: str = _REGION
    buyer_id: str
    forfeited_fen: int = Field(ge=0, description="the defaulting buyer's deposit, forfeited")
    due_at: AwareDatetime
    defaulted_at: AwareDatetime
