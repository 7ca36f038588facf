"""Each category's required fields and the amount, party and validity rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registry.domain.terms import SUBTYPES, ContractTerms, problems_of
from tests.services.registry.builders import party, terms


def _fields(data: dict) -> set[str]:
    return {e["field"] for e in problems_of(ContractTerms.model_validate(data))}


@pytest.mark.parametrize("category", ["development", "transfer", "licence", "consulting",
                                      "service"])
def test_a_complete_contract_of_every_category_has_no_problems(category):
    for subtype in SUBTYPES[ContractTerms.model_validate(terms(category)).category]:
        data = terms(category, subtype)
        if subtype == "intermediary":
            data["parties"].append(party("intermediary", "230103", entity_type="other"))
        assert _fields(data) == set(), (category, subtype)


@pytest.mark.parametrize(("category", "missing", "field"), [
    ("transfer", "ip", "body.ip"),
    ("transfer", "expected_investment_fen", "body.expected_investment_fen"),
    ("transfer", "expected_output_fen", "body.expected_output_fen"),
    ("licence", "ip", "body.ip"),
    ("licence", "licence_term", "body.licence_term"),
    ("consulting", "deliverable", "body.deliverable"),
    ("service", "deliverable", "body.deliverable"),
])
def test_category_specific_fields_are_required(category, missing, field):
    data = terms(category)
    del data[missing]
    assert field in _fields(data)


def test_a_patent_transfer_lists_its_numbers_but_a_trade_secret_has_none():
    patent = terms("transfer", "patent")
    patent["ip"] = patent["ip"] | {"numbers": []}
    assert _fields(patent) == {"body.ip.numbers"}
    secret = terms("transfer", "trade_secret")
    secret["ip"] = {"ip_type": "trade_secret", "name": "配方", "numbers": []}
    assert _fields(secret) == set()


def test_licence_term_must_end_after_it_starts():
    data = terms("licence", licence_term={"starts_on": "2026-04-01", "ends_on": "2026-04-01"})
    assert _fields(data) == {"body.licence_term.ends_on"}


def test_an_intermediary_contract_names_the_intermediary():
    assert _fields(terms("service", "intermediary")) == {"body.parties"}


def test_subtype_belongs_to_the_category():
    assert _fields(terms("development", "patent")) == {"body.subtype"}


def test_technology_amount_cannot_exceed_the_total():
    assert _fields(terms(total=100, tech=101)) == {"body.tech_amount_fen"}
    assert _fields(terms(total=100, tech=100)) == set()


def test_parties_exactly_one_seller_and_buyer_with_regions_in_china():
    two_sellers = terms()
    two_sellers["parties"] = [party("seller"), party("seller"), party("buyer", "230602")]
    assert "body.parties" in _fields(two_sellers)
    no_region = terms()
    no_region["parties"][1] = party("buyer", None)
    assert _fields(no_region) == {"body.parties.1.region"}
    abroad = terms(buyer=None, buyer_country="DE")
    assert _fields(abroad) == set()
    assert ContractTerms.model_validate(abroad).cross_border


def test_validity_must_not_end_before_it_starts():
    assert _fields(terms(valid_until="2026-01-01")) == {"body.valid_until"}


def test_unknown_regions_and_malformed_dates_do_not_parse():
    with pytest.raises(ValidationError, match="region"):
        ContractTerms.model_validate(terms(seller="239999"))
    with pytest.raises(ValidationError, match="signed_on"):
        ContractTerms.model_validate(terms(signed_on="2026-02-30"))
