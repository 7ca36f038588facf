from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.regions import PROVINCES, InvalidRegion, Region, RegionCode, RegionLevel

_two_digits = st.integers(min_value=1, max_value=99).map(lambda n: f"{n:02d}")


@st.composite
def region_codes(draw: st.DrawFn) -> str:
    """Valid codes of every level, biased toward shared prefixes so containment is exercised."""
    province = draw(st.sampled_from(["23", "11", "44"]) | st.sampled_from(sorted(PROVINCES)))
    level = draw(st.sampled_from(list(RegionLevel)))
    if level is RegionLevel.PROVINCE:
        return province + "0000"
    city = draw(st.sampled_from(["01", "02"]) | _two_digits)
    if level is RegionLevel.CITY:
        return province + city + "00"
    return province + city + draw(st.sampled_from(["01", "02"]) | _two_digits)


regions = region_codes().map(Region.parse)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("230000", RegionLevel.PROVINCE),
        ("230100", RegionLevel.CITY),
        ("230102", RegionLevel.COUNTY),
        ("110101", RegionLevel.COUNTY),
    ],
)
def test_level_follows_the_zero_digit_pairs(code: str, level: RegionLevel) -> None:
    assert Region.parse(code).level is level


def test_parents_walk_county_city_province() -> None:
    county = Region.parse("230102")
    assert county.parent == Region.parse("230100")
    assert county.parent.parent == Region.parse("230000")
    assert Region.parse("230000").parent is None
    assert county.ancestors() == (Region.parse("230100"), Region.parse("230000"))
    assert Region.parse("230000").ancestors() == ()
    assert county.province == Region.parse("230000")


def test_province_names_are_chinese() -> None:
    assert Region.parse("230102").province_name == "黑龙江省"
    assert Region.parse("110000").province_name == "北京市"
    assert Region.parse("810000").province_name == "香港特别行政区"
    assert Region.parse("710000").province_name == "台湾省"
    assert len(PROVINCES) == 34


def test_contains_own_subtree_only() -> None:
    harbin = Region.parse("230100")
    assert harbin.contains("230102")
    assert harbin.contains(harbin)
    assert not harbin.contains("230200")
    assert not harbin.contains("230000")
    assert Region.parse("230000").contains("230202")
    assert not Region.parse("230000").contains("220102")
    assert not Region.parse("230102").contains("230103")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("23010", "six digits"),
        ("2301020", "six digits"),
        ("23010a", "six digits"),
        ("abcdef", "six digits"),
        ("２３０１００", "six digits"),  # full-width digits are not ASCII digits
        ("", "six digits"),
        ("990000", "unknown province"),
        ("000000", "unknown province"),
        ("230012", "without a city"),
    ],
)
def test_invalid_codes_are_rejected_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidRegion, match=reason):
        Region.parse(code)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidRegion, match="must be a string"):
        Region.parse(230100)  # type: ignore[arg-type]


def test_invalid_region_is_a_value_error() -> None:
    assert issubclass(InvalidRegion, ValueError)


@given(regions)
def test_contains_is_reflexive(region: Region) -> None:
    assert region.contains(region)


@given(regions, regions, regions)
def test_contains_is_transitive(a: Region, b: Region, c: Region) -> None:
    if a.contains(b) and b.contains(c):
        assert a.contains(c)


@given(regions, regions)
def test_contains_is_antisymmetric(a: Region, b: Region) -> None:
    if a.contains(b) and b.contains(a):
        assert a == b


@given(regions)
def test_every_ancestor_contains_the_region(region: Region) -> None:
    ancestors = region.ancestors()
    assert all(ancestor.contains(region) for ancestor in ancestors)
    assert all(not region.contains(ancestor) for ancestor in ancestors)
    assert (ancestors[-1] if ancestors else region) == region.province
    assert len(ancestors) == list(RegionLevel).index(region.level)


class _Body(BaseModel):
    region: RegionCode


def test_region_code_validates_pydantic_fields() -> None:
    assert _Body(region="230102").region == "230102"
    with pytest.raises(ValidationError) as caught:
        _Body(region="990000")
    (error,) = caught.value.errors()
    assert error["loc"] == ("region",)
    assert "unknown province prefix '99'" in error["msg"]


def test_region_code_documents_a_six_digit_string() -> None:
    schema = _Body.model_json_schema()["properties"]["region"]
    assert schema["type"] == "string"
    assert schema["pattern"] == "^[0-9]{6}$"
