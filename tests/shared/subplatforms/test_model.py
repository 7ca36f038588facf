"""The sub-platform file: the five provinces' examples, what a sub-platform inherits, which
one covers a region, and a wrong file named field by field (pure: no stack)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.regions import Region
from shared.subplatforms import (
    EXAMPLES,
    InvalidSubplatforms,
    example_file,
    load_subplatforms,
    parse_subplatforms,
)

PROVINCES = {"230000": "黑龙江", "130000": "河北", "210000": "辽宁", "120000": "天津",
             "350000": "福建"}
"""The five provinces of the plans in the handbook's seeds."""


def _example(province: str) -> dict:
    path = example_file(province)
    assert path is not None
    return json.loads(path.read_text(encoding="utf-8"))


def _errors(raw, **kwargs) -> dict[str, str]:
    with pytest.raises(InvalidSubplatforms) as caught:
        parse_subplatforms(raw, "test.json", **kwargs)
    return {e["field"]: e["message"] for e in caught.value.errors}


@pytest.mark.parametrize("province", sorted(PROVINCES))
def test_each_province_of_the_plans_has_a_valid_example(province: str) -> None:
    subs = load_subplatforms(example_file(province), province=province)
    assert subs.province == province
    assert subs.provincial.region == province
    assert subs.provincial.name.startswith(Region.known(province).name[:2])
    assert len(subs.subplatforms) >= 4, "a province with its city and county sub-platforms"
    levels = {s.level.value for s in subs.subplatforms}
    assert "province" in levels and ({"city", "county"} & (levels - {"province"}))
    for sub in subs.subplatforms:
        assert Region.parse(province).contains(sub.region)
        assert sub.target(2026) is not None, f"{sub.region} has its own 2026 target"
        assert subs.review_days(sub.region) >= 1
    assert {example_file(p).stem for p in PROVINCES} == set(EXAMPLES.values())


def test_hebei_splits_the_provinces_target_per_city_and_county() -> None:
    """Hebei §19: the growth of technology contract turnover is assessed per city and county,
    the province's target split among them."""
    hebei = load_subplatforms(example_file("130000"))
    province = hebei.provincial.target(2026)
    cities = hebei.children("130000")
    assert {c.region for c in cities} >= {"130100", "130200", "130600", "131000"}
    assert sum(c.target(2026).amount_fen for c in cities) <= province.amount_fen
    counties = hebei.children("130100")
    assert {c.region for c in counties} == {"130104", "130181"}
    assert all(c.target(2026).growth_percent >= Decimal("10") for c in counties)


def test_heilongjiang_keeps_its_plan_s_growth_and_amounts() -> None:
    hlj = load_subplatforms(example_file("230000"))
    assert hlj.provincial.target(2025).amount_fen == 300 * 10**10  # ¥30 bn in 2025
    assert all(t.growth_percent == Decimal("8") for t in hlj.provincial.targets)


def test_the_most_specific_sub_platform_covers_a_region_the_province_the_rest() -> None:
    hlj = load_subplatforms(example_file("230000"))
    assert hlj.covering("230602").region == "230602"   # 萨尔图区, a county's own
    assert hlj.covering("230603").region == "230600"   # 龙凤区: Daqing's
    assert hlj.covering("230102").region == "230100"   # 道里区: Harbin's
    assert hlj.covering("230300").region == "230000"   # 鸡西市 has none: the province's
    assert hlj.covering("130102").region == "230000"   # outside: the deployment's own
    assert hlj.covering("not a code").region == "230000"
    assert [s.region for s in hlj.chain("230602")] == ["230602", "230600", "230000"]


