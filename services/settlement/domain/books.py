"""The service's books: the fee schedule, the subsidy policies and the settlement rules, as
the handlers use them (read from the policy files and settings by ``config.load_books``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from services.settlement.domain.deal import ForfeitTo
from services.settlement.domain.fees import FeeSchedule
from services.settlement.domain.subsidy import SubsidyPolicy


@dataclass(frozen=True)
class Books:
    fees: FeeSchedule
    policies: tuple[SubsidyPolicy, ...]
    release_after: timedelta
    payment_due: timedelta
    grace: timedelta
    forfeit_to: ForfeitTo
    default_inventor_share: Decimal
    min_inventor_share: Decimal

    def policy_for(self, region: str, year: int) -> SubsidyPolicy | None:
        """The subsidy policy of the deal region's province covering ``year``, if any."""
        for p in self.policies:
            if p.region_code[:2] == region[:2] and year in p.years:
                return p
        return None
