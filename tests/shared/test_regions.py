from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.regions import (
    PROVINCES,
    InvalidRegion,
    Region,
    RegionCode,
    RegionLevel,
    UnknownRegion,
    all_regions,
    children,
)

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
    # Counties directly under a provincial-level division (municipal districts, 济源 …) skip
    # the city level that the national list does not have; every other chain has one step
    # per level.
    direct = region.level is RegionLevel.COUNTY and region.parent == region.province
    assert len(ancestors) == list(RegionLevel).index(region.level) - direct


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


# --- the directory of existing divisions ---------------------------------------------------

_DIRECTORY_CODES = sorted(region.code for region in all_regions())
known_regions = st.sampled_from(_DIRECTORY_CODES).map(Region.known)

# Provincial prefix → (prefecture-level, county-level) counts of the 2025-12-31 list.
_SUB_PLATFORM_COUNTS = {
    "23": (13, 121),  # 黑龙江省
    "13": (11, 167),  # 河北省
    "21": (14, 100),  # 辽宁省
    "12": (0, 16),  # 天津市
    "35": (9, 84),  # 福建省
}


@pytest.mark.parametrize(
    ("code", "name", "full_name"),
    [
        ("230000", "黑龙江省", "黑龙江省"),
        ("230100", "哈尔滨市", "黑龙江省哈尔滨市"),
        ("230102", "道里区", "黑龙江省哈尔滨市道里区"),
        ("230103", "南岗区", "黑龙江省哈尔滨市南岗区"),
        ("230200", "齐齐哈尔市", "黑龙江省齐齐哈尔市"),
        ("232701", "漠河市", "黑龙江省大兴安岭地区漠河市"),
        ("130100", "石家庄市", "河北省石家庄市"),
        ("130102", "长安区", "河北省石家庄市长安区"),
        ("130502", "襄都区", "河北省邢台市襄都区"),
        ("210100", "沈阳市", "辽宁省沈阳市"),
        ("210200", "大连市", "辽宁省大连市"),
        ("210214", "普兰店区", "辽宁省大连市普兰店区"),
        ("120000", "天津市", "天津市"),
        ("120101", "和平区", "天津市和平区"),
        ("120116", "滨海新区", "天津市滨海新区"),
        ("120119", "蓟州区", "天津市蓟州区"),
        ("350100", "福州市", "福建省福州市"),
        ("350200", "厦门市", "福建省厦门市"),
        ("350604", "龙海区", "福建省漳州市龙海区"),
        ("110101", "东城区", "北京市东城区"),
        ("419001", "济源市", "河南省济源市"),
        ("441900", "东莞市", "广东省东莞市"),
        ("440305", "南山区", "广东省深圳市南山区"),
        ("500157", "两江新区", "重庆市两江新区"),
        ("810000", "香港特别行政区", "香港特别行政区"),
    ],
)
def test_real_codes_are_known_with_their_names(code: str, name: str, full_name: str) -> None:
    region = Region.known(code)
    assert region == Region.parse(code)
    assert region.is_known
    assert region.name == name
    assert region.full_name == full_name


@pytest.mark.parametrize(
    "code",
    [
        "230199",  # no county 99 in 哈尔滨
        "239900",  # no city 99 in 黑龙江
        "120100",  # Tianjin has no city level
        "120200",
        "350402",  # 梅列区, merged into 三元区 (350404) in 2021
        "500112",  # 渝北区, merged into 两江新区 (500157) in 2025
        "810101",  # 香港 is listed at provincial level only
    ],
)
def test_unknown_codes_parse_but_are_not_known(code: str) -> None:
    region = Region.parse(code)  # structure alone still accepts it
    assert not region.is_known
    with pytest.raises(UnknownRegion, match=f"'{code}' is not a known administrative division"):
        Region.known(code)
    with pytest.raises(UnknownRegion):
        _ = region.name
    with pytest.raises(UnknownRegion):
        _ = region.full_name
    with pytest.raises(UnknownRegion):
        children(region)


def test_unknown_region_names_the_nearest_known_enclosing_division() -> None:
    with pytest.raises(UnknownRegion) as caught:
        Region.known("230199")
    assert "黑龙江省哈尔滨市 230100" in str(caught.value)
    assert isinstance(caught.value, InvalidRegion)


def test_known_still_reports_structural_errors() -> None:
    with pytest.raises(InvalidRegion, match="six digits") as caught:
        Region.known("23010")
    assert not isinstance(caught.value, UnknownRegion)


