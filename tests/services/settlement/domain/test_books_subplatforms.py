"""Which fee schedule a deal pays: that of the sub-platform that ran its procedure (the most
specific one covering the procedure's region), inherited from its parents where it has none."""

from __future__ import annotations

from services.settlement.config import SettlementSettings, load_books
from services.settlement.domain.fees import fee_for
from shared.subplatforms import example_file, load_subplatforms

HEILONGJIANG = load_subplatforms(example_file("230000"))


def _books():
    return load_books(SettlementSettings(), HEILONGJIANG)


def test_a_county_of_daqing_pays_daqings_schedule_and_harbin_the_provinces():
    books = _books()
    daqing = books.fees_for("230602", "auction")      # 萨尔图区: no fees of its own → 大庆市
    province = books.fees_for("230102", "auction")    # 哈尔滨 has none either → the province
    assert daqing == books.fees_for("230600", "auction")
    assert daqing != province
    price = 200_000_000                               # ¥2,000,000
    # Daqing: 2.5 % of the first ¥1 m + 1.5 % of the rest, capped at ¥300,000.
    assert fee_for(price, daqing) == 2_500_000 + 1_500_000
    # The province: 3 % of the first ¥1 m + 2 % of the next ¥4 m.
    assert fee_for(price, province) == 3_000_000 + 2_000_000
    assert daqing.maximum_fen == 30_000_000 and province.minimum_fen == 100_000


def test_a_route_of_its_own_and_a_region_outside_every_sub_platform():
    books = _books()
    assert books.fees_for("230600", "negotiated") != books.fees_for("230600", "auction")
    # 绥化 (231200) has no sub-platform: the provincial platform runs its procedures.
    assert books.fees_for("231202", "auction") == books.fees_for("230000", "auction")


def test_without_a_sub_platform_file_the_exchange_schedule_stands():
    books = load_books(SettlementSettings(), None)
    assert books.fees_for("230602", "auction") is books.fees
