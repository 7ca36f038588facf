"""What a technology contract states, and the rules each category's filing must satisfy.

Pure: no I/O. The HTTP layer parses a filing into :class:`ContractTerms` (types, formats,
known GB/T 2260 codes) and then asks :func:`problems_of` for the category's own rules, which
come back as field-level errors so the caller can answer all of them at once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from shared.bounds import BusinessDate, Fen, SubjectId, text
from shared.regions import RegionCode


class Category(StrEnum):
    DEVELOPMENT = "development"  # 技术开发
    TRANSFER = "transfer"        # 技术转让
    LICENCE = "licence"          # 技术许可
    CONSULTING = "consulting"    # 技术咨询
    SERVICE = "service"          # 技术服务


SUBTYPES: dict[Category, frozenset[str]] = {
    Category.DEVELOPMENT: frozenset({"commissioned", "cooperative"}),       # 委托 / 合作
    Category.TRANSFER: frozenset({"patent", "patent_application", "trade_secret",
                                  "equity_contribution"}),                 # 技术入股 counts here
    Category.LICENCE: frozenset({"exclusive", "sole", "ordinary", "trade_secret"}),
    Category.CONSULTING: frozenset({"consulting"}),
    Category.SERVICE: frozenset({"service", "training", "intermediary"}),  # 培训 / 中介
}
"""Subtypes by category; a licence's subtype is its kind (独占 / 排他 / 普通 / 技术秘密)."""

NO_IP_NUMBERS = frozenset({"trade_secret"})
"""Subtypes whose subject has no registry numbers (a trade secret)."""


class EntityType(StrEnum):
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    INSTITUTE = "institute"
    OTHER = "other"


class PartyRole(StrEnum):
    SELLER = "seller"              # 卖方 / 技术输出方
    BUYER = "buyer"                # 买方 / 技术吸纳方
    INTERMEDIARY = "intermediary"  # 中介方


class ContractForm(StrEnum):
    WRITTEN = "written"
    ORAL = "oral"


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: PartyRole
    name: str = text(200, min_length=1)
    party_id: SubjectId | None = Field(default=None,
                                       description="the party's account on the exchange")
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: RegionCode | None = Field(default=None, description="GB/T 2260; required in CN")
    entity_type: EntityType


