"""What the settlement steps need besides the database: policies read from files, rules from
settings, and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from services.settlement.config import SettlementSettings
from services.settlement.domain.deal import ForfeitTo
from services.settlement.domain.fees import FeeSchedule, parse_fee_schedule
from services.settlement.domain.subsidy import SubsidyPolicy, parse_policy
from shared.clock import Clock


@dataclass(frozen=True)
class Books:
    fees: FeeSchedule
    policies: tuple[SubsidyPolicy, ...]
    clock: Clock
    release_after: timedelta
    payment_due: timedelta
    grace: timedelta
    forfeit_to: ForfeitTo
    default_inventor_share: Decimal
    min_inventor_share: Decimal

    @classmethod
    def from_settings(cls, settings: SettlementSettings, clock: Clock) -> Books:
        return cls(
            fees=parse_fee_schedule(settings.fee_schedule_file.read_bytes()),
            policies=tuple(parse_policy(p.read_bytes()) for p in settings.subsidy_policy_files),
            clock=clock,
            release_after=timedelta(hours=settings.deposit_release_hours),
            payment_due=timedelta(days=settings.payment_due_days),
            grace=timedelta(days=settings.default_grace_days),
            forfeit_to=settings.forfeit_to,
            default_inventor_share=settings.default_inventor_share,
            min_inventor_share=settings.min_inventor_share,
        )

    def policy_for(self, region: str, year: int) -> SubsidyPolicy | None:
        """The subsidy policy of the deal region's province covering ``year``, if any."""
        for p in self.policies:
            if p.region_code[:2] == region[:2] and year in p.years:
                return p
        return None
