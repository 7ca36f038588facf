"""Shared by the three routes: aware instants in UTC, and collecting broken terms."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.auction.domain.errors import InvalidTerms
from shared.problems import FieldError

__all__ = ["TermsCheck", "fen", "utc"]


def utc(at: datetime) -> datetime:
    """``at`` in UTC; naive datetimes are a programming error."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} is not timezone-aware")
    return at.astimezone(UTC)


def fen(amount: int) -> int:
    """``amount`` if it is an integer number of fen; money is never a float (nor a bool)."""
    if type(amount) is not int:
        raise TypeError(f"amounts are integer fen, not {type(amount).__name__}")
    return amount


class TermsCheck:
    """Collects every broken rule of a set of terms, then raises them together."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append({"field": f"terms.{field}", "message": message})

    def require(self, ok: bool, field: str, message: str) -> bool:
        if not ok:
            self.fail(field, message)
        return ok

    def fen(self, value: object, field: str, *, minimum: int = 1) -> bool:
        """An integer amount of fen (never a float, never a bool) of at least ``minimum``."""
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        return self.require(ok, field, f"must be an integer number of fen ≥ {minimum}")

    def count(self, value: object, field: str, *, minimum: int) -> bool:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        return self.require(ok, field, f"must be an integer ≥ {minimum}")

    def ratio(self, value: object, field: str, low: Decimal, high: Decimal) -> bool:
        if not isinstance(value, Decimal) or not value.is_finite():
            self.fail(field, "must be a Decimal (e.g. Decimal('0.10')), not a float")
            return False
        return self.require(low <= value <= high, field, f"must be between {low} and {high}")

    def aware(self, value: object, field: str) -> bool:
        ok = isinstance(value, datetime) and value.utcoffset() is not None
        return self.require(ok, field, "must be a timezone-aware datetime")

    def raise_if_failed(self, what: str) -> None:
        if self.errors:
            raise InvalidTerms(f"The {what} break {len(self.errors)} rule(s).",
                               errors=self.errors)
