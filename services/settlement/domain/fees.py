"""Tiered transaction service fees (交易服务费), configured per exchange as data.

A schedule is a list of tiers of the deal price, each with a rate, read **marginally** like tax
brackets: with tiers "up to ¥1 m at 3 %, up to ¥5 m at 2 %, above at 1 %", a ¥2 m deal pays
3 % of the first ¥1 m plus 2 % of the next ¥1 m = ¥50,000 — a higher price never lowers the fee.

The same schedule is charged to each side (buyer and seller separately). Per side:

1. the marginal sum is computed exactly in Decimal and rounded half-up to the fen **once**, on
   the total (never per tier);
2. it is raised to ``minimum_fen``, then lowered to ``maximum_fen`` where there is one;
3. it is capped at the price itself — a fee never exceeds the deal (a ¥0 deal pays nothing).

Each sub-platform of the deployment has its schedules (per procedure kind) in the
sub-platform file (:mod:`shared.subplatforms`, rates in basis points there);
:func:`from_subplatform` turns one into the schedule charged here.

Where none is agreed, :data:`AUCTION_DEFAULT` charges 5 % per side, the ceiling of
拍卖法 art. 56.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.settlement.domain.errors import InvalidFeeSchedule
from services.settlement.domain.money import require_fen, round_half_up
from shared.bounds import Fen, PositiveFen
from shared.problems import field_errors
from shared.subplatforms import FeeSchedule as SubplatformFees
from shared.subplatforms import check_tiers

Rate = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class FeeTier(BaseModel):
    """The rate for the part of the price up to ``up_to_fen`` (``None``: no upper bound)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    up_to_fen: PositiveFen | None
    rate: Rate


class FeeSchedule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str = Field(min_length=1)
    tiers: tuple[FeeTier, ...] = Field(min_length=1)
    minimum_fen: Fen = 0  # per side
    maximum_fen: Fen | None = None  # per side; None: no cap

    @model_validator(mode="after")
    def _tiers_ascend_and_end_open(self) -> FeeSchedule:
        check_tiers([t.up_to_fen for t in self.tiers], self.minimum_fen, self.maximum_fen)
        return self


def parse_fee_schedule(raw: str | bytes | dict[str, Any]) -> FeeSchedule:
    """Validate a schedule given as JSON text or a decoded mapping."""
    try:
        if isinstance(raw, str | bytes):
            return FeeSchedule.model_validate_json(raw)
        return FeeSchedule.model_validate(raw)
    except ValidationError as e:
        raise InvalidFeeSchedule(
            detail="The fee schedule is not valid.",
            errors=field_errors(e.errors()),
        ) from None


def from_subplatform(schedule: SubplatformFees, name: str) -> FeeSchedule:
    """A sub-platform's schedule (rates in basis points) as the schedule charged here."""
    return FeeSchedule(
        exchange=name, minimum_fen=schedule.minimum_fen, maximum_fen=schedule.maximum_fen,
        tiers=tuple(FeeTier(up_to_fen=t.up_to_fen, rate=schedule.rate(t))
                    for t in schedule.tiers))


AUCTION_DEFAULT = FeeSchedule(exchange="default-auction",
                              tiers=(FeeTier(up_to_fen=None, rate=Decimal("0.05")),))


def fee_for(price_fen: int, schedule: FeeSchedule) -> int:
    """The fee one side pays on a deal of ``price_fen``: marginal tiers, rounded half-up once on
    the total, at least the minimum, at most the maximum and the price."""
    require_fen(price_fen, "price_fen")
    exact = Decimal(0)
    lower = 0
    for tier in schedule.tiers:
        upper = price_fen if tier.up_to_fen is None else min(price_fen, tier.up_to_fen)
        if upper > lower:
            exact += Decimal(upper - lower) * tier.rate
        if tier.up_to_fen is None or tier.up_to_fen >= price_fen:
            break
        lower = tier.up_to_fen
    fee = max(round_half_up(exact), schedule.minimum_fen)
    if schedule.maximum_fen is not None:
        fee = min(fee, schedule.maximum_fen)
    return min(fee, price_fen)