def test_fees_and_the_review_deadline_are_inherited_targets_are_not() -> None:
    hlj = load_subplatforms(example_file("230000"))
    setter, fees = hlj.fees("230109")           # 松北区 → Harbin → the province's
    assert setter.region == "230000"
    assert fees.for_route("auction").tiers[0].rate_bp == 300
    setter, fees = hlj.fees("230602")           # 萨尔图区 → Daqing's own
    assert setter.region == "230600"
    assert fees.for_route("negotiated").maximum_fen == 10_000_000
    assert fees.for_route("auction") == fees.default
    assert hlj.review_days("230602") == 15 and hlj.review_days("230102") == 30
    assert hlj.subsidy_policy("230602") == "heilongjiang-2026"
    assert hlj.get("230300") is None and hlj.provincial.target(2019) is None


def test_a_wrong_file_names_every_wrong_field() -> None:
    raw = _example("230000")
    raw["subplatforms"][1]["region"] = "230199"                      # no such division
    raw["subplatforms"][2]["review_days"] = 0
    raw["subplatforms"][3]["fees"] = {"default": {"tiers": [
        {"up_to_fen": 100, "rate_bp": 10001}]}}
    raw["subplatforms"][4]["colour"] = "red"
    raw["subplatforms"][5]["targets"] = [{"year": 2026}]
    errors = _errors(raw)
    assert "not a known administrative division" in errors["subplatforms.1.region"]
    assert "subplatforms.2.review_days" in errors
    assert "subplatforms.3.fees.default.tiers.0.rate_bp" in errors
    assert "subplatforms.4.colour" in errors
    assert "growth_percent, amount_fen or contracts" in errors["subplatforms.5.targets.0"]
    assert set(errors) <= {"subplatforms.1.region", "subplatforms.2.review_days",
                           "subplatforms.3.fees.default.tiers.0.rate_bp",
                           "subplatforms.3.fees.default.tiers", "subplatforms.4.colour",
                           "subplatforms.5.targets.0"}


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda r: r["subplatforms"].append({**r["subplatforms"][1]}), "",
     "repeated: 230100"),
    (lambda r: r["subplatforms"][1].update(region="130100"), "", "outside: 130100"),
    (lambda r: r["subplatforms"].pop(0), "", "provincial platform (230000) is missing"),
    (lambda r: r["subplatforms"][0].pop("review_days"), "", "inherit: review_days"),
    (lambda r: r["subplatforms"][1]["targets"][0].update(amount_fen=10**15), "",
     "add up to"),
    (lambda r: r.update(province="230100"), "province", "not a provincial-level code"),
    (lambda r: r["subplatforms"][1]["targets"].append({"year": 2026, "contracts": 5}),
     "subplatforms.1", "repeated: 2026"),
    (lambda r: r["subplatforms"][0]["fees"]["default"].update(maximum_fen=1), "",
     "below minimum_fen"),
])
def test_the_rules_of_the_tree(change, field: str, message: str) -> None:
    raw = copy.deepcopy(_example("230000"))
    change(raw)
    errors = _errors(raw)
    assert any(f.startswith(field) and message in m for f, m in errors.items()), errors


def test_the_file_must_be_the_deployment_s_province() -> None:
    errors = _errors(_example("130000"), province="230000")
    assert "serves 230000" in errors["province"]


def test_an_unreadable_file_and_broken_json_are_named(tmp_path) -> None:
    with pytest.raises(InvalidSubplatforms, match="is not a valid sub-platform file"):
        load_subplatforms(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InvalidSubplatforms, match=r"bad\.json"):
        load_subplatforms(tmp_path / "bad.json")


def test_no_example_for_other_provinces_or_the_hub() -> None:
    assert example_file("110000") is None
    assert example_file("000000") is None
    assert example_file("230100") is None


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20)
                    | st.floats(allow_nan=True),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.sampled_from(
                        ["province", "subplatforms", "region", "fees", "tiers", "rate_bp",
                         "targets", "year", "name", "operator", "x"]), kids, max_size=5),
                    max_leaves=20))
def test_hostile_input_is_refused_as_invalid_never_otherwise(raw) -> None:
    try:
        parse_subplatforms(raw if isinstance(raw, dict) else json.dumps(raw))
    except InvalidSubplatforms as exc:
        assert exc.errors and all("field" in e and "message" in e for e in exc.errors)
