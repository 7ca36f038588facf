"""Money in 元 from fen (Decimal, exact), times in Beijing time, codes in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import formatting as fmt


def test_fen_are_shown_in_yuan_exactly():
    assert fmt.fen_to_yuan(150_000_000) == Decimal("1500000.00")
    assert fmt.yuan(150_000_000) == "1,500,000.00 元"
    assert fmt.yuan(1) == "0.01 元"
    assert fmt.yuan(0) == "0.00 元"
    assert fmt.yuan(9_007_199_254_740_993) == "90,071,992,547,409.93 元"  # past a float's reach
    assert fmt.yuan(None) == "—"


def test_an_amount_is_an_integer_of_fen():
    with pytest.raises(TypeError):
        fmt.fen_to_yuan(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fmt.fen_to_yuan(True)


def test_headline_amounts_in_wan_yuan():
    assert fmt.wan_yuan(150_000_000) == "150 万元"
    assert fmt.wan_yuan(12_345_678) == "12.35 万元"   # 123,456.78 元, rounded half up
    assert fmt.wan_yuan(1_234_500_000_000) == "1,234,500 万元"
    assert fmt.wan_yuan(80_000) == "800 元"
    assert fmt.wan_yuan(80_050) == "800.50 元"
    assert fmt.wan_yuan(None) == "—"


@given(st.integers(min_value=0, max_value=10**15))
def test_yuan_typed_back_is_the_same_fen(fen):
    shown = fmt.yuan(fen).removesuffix(" 元")
    assert fmt.yuan_to_fen(shown) == fen


def test_typed_amounts():
    assert fmt.yuan_to_fen("1500000") == 150_000_000
    assert fmt.yuan_to_fen(" 1,500,000.5 ") == 150_000_050
    assert fmt.yuan_to_fen("1，000") == 100_000
    for bad in ("", "  ", None, "abc", "-1", "0.001", "NaN", "Infinity"):
        assert fmt.yuan_to_fen(bad) is None, bad


def test_times_are_beijing_time():
    assert fmt.beijing("2026-03-04T16:30:00Z") == "2026-03-05 00:30"      # past midnight there
    assert fmt.beijing("2026-03-04T16:30:05+00:00", seconds=True) == "2026-03-05 00:30:05"
    assert fmt.beijing("2026-03-05T08:00:00+08:00") == "2026-03-05 08:00"
    assert fmt.beijing(datetime(2026, 7, 1, 12, tzinfo=UTC)) == "2026-07-01 20:00"  # no DST
    assert fmt.beijing_date("2026-12-31T16:00:00Z") == "2027-01-01"
    assert fmt.beijing(None) == "—" and fmt.beijing("not a time") == "—"


def test_codes_in_chinese_and_unknown_codes_as_themselves():
    assert fmt.label(fmt.FIELDS, "new_materials") == "新材料"
    assert fmt.label(fmt.ROUTES, "negotiated") == "协议定价公示"
    assert fmt.label(fmt.FAILURES, "no-bid") == "无人出价"
    assert fmt.label(fmt.FIELDS, "quantum") == "quantum"
    assert fmt.label(fmt.FIELDS, None) == "—"


def test_region_names():
    assert fmt.region_name("230103") == "黑龙江省哈尔滨市南岗区"
    assert fmt.region_name("999999") == "999999"
    assert fmt.region_name(None) == "—"


def test_highlight_marks_the_query_words_and_escapes_the_rest():
    assert str(fmt.highlight("石墨烯<涂料>", ["石墨烯"])) == "<mark>石墨烯</mark>&lt;涂料&gt;"
    assert str(fmt.highlight("石墨烯改性", ["石墨", "石墨烯"])) == "<mark>石墨烯</mark>改性"
    assert str(fmt.highlight("a<b", [])) == "a&lt;b"
    assert str(fmt.highlight("x", ["<script>"])) == "x"
