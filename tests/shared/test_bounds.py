"""The bounded types every request model is made of."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.bounds import (
    INT4_MAX,
    MAX_FEN,
    AccountName,
    AwareTimestamp,
    BusinessDate,
    Cursor,
    Fen,
    FenParam,
    Flag,
    PositiveFen,
    Reference,
    Share,
    SubjectId,
    Text,
)


def accepts(kind: Any, value: Any) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def error_type(kind: Any, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_python(value)
    return caught.value.errors()[0]["type"]


@pytest.mark.parametrize("value", [0, 1, 150_000_000, MAX_FEN])
def test_an_amount_is_a_whole_number_of_fen_up_to_the_maximum(value):
    assert TypeAdapter(Fen).validate_python(value) == value


@pytest.mark.parametrize("value", [-1, MAX_FEN + 1, 10**30])
def test_an_amount_out_of_range_is_refused(value):
    assert error_type(Fen, value) in ("greater_than_equal", "less_than_equal")


@pytest.mark.parametrize("value", [1e9, 1819.0, True, False, "100", Decimal("5")])
def test_an_amount_is_never_a_float_a_boolean_or_text(value):
    assert not accepts(Fen, value)
    assert not accepts(PositiveFen, value)


def test_a_positive_amount_is_at_least_one_fen():
    assert not accepts(PositiveFen, 0)
    assert accepts(PositiveFen, 1) and accepts(PositiveFen, MAX_FEN)


def test_the_maximum_leaves_room_for_sums_in_a_bigint():
    assert MAX_FEN * 9_000 < 2**63 - 1


def test_a_query_amount_is_parsed_from_text_within_the_same_bounds():
    assert TypeAdapter(FenParam).validate_python("150000000") == 150_000_000
    assert not accepts(FenParam, str(MAX_FEN + 1))
    assert not accepts(FenParam, "1e9")


@pytest.mark.parametrize("value", ["0", "7840622896", str(2**40), "-1"])
def test_a_cursor_fits_the_integer_sequence_it_points_into(value):
    assert accepts(Cursor, value) == (0 <= int(value) <= INT4_MAX)


def test_text_refuses_nul_and_lone_surrogates_and_keeps_its_length():
    assert accepts(Text, "石墨烯改性防腐涂料\n第二行")
    assert error_type(Text, "a\x00b") == "string_pattern_mismatch"
    assert error_type(Text, "a\ud800b") == "string_unicode"
    assert error_type(Text, "x" * 10_001) == "string_too_long"


def test_the_nul_rule_is_in_the_json_schema():
    schema = TypeAdapter(Text).json_schema()
    assert schema["maxLength"] == 10_000
    assert schema["pattern"] == r"^[^\x00]*$"


@pytest.mark.parametrize("kind", [SubjectId, Reference])
def test_identifiers_are_one_printable_line(kind):
    assert accepts(kind, "longjiang-coatings") and accepts(kind, "ICBC-7788")
    for bad in ("", "a\x00", "a\nb", "x" * 201):
        assert not accepts(kind, bad), bad


def test_an_account_name_is_a_kind_and_an_optional_owner():
    for good in ("fee_income", "buyer:longjiang-coatings", "deposits_held:lot-7:bidder-3"):
        assert accepts(AccountName, good)
    for bad in ("", "Buyer:x", "buyer:", "buyer:a\x00", ":x"):
        assert not accepts(AccountName, bad), bad


def test_a_share_has_at_most_four_places_and_is_finite():
    assert TypeAdapter(Share).validate_python("0.7") == Decimal("0.7")
    assert TypeAdapter(Share).validate_python(0.7) == Decimal("0.7")
    for bad in ("0.12345", "1.5", "-0.1", "NaN", "Infinity", "1e-30"):
        assert not accepts(Share, bad), bad


def test_a_flag_is_a_json_boolean():
    assert accepts(Flag, True) and accepts(Flag, False)
    for bad in (1, 0, "true", "yes"):
        assert not accepts(Flag, bad), bad


def test_dates_are_iso_text_in_years_the_domain_computes_with():
    assert TypeAdapter(BusinessDate).validate_python("2026-04-10") == date(2026, 4, 10)
    for bad in ("0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", 20260410):
        assert not accepts(BusinessDate, bad), bad


def test_times_carry_their_offset_and_stay_within_the_years():
    assert accepts(AwareTimestamp, "2026-04-10T09:30:00+08:00")
    assert error_type(AwareTimestamp, "2026-04-10T09:30:00") == "timezone_aware"
    assert error_type(AwareTimestamp, 1_775_000_000) == "iso_text"
    for digits in ("0", "1775000000", "1.5e9", "-5"):  # as a query parameter sends them
        assert error_type(AwareTimestamp, digits) == "iso_text", digits
        assert error_type(BusinessDate, digits) == "iso_text", digits
    for bad in ("9999-12-31T23:59:59Z", "2199-12-31T23:00:00-05:00", "0001-01-01T00:00:00Z"):
        assert error_type(AwareTimestamp, bad) == "year_out_of_range", bad
