"""The service's books: the fee schedule, the subsidy policies and the settlement rules, as
the handlers use them (read from the policy files and settings by ``config.load_books``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

from services.settlement.domain.deal import ForfeitTo
from services.settlement.domain.fees import FeeSchedule, from_subplatform
from services.settlement.domain.subsidy import SubsidyPolicy
from shared.subplatforms import ROUTES, Route, Subplatforms


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
    subplatforms: Subplatforms | None = None
    """The deployment's sub-platforms: their fee schedules replace ``fees`` (which then only
    stands for a deployment without any)."""
    schedules: Mapping[tuple[str, Route], FeeSchedule] = field(
        default_factory=lambda: MappingProxyType({}))
    """(sub-platform region, route) -> the schedule charged; made by :meth:`with_subplatforms`."""

    @classmethod
    def schedules_of(cls, subplatforms: Subplatforms) -> Mapping[tuple[str, Route], FeeSchedule]:
        """Every sub-platform's effective schedule per route, named ``<region>/<route>``."""
        table = {}
        for sub in subplatforms.subplatforms:
            setter, fees = subplatforms.fees(sub.region)
            for route in ROUTES:
                table[sub.region, route] = from_subplatform(
                    fees.for_route(route), f"subplatform-{setter.region}-{route}")
        return MappingProxyType(table)

    def fees_for(self, region: str, route: Route) -> FeeSchedule:
        """The schedule of the sub-platform that ran a procedure of ``region`` (the most
        specific one covering it, else the provincial platform), or ``fees`` without any."""
        if self.subplatforms is None:
            return self.fees
        return self.schedules[self.subplatforms.covering(region).region, route]

    def policy_for(self, region: str, year: int) -> SubsidyPolicy | None:
        """The subsidy policy covering ``year`` of the deal region: inside the deployment's
        province the one its sub-platform names, else that of the region's province."""
        subs = self.subplatforms
        if subs is not None and region[:2] == subs.province[:2]:
            named = subs.subsidy_policy(region)
            if named is not None:
                return next((p for p in self.policies
                             if p.policy_id == named and year in p.years), None)
        for p in self.policies:
            if p.region_code[:2] == region[:2] and year in p.years:
                return p
        return None
