"""Each region's progress against its own yearly targets (the sub-platform file's): the
year to date — the months of the year up to the queried one, the whole year without one —
against the region's target of that year, and the growth over the same months a year earlier.
Targets are yearly, so a month's figures are compared as the year so far."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.registry.domain.statistics import growth_percent
from shared.subplatforms import YearTarget


@dataclass(frozen=True, slots=True)
class Progress:
    contracts: int
    tech_amount_fen: int
    previous_year_tech_amount_fen: int
    growth_percent: float | None
    amount_progress_percent: float | None
    """The amount so far as a percentage of the amount target (None without one)."""
    contracts_progress_percent: float | None
    growth_met: bool | None
    """Growth so far at or above the growth target (None without a target or a base)."""
    amount_met: bool | None
    contracts_met: bool | None


def _share(value: int, of: int | None) -> float | None:
    return None if of is None else round(value * 100 / of, 2)


def progress(target: YearTarget | None, contracts: int, amount_fen: int,
             previous_fen: int) -> Progress:
    """The figures so far measured against ``target`` (every comparison None without it)."""
    growth = growth_percent(amount_fen, previous_fen)
    t = target
    return Progress(
        contracts=contracts, tech_amount_fen=amount_fen,
        previous_year_tech_amount_fen=previous_fen, growth_percent=growth,
        amount_progress_percent=_share(amount_fen, t and t.amount_fen),
        contracts_progress_percent=_share(contracts, t and t.contracts),
        growth_met=None if t is None or t.growth_percent is None or growth is None
        else Decimal(str(growth)) >= t.growth_percent,
        amount_met=None if t is None or t.amount_fen is None else amount_fen >= t.amount_fen,
        contracts_met=None if t is None or t.contracts is None else contracts >= t.contracts)