def test_children_of_a_city_are_its_counties() -> None:
    harbin = children("230100")
    codes = [region.code for region in harbin]
    assert {"230102", "230103"} <= set(codes)
    assert codes == sorted(codes)
    assert all(region.parent == Region.parse("230100") for region in harbin)
    assert len(harbin) == 18
    assert children(Region.parse("230102")) == ()
    assert children("441900") == ()  # 东莞 has no county-level divisions


def test_children_of_a_province_are_its_cities() -> None:
    cities = {region.code: region.name for region in children("350000")}
    assert cities == {
        "350100": "福州市",
        "350200": "厦门市",
        "350300": "莆田市",
        "350400": "三明市",
        "350500": "泉州市",
        "350600": "漳州市",
        "350700": "南平市",
        "350800": "龙岩市",
        "350900": "宁德市",
    }


def test_municipality_children_are_its_districts() -> None:
    districts = children("120000")
    assert [region.code for region in districts] == [
        *(f"12010{n}" for n in range(1, 7)),
        *(f"1201{n}" for n in range(10, 20)),
    ]
    assert all(region.level is RegionLevel.COUNTY for region in districts)
    assert Region.parse("120101").parent == Region.parse("120000")
    assert Region.parse("120101").ancestors() == (Region.parse("120000"),)


def test_province_administered_cities_hang_off_the_province() -> None:
    assert Region.parse("429004").parent == Region.parse("420000")
    assert Region.parse("429004") in children("420000")
    assert Region.parse("659001").full_name == "新疆维吾尔自治区石河子市"


@pytest.mark.parametrize(("prefix", "counts"), sorted(_SUB_PLATFORM_COUNTS.items()))
def test_sub_platform_provinces_are_fully_covered(prefix: str, counts: tuple[int, int]) -> None:
    regions = all_regions(prefix + "0000")
    assert regions[0] == Region.parse(prefix + "0000")
    levels = [region.level for region in regions]
    assert (levels.count(RegionLevel.CITY), levels.count(RegionLevel.COUNTY)) == counts
    assert all(region.code.startswith(prefix) for region in regions)


def test_directory_covers_every_province_at_the_2025_counts() -> None:
    regions = all_regions()
    levels = [region.level for region in regions]
    assert levels.count(RegionLevel.PROVINCE) == len(PROVINCES) == 34
    assert levels.count(RegionLevel.CITY) == 333
    assert levels.count(RegionLevel.COUNTY) == 2845
    assert {r.code[:2]: r.name for r in regions if r.level is RegionLevel.PROVINCE} == dict(
        PROVINCES
    )


def test_all_regions_wants_a_provincial_code() -> None:
    with pytest.raises(InvalidRegion, match="not a provincial-level code"):
        all_regions("230100")
    assert all_regions(Region.parse("120000")) == (Region.parse("120000"), *children("120000"))


def test_every_county_and_city_has_a_known_parent() -> None:
    for region in all_regions():
        parent = region.parent
        if region.level is RegionLevel.PROVINCE:
            assert parent is None
        else:
            assert parent is not None and parent.is_known, region
            assert region in children(parent)


def test_children_partition_the_directory() -> None:
    listed = [kid for region in all_regions() for kid in children(region)]
    provinces = [r for r in all_regions() if r.level is RegionLevel.PROVINCE]
    assert sorted(listed + provinces, key=str) == list(all_regions())


def test_data_file_holds_codes_and_names_only() -> None:
    text = resources.files("shared").joinpath("regions.json").read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["as_of"] == "2025-12-31"
    assert sorted(document["regions"]) == _DIRECTORY_CODES
    assert all(isinstance(name, str) and name for name in document["regions"].values())


@given(known_regions)
def test_every_directory_code_sits_in_its_province(region: Region) -> None:
    assert Region.parse(region.code) == region
    assert region.province.is_known
    assert region.province.contains(region)
    chain = region.ancestors()
    assert (chain[-1] if chain else region).level is RegionLevel.PROVINCE
    assert all(ancestor.is_known and ancestor.contains(region) for ancestor in chain)
    assert region.full_name.startswith(region.province.name)
    assert region.full_name.endswith(region.name)


@given(known_regions, known_regions)
def test_containment_among_known_regions_is_the_ancestor_relation(a: Region, b: Region) -> None:
    assert a.contains(b) == (a == b or a in b.ancestors())


def test_region_code_rejects_unknown_codes_naming_them() -> None:
    assert _Body(region="120119").region == "120119"
    with pytest.raises(ValidationError) as caught:
        _Body(region="230199")
    (error,) = caught.value.errors()
    assert error["loc"] == ("region",)
    assert error["type"] == "region_code"
    assert error["msg"].startswith("region code '230199' is not a known administrative division")
