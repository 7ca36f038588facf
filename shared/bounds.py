"""Bounded types for everything a client sends: amounts, cursors, counts, text, identifiers,
decimals and dates.

Each bound is declared here once, in the pydantic models (so it is in the OpenAPI documents),
and chosen so that an accepted value can always be stored and handled later: an amount fits a
``bigint`` column with room for sums, a cursor fits the ``integer`` sequence it points into, text
holds no character PostgreSQL cannot store (U+0000; lone surrogates cannot be encoded in UTF-8
and are refused by pydantic's constrained strings), a date is one the domain can still compute
with (a year's end plus an extension, Beijing time).

JSON bodies are strict: an amount is a JSON integer — not a float (``1e9``, ``1819.0``), not a
boolean, not a numeric string. Query and path parameters arrive as text and are parsed, within
the same bounds (``FenParam``, ``Cursor``).

No FastAPI here: the types are pydantic's, usable in domain-facing models and events too.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StrictBool
from pydantic_core import PydanticCustomError

__all__ = [
    "INT4_MAX",
    "MAX_FEN",
    "MAX_YEAR",
    "MIN_YEAR",
    "AccountName",
    "AwareTimestamp",
    "BusinessDate",
    "Cursor",
    "Fen",
    "FenParam",
    "Flag",
    "PositiveFen",
    "Reference",
    "Share",
    "SubjectId",
    "Text",
    "int_field",
    "ratio",
    "text",
]

MAX_FEN = 10**15
"""The largest amount in fen (¥10 trillion) anywhere: ``bigint`` holds 9.2 × 10¹⁸, so sums of
thousands of maximal amounts (a price plus fees, a region's yearly turnover) still fit."""

INT4_MAX = 2**31 - 1
"""The largest value of a PostgreSQL ``integer``: sequence numbers, cursors, counts."""

MIN_YEAR, MAX_YEAR = 1900, 2199
"""Dates and times a client gives lie in these years: far enough from Python's and PostgreSQL's
limits that adding an extension, a term of years or the Beijing offset cannot overflow."""

NO_NUL = r"^[^\x00]*$"
"""Text PostgreSQL can store: anything but U+0000."""

_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""One line of printable characters: identifiers and references."""

Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN,
                           description=f"an amount in fen (分), 0 to {MAX_FEN}")]
"""A non-negative amount in fen, as a JSON integer."""

PositiveFen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN,
                                   description=f"an amount in fen (分), 1 to {MAX_FEN}")]
"""A positive amount in fen, as a JSON integer."""

FenParam = Annotated[int, Field(ge=0, le=MAX_FEN, description=f"fen (分), 0 to {MAX_FEN}")]
"""An amount in fen given as a query parameter (text, parsed as an integer)."""

Cursor = Annotated[int, Field(ge=0, le=INT4_MAX,
                              description="the last sequence number seen (0: from the start)")]
"""A keyset cursor into an ``integer`` sequence, as a query parameter."""

Flag = StrictBool
"""A JSON ``true`` or ``false`` (not ``1``, ``"yes"``)."""


def int_field(*, le: int = INT4_MAX, **kwargs: Any) -> Any:
    """A ``Field`` for a bounded JSON integer of a body (a count, a number of days): strict, at
    most ``le`` (by default what an ``integer`` column holds)."""
    return Field(strict=True, le=le, **kwargs)


def text(max_length: int, *, min_length: int = 0, **kwargs: Any) -> Any:
    """A ``Field`` for text of at most ``max_length`` characters without U+0000; the NUL rule
    is a ``pattern``, so clients read it in the OpenAPI document."""
    return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL, **kwargs)


Text = Annotated[str, text(10_000)]
"""Free text (grounds, reasons, descriptions) of at most 10,000 characters."""

SubjectId = Annotated[str, Field(min_length=1, max_length=200, pattern=_PRINTABLE,
                                 description="an account on the exchange (a token's subject)",
                                 examples=["longjiang-coatings"])]
"""Who someone is on the exchange: a token's ``sub``, a bidder, a seller, a buyer."""

Reference = Annotated[str, Field(min_length=1, max_length=100, pattern=_PRINTABLE,
                                 examples=["ICBC-7788"])]
"""A bank's or the parties' own reference: one printable line."""

AccountName = Annotated[str, Field(
    min_length=1, max_length=300, pattern=r"^[a-z_]+(?::[^\x00-\x1f\x7f]+)?$",
    description="a ledger account: a kind, or `kind:owner` (`buyer:longjiang-coatings`)",
    examples=["seller:hit-university"])]
"""The id of a ledger account, as in ``/ledger/accounts/{account}/statement``."""


def ratio(*, ge: Decimal, le: Decimal, places: int = 4, **kwargs: Any) -> Any:
    """A ``Field`` for a decimal fraction with at most ``places`` decimal places (the column's
    ``numeric(5, 4)``), given as a JSON string (``"0.10"``) or number."""
    return Field(ge=ge, le=le, max_digits=places + 1, decimal_places=places,
                 allow_inf_nan=False, **kwargs)


Share = Annotated[Decimal, ratio(ge=Decimal(0), le=Decimal(1),
                                 description="a share between 0 and 1, e.g. \"0.70\"")]


def _year_in_range(value: int) -> None:
    if not MIN_YEAR <= value <= MAX_YEAR:
        raise PydanticCustomError(
            "year_out_of_range", "the year must lie between {min} and {max}",
            {"min": MIN_YEAR, "max": MAX_YEAR})


_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_text(value: Any) -> Any:
    """Dates and times come as ISO 8601 text (``2026-04-01``, ``2026-04-01T10:00:00+08:00``),
    not as numbers (a Unix time) — in JSON, nor as digits in a query (``?from=0``), which
    pydantic would otherwise read as seconds since 1970."""
    if isinstance(value, int | float | Decimal) or (
            isinstance(value, str) and not _ISO_START.match(value)):
        raise PydanticCustomError("iso_text", "give the date or time as ISO 8601 text")
    return value


def _business_date(value: date) -> date:
    _year_in_range(value.year)
    return value


def _aware_timestamp(value: datetime) -> datetime:
    # The UTC year decides: an offset can move a local year's end into the next one.
    _year_in_range(value.astimezone(UTC).year)
    _year_in_range(value.year)
    return value


BusinessDate = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_business_date), Field(
    description=f"a calendar date (YYYY-MM-DD) in the years {MIN_YEAR}–{MAX_YEAR}")]
"""A date a client gives (signed on, valid until)."""

AwareTimestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text),
                           AfterValidator(_aware_timestamp), Field(
    description=f"an RFC 3339 time with its offset, in the years {MIN_YEAR}–{MAX_YEAR}")]
"""A point in time a client gives (an auction's start, a demand's deadline); its offset is
required."""
