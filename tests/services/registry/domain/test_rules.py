"""Registration numbers, tax flags and how a contract counts in the statistics."""

from __future__ import annotations

import pytest

from services.registry.domain.numbers import SequenceExhausted, registration_number
from services.registry.domain.statistics import Facts, deltas, growth_percent
from services.registry.domain.tax import EXEMPT_FEN, tax_flags
from services.registry.domain.terms import ContractTerms
from tests.services.registry.builders import terms


def test_registration_number_layout_and_capacity():
    assert registration_number(2026, "230100", 1, 1) == "2026230100010001"
    assert len(registration_number(2026, "230102", 99, 9999)) == 16
    with pytest.raises(SequenceExhausted):
        registration_number(2026, "230100", 1, 10_000)
    with pytest.raises(ValueError):
        registration_number(2026, "230100", 100, 1)


def test_transfer_income_first_five_million_exempt_rest_halved():
    flags = tax_flags(ContractTerms.model_validate(terms(total=900_000_000, tech=800_000_000)))
    assert flags.income_tax_relief and flags.vat_exempt
    assert flags.income_tax_exempt_fen == EXEMPT_FEN == 500_000_000
    assert flags.income_tax_half_rate_fen == 300_000_000
    small = tax_flags(ContractTerms.model_validate(terms(total=100, tech=80)))
    assert (small.income_tax_exempt_fen, small.income_tax_half_rate_fen) == (80, 0)


def test_vat_for_transfer_and_development_only_relief_for_long_licences():
    assert tax_flags(ContractTerms.model_validate(terms("development"))).vat_exempt
    dev = tax_flags(ContractTerms.model_validate(terms("development")))
    assert not dev.income_tax_relief and dev.income_tax_exempt_fen == 0
    for category in ("consulting", "service"):
        flags = tax_flags(ContractTerms.model_validate(terms(category)))
        assert not flags.vat_exempt and not flags.income_tax_relief
    long = tax_flags(ContractTerms.model_validate(terms("licence")))  # six years
    assert long.income_tax_relief and not long.vat_exempt
    short = tax_flags(ContractTerms.model_validate(terms(
        "licence", licence_term={"starts_on": "2026-04-01", "ends_on": "2028-03-31"})))
    assert not short.income_tax_relief


def _facts(seller="230102", buyer="230602", amount=100) -> Facts:
    return Facts(seller_region=seller, buyer_region=buyer, year=2026, month=4,
                 category="transfer", tech_field="new_materials", entity_type="university",
                 ip_type="patent_invention", cross_border=buyer is None,
                 tech_amount_fen=amount)


def _flows(ds) -> dict[tuple[str, str], int]:
    return {(d.region, d.key): d.amount_fen for d in ds if d.dimension == "flow" and d.month}


def test_flow_is_outflow_of_the_seller_inflow_of_the_buyer_internal_to_both():
    flows = _flows(deltas(_facts()))
    assert flows == {("230102", "outflow"): 100, ("230100", "outflow"): 100,
                     ("230000", "internal"): 100, ("230602", "inflow"): 100,
                     ("230600", "inflow"): 100}
    abroad = _flows(deltas(_facts(buyer=None)))
    assert set(abroad.values()) == {100} and {k for _, k in abroad} == {"outflow"}


def test_cancellation_is_the_exact_negative_and_rows_are_sorted():
    plus, minus = deltas(_facts()), deltas(_facts(), -1)
    assert plus == sorted(plus)
    assert [(d.region, d.month, d.dimension, d.key, -d.contracts, -d.amount_fen)
            for d in minus] == [(d.region, d.month, d.dimension, d.key, d.contracts,
                                 d.amount_fen) for d in plus]
    totals = {(d.region, d.month): d.parent for d in plus if d.dimension == "total"}
    assert totals == {("230102", 4): "230100", ("230102", 0): "230100",
                      ("230100", 4): "230000", ("230100", 0): "230000",
                      ("230000", 4): None, ("230000", 0): None}


def test_growth_against_last_year():
    assert growth_percent(108, 100) == 8.0
    assert growth_percent(100, 0) is None


def test_an_amendment_nets_the_old_and_the_new_contribution():
    from services.registry.domain.statistics import combine

    moved = combine(deltas(_facts(amount=100), -1), deltas(_facts(amount=130)))
    assert {(d.contracts, d.amount_fen) for d in moved} == {(0, 30)}
    assert combine(deltas(_facts(), -1), deltas(_facts())) == []
