"""Tax flags of a registered contract, from its category and amounts.

- Income-tax relief on technology-transfer income (技术转让所得): the first ¥5 m of the
  technology transaction amount is exempt and the rest is taxed at half the rate. Transfers
  qualify, and licences of a term of at least five years (the national rule treats a 5-year+
  licence as a transfer). The relief is computed per contract; the annual ceiling per taxpayer
  is the tax office's business.
- VAT exemption for transfer and development contracts (技术转让、技术开发免征增值税).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.registry.domain.terms import Category, ContractTerms

EXEMPT_FEN = 5_000_000 * 100
"""¥5 m in fen."""

LICENCE_YEARS = 5


@dataclass(frozen=True)
class TaxFlags:
    income_tax_relief: bool
    income_tax_exempt_fen: int
    income_tax_half_rate_fen: int
    vat_exempt: bool


def _years(t: ContractTerms) -> float:
    assert t.licence_term is not None
    return (t.licence_term.ends_on - t.licence_term.starts_on).days / 365.25


def tax_flags(t: ContractTerms) -> TaxFlags:
    relief = t.category is Category.TRANSFER or (
        t.category is Category.LICENCE and t.licence_term is not None
        and _years(t) >= LICENCE_YEARS)
    exempt = min(t.tech_amount_fen, EXEMPT_FEN) if relief else 0
    half = max(t.tech_amount_fen - EXEMPT_FEN, 0) if relief else 0
    return TaxFlags(relief, exempt, half,
                    t.category in (Category.TRANSFER, Category.DEVELOPMENT))
