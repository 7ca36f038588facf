"""Integer fen and the one place where rates meet money.

Money is ``int`` fen everywhere. A rate is a :class:`~decimal.Decimal`; ``amount × rate`` is
computed exactly in Decimal and rounded half-up to the whole fen by :func:`apply_rate` — the only
rounding in settlement. Callers say in their docstrings where they call it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from services.settlement.domain.errors import InvalidAmount

ONE_FEN = Decimal(1)
YUAN = 100  # fen per yuan


def require_fen(value: object, name: str = "amount") -> int:
    """``value`` if it is a whole, non-negative number of fen; :class:`InvalidAmount` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(detail=f"{name} must be whole fen (int), got {value!r}.", field=name)
    if value < 0:
        raise InvalidAmount(detail=f"{name} must not be negative, got {value}.", field=name)
    return value


def round_half_up(amount: Decimal) -> int:
    """Round a Decimal amount of fen half-up (0.5 fen → 1 fen) to whole fen."""
    return int(amount.quantize(ONE_FEN, rounding=ROUND_HALF_UP))


def apply_rate(fen: int, rate: Decimal) -> int:
    """``fen × rate`` rounded half-up to the fen (exact Decimal arithmetic, no float)."""
    return round_half_up(Decimal(fen) * rate)
