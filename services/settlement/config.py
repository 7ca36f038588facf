"""The settlement service's settings, and the books they name (fee schedule, subsidy policies,
settlement rules)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settlement.domain.books import Books
from services.settlement.domain.fees import parse_fee_schedule
from services.settlement.domain.subsidy import parse_policy
from shared.settings import ServiceSettings
from shared.subplatforms import InvalidSubplatforms, Subplatforms

POLICIES = Path(__file__).parent / "policies"


class SettlementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore")
    secret_fields: ClassVar[tuple[str, ...]] = ("bank_callback_secret",)

    database_url: str = "postgresql://techex@127.0.0.1:15432/techex_settlement"
    port: int = 8003

    fee_schedule_file: Path = POLICIES / "fees-example.json"
    """The exchange's tiered fee schedule (charged to each side) where the deployment has no
    sub-platforms (TECHEX_SUBPLATFORMS_FILE): else each sub-platform's schedule applies."""
    subsidy_policy_files: list[Path] = Field(default_factory=lambda: sorted(
        p for p in POLICIES.glob("*.json") if not p.name.startswith("fees")))
    """Provincial subsidy policies; the one whose region_code's province matches a deal's."""

    deposit_release_hours: float = Field(default=24.0, gt=0)
    """Losing bidders' deposits are released this long after the deal (at most 24 h by rule)."""
    payment_due_days: int = Field(default=15, ge=0)
    """The default schedule: one payment due this many days after the deal."""
    default_grace_days: float = Field(default=3.0, ge=0)
    """An overdue payment defaults the deal this long after its due date."""
    forfeit_to: Literal["seller", "exchange"] = "seller"
    """Who gets a defaulting winner's deposit: the seller (compensation) or the exchange."""

    default_inventor_share: Decimal = Field(default=Decimal("0.70"), ge=0, le=1)
    min_inventor_share: Decimal = Field(default=Decimal("0.70"), ge=0, le=1)
    """No seller's configured inventor share may go below this floor."""

    bank_callback_secret: str = "techex-local-bank-callback-secret-change-me"
    """HMAC key of the bank's callbacks; the default is the embedded default's only."""
    bank_callback_window_seconds: int = Field(default=300, gt=0)
    """Callbacks whose signed timestamp is further than this from now are refused (replays)."""


def load_books(settings: SettlementSettings, subplatforms: Subplatforms | None = None) -> Books:
    """The books the settings name: the policy files read and parsed, the rules as durations,
    the sub-platforms' fee schedules. A subsidy policy a sub-platform names must be one of
    the policy files (:class:`InvalidSubplatforms` otherwise)."""
    policies = tuple(parse_policy(p.read_bytes()) for p in settings.subsidy_policy_files)
    if subplatforms is not None:
        known = {p.policy_id for p in policies}
        unknown = [{"field": f"subplatforms.{i}.subsidy_policy",
                    "message": f"{s.subsidy_policy} is none of the subsidy policies "
                               f"({', '.join(sorted(known))})"}
                   for i, s in enumerate(subplatforms.subplatforms)
                   if s.subsidy_policy is not None and s.subsidy_policy not in known]
        if unknown:
            raise InvalidSubplatforms(f"the sub-platforms of {subplatforms.province}", unknown)
    return Books(
        fees=parse_fee_schedule(settings.fee_schedule_file.read_bytes()),
        policies=policies,
        release_after=timedelta(hours=settings.deposit_release_hours),
        payment_due=timedelta(days=settings.payment_due_days),
        grace=timedelta(days=settings.default_grace_days),
        forfeit_to=settings.forfeit_to,
        default_inventor_share=settings.default_inventor_share,
        min_inventor_share=settings.min_inventor_share,
        subplatforms=subplatforms,
        schedules=Books.schedules_of(subplatforms) if subplatforms else MappingProxyType({}),
    )
