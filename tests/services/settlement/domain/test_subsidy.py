"""Provincial subsidies, with the worked Heilongjiang examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.settlement.domain.errors import InvalidAmount, InvalidPolicy, PolicyNotApplicable
from services.settlement.domain.subsidy import Side, assess, parse_policy

POLICIES = Path(__file__).parents[4] / "services" / "settlement" / "policies"
YUAN = 100


def _load(name: str):
    return parse_policy((POLICIES / f"{name}.json").read_text(encoding="utf-8"))


HLJ = _load("heilongjiang-2026")


@pytest.mark.parametrize(("received_yuan", "subsidy_yuan"), [
    (400_000, 0),
    (500_000, 150_000),
    (5_000_000, 1_000_000),  # 30 % would be ¥1.5 m: capped
])
def test_heilongjiang_worked_examples(received_yuan, subsidy_yuan):
    a = assess(HLJ, received_yuan * YUAN, "buyer", "proj-1", 2026, [])
    assert a.amount_fen == subsidy_yuan * YUAN
    assert a.commissioner_share_fen == subsidy_yuan * YUAN // 10
    assert a.reasons


def test_cap_and_threshold_reasons():
    assert "below the threshold" in assess(HLJ, 40_000_000, "buyer", "p", 2026).reasons[0]
    assert any("capped" in r for r in assess(HLJ, 500_000_000, "buyer", "p", 2026).reasons)


def test_only_one_side_per_project_per_year_first_granted_wins():
    first = assess(HLJ, 50_000_000, Side.BUYER, "proj-1", 2026, [])
    second = assess(HLJ, 50_000_000, Side.SELLER, "proj-1", 2026, [first])
    assert first.amount_fen == 150_000 * YUAN
    assert second.amount_fen == 0 and second.commissioner_share_fen == 0
    assert "only one side" in second.reasons[0]
    # the same side again gets nothing either
    assert assess(HLJ, 50_000_000, Side.BUYER, "proj-1", 2026, [first]).amount_fen == 0
    # another project is not affected
    assert assess(HLJ, 50_000_000, Side.SELLER, "proj-2", 2026, [first]).amount_fen > 0


def test_an_ungranted_first_assessment_does_not_block_the_other_side():
    below = assess(HLJ, 40_000_000, Side.BUYER, "proj-1", 2026, [])
    assert assess(HLJ, 50_000_000, Side.SELLER, "proj-1", 2026, [below]).amount_fen > 0


def test_seller_only_inside_the_province():
    a = assess(HLJ, 50_000_000, Side.SELLER, "p", 2026, seller_in_province=False)
    assert a.amount_fen == 0


def test_commissioner_share_only_for_enterprises():
    a = assess(HLJ, 50_000_000, Side.SELLER, "p", 2026, enterprise=False)
    assert a.amount_fen == 15_000_000 and a.commissioner_share_fen == 0


def test_rounding_is_half_up_to_the_fen():
    raw = json.loads((POLICIES / "heilongjiang-2026.json").read_text(encoding="utf-8"))
    p = parse_policy({**raw, "threshold_fen": 0, "cap_fen": None})
    assert assess(p, 5, "buyer", "p", 2026).amount_fen == 2   # 1.5 → 2
    assert assess(p, 1, "buyer", "p", 2026).amount_fen == 0   # 0.3 → 0


def test_policy_year_and_amount_checked():
    with pytest.raises(PolicyNotApplicable):
        assess(HLJ, 50_000_000, "buyer", "p", 2025)
    with pytest.raises(InvalidAmount):
        assess(HLJ, 50_000_000.0, "buyer", "p", 2026)


@pytest.mark.parametrize("name", ["heilongjiang-2026", "tianjin-2026", "hebei-2026"])
def test_shipped_policies_load(name):
    p = _load(name)
    assert p.policy_id == name
    assert p.configuration_example is (name != "heilongjiang-2026")


def test_hebei_example_supports_both_sides():
    hebei = _load("hebei-2026")
    first = assess(hebei, 10_000_000, "buyer", "p", 2026)
    assert assess(hebei, 10_000_000, "seller", "p", 2026, [first]).amount_fen == 500_000


def test_tianjin_example_supports_sellers_only():
    tj = _load("tianjin-2026")
    assert assess(tj, 10_000_000, "buyer", "p", 2026).amount_fen == 0
    assert assess(tj, 10_000_000, "seller", "p", 2026).amount_fen == 200_000


@pytest.mark.parametrize("change", [
    {"rate": "1.5"},
    {"threshold_fen": -1},
    {"threshold_fen": 500000.5},
    {"cap_fen": "lots"},
    {"eligible_sides": ["platform"]},
    {"years": []},
    {"region_code": "23"},
    {"unknown_field": 1},
])
def test_invalid_policy_files_refused(change):
    raw = json.loads((POLICIES / "heilongjiang-2026.json").read_text(encoding="utf-8"))
    with pytest.raises(InvalidPolicy) as e:
        parse_policy(json.dumps({**raw, **change}))
    assert e.value.slug == "settlement-invalid-policy" and e.value.errors