class IntellectualProperty(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ip_type: str = Field(pattern=r"^[a-z_]{2,40}$", description="e.g. patent_invention")
    name: str = text(300, default="")
    numbers: list[Annotated[str, text(50)]] = Field(
        default=[], max_length=50, description="patent / application numbers")


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    starts_on: BusinessDate
    ends_on: BusinessDate


class ContractTerms(BaseModel):
    """A filing's content. Category-specific members are optional here and required by
    :func:`problems_of` (a draft may lack them until the seller completes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Category
    subtype: str = Field(pattern=r"^[a-z_]{2,40}$", description="one of the category's")
    form: ContractForm = ContractForm.WRITTEN
    project_name: str = text(300, min_length=1)
    contract_ref: str = text(100, default="", description="the parties' own number")
    signed_on: BusinessDate
    valid_from: BusinessDate
    valid_until: BusinessDate
    total_amount_fen: Fen
    tech_amount_fen: Annotated[Fen, Field(
        description="技术交易额: counts for statistics and tax")]
    tech_field: str = Field(pattern=r"^[a-z_]{2,40}$", description="e.g. new_materials")
    parties: list[Party] = Field(min_length=2, max_length=10)
    ip: IntellectualProperty | None = None
    licence_term: Term | None = None
    expected_investment_fen: Fen | None = Field(default=None,
                                                description="transfer: 预期新增投资")
    expected_output_fen: Fen | None = Field(default=None,
                                            description="transfer: 预期新增产值")
    deliverable: str | None = text(300, default=None,
                                   description="consulting / service: the report or result")
    evidence: list[Annotated[str, text(300)]] = Field(
        default=[], max_length=50, description="attached documents (references)")

    def party(self, role: PartyRole) -> Party | None:
        return next((p for p in self.parties if p.role is role), None)

    @property
    def seller(self) -> Party:
        party = self.party(PartyRole.SELLER)
        assert party is not None, "problems_of() requires a seller"
        return party

    @property
    def buyer(self) -> Party:
        party = self.party(PartyRole.BUYER)
        assert party is not None, "problems_of() requires a buyer"
        return party

    @property
    def cross_border(self) -> bool:
        return any(p.country != "CN" for p in self.parties)


def _optional(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s fields, each with its bounds and description, optional and None by default."""
    def bounded(info: Any) -> Any:
        return Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation

    return {name: (bounded(info) | None, Field(default=None, description=info.description))
            for name, info in model.model_fields.items()}


ContractChanges = create_model(
    "ContractChanges", __config__=ConfigDict(extra="forbid", frozen=True),
    __doc__="Members of :class:`ContractTerms` that replace a stored filing's (a draft's, a "
            "registered contract's); the whole is checked again once they are applied.",
    **_optional(ContractTerms))


def _err(field: str, message: str) -> dict[str, str]:
    return {"field": f"body.{field}", "message": message}


def problems_of(t: ContractTerms) -> list[dict[str, str]]:
    """Field-level errors of the category's rules; empty when the filing is complete."""
    errors: list[dict[str, str]] = []
    if t.subtype not in SUBTYPES[t.category]:
        errors.append(_err("subtype", f"a {t.category} contract's subtype is one of "
                                      f"{', '.join(sorted(SUBTYPES[t.category]))}"))
    if t.tech_amount_fen > t.total_amount_fen:
        errors.append(_err("tech_amount_fen",
                           "the technology transaction amount cannot exceed the total amount"))
    if t.total_amount_fen == 0:
        errors.append(_err("total_amount_fen", "a contract states a positive total amount"))
    if t.valid_until < t.valid_from:
        errors.append(_err("valid_until", "the validity ends before it starts"))
    errors += _party_problems(t)
    errors += _category_problems(t)
    return errors


def _party_problems(t: ContractTerms) -> list[dict[str, str]]:
    errors = []
    for role in (PartyRole.SELLER, PartyRole.BUYER):
        count = sum(p.role is role for p in t.parties)
        if count != 1:
            errors.append(_err("parties", f"a contract names exactly one {role}, not {count}"))
    for i, p in enumerate(t.parties):
        if p.country == "CN" and p.region is None:
            errors.append(_err(f"parties.{i}.region",
                               "a party in China names its GB/T 2260 region"))
        if p.country != "CN" and p.region is not None:
            errors.append(_err(f"parties.{i}.region",
                               "only parties in China have a GB/T 2260 region"))
    seller = t.party(PartyRole.SELLER)
    if seller is not None and seller.country != "CN":
        errors.append(_err("parties", "the seller files at a registrar of its region in China"))
    return errors


def _category_problems(t: ContractTerms) -> list[dict[str, str]]:
    errors = []
    needs_ip = t.category in (Category.TRANSFER, Category.LICENCE)
    if needs_ip:
        if t.ip is None:
            errors.append(_err("ip", f"a {t.category} contract names its intellectual property"))
        elif t.subtype not in NO_IP_NUMBERS and not t.ip.numbers:
            errors.append(_err("ip.numbers", f"a {t.subtype} {t.category} lists the IP numbers"))
    if t.category is Category.TRANSFER:
        for name in ("expected_investment_fen", "expected_output_fen"):
            if getattr(t, name) is None:
                errors.append(_err(name, "a transfer contract states the expected investment "
                                         "and output"))
    if t.category is Category.LICENCE:
        if t.licence_term is None:
            errors.append(_err("licence_term", "a licence states its term"))
        elif t.licence_term.ends_on <= t.licence_term.starts_on:
            errors.append(_err("licence_term.ends_on", "the licence term ends after it starts"))
    if t.category in (Category.CONSULTING, Category.SERVICE) and not t.deliverable:
        errors.append(_err("deliverable", f"a {t.category} contract names its deliverable"))
    if t.subtype == "intermediary" and t.party(PartyRole.INTERMEDIARY) is None:
        errors.append(_err("parties", "an intermediary contract names the intermediary party"))
    return errors
