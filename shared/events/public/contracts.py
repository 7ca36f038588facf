"""``<prefix>.public.contracts``: summaries of registered, amended and cancelled technology
contracts (amounts, category, field, the parties' regions and the flow).

Each event is the whole public summary of one contract at one ``revision`` (1 when registered,
one more for each registered amendment, the last for its cancellation), so a reader keeps the
latest revision by ``contract_key`` and needs no earlier event. ``contract_key`` is the
publishing deployment's region and the registration number (``120000-2026120100010001``):
unique across deployments, so the same contract reaching a reader through two partners counts
once. Only what the public statistics show may appear here: no party's name, id or contact,
no contract text.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from shared.events.base import Event, register

__all__ = [
    "PUBLIC_CONTRACT_FIELDS",
    "ContractSummary",
    "ProvinceFlow",
    "PublicContractAmended",
    "PublicContractCancelled",
    "PublicContractRegistered",
    "contract_key",
    "province_flow",
    "province_of",
]

ProvinceFlow = Literal["outflow", "inflow", "internal"]
"""A province's side of a contract: 技术输出 (the seller's), 技术吸纳 (the buyer's), or both."""

_REGION = r"^[0-9]{6}$"


def province_of(region: str | None) -> str | None:
    """The provincial-level code of a GB/T 2260 code (None stays None: abroad)."""
    return None if region is None else region[:2] + "0000"


def province_flow(seller_region: str, buyer_region: str | None) -> dict[str, ProvinceFlow]:
    """Each province the contract counts in and its flow there: the seller's province
    ``outflow`` and the buyer's ``inflow`` when they differ (a buyer abroad: outflow only),
    else the one province ``internal``."""
    seller, buyer = province_of(seller_region), province_of(buyer_region)
    assert seller is not None
    if seller == buyer:
        return {seller: "internal"}
    return {seller: "outflow", **({buyer: "inflow"} if buyer else {})}


def contract_key(origin: str, registration_number: str) -> str:
    """The contract's key across deployments: ``<origin region>-<registration number>``."""
    return f"{origin}-{registration_number}"


_SUMMARY: dict[str, Any] = {
    "contract_key": "120000-2026120100010001", "origin": "120000",
    "registration_number": "2026120100010001", "revision": 1, "region": "120101",
    "seller_region": "120101", "buyer_region": "130102", "cross_border": False,
    "registered_on": "2026-04-10", "category": "transfer", "tech_field": "new_materials",
    "total_amount_fen": 200000000, "tech_amount_fen": 186000000,
    "flow": {"120000": "outflow", "130000": "inflow"}}


class ContractSummary(Event):
    """The public summary of a registered technology contract (a base, not an event)."""

    aggregate: ClassVar[str] = "public.contracts"
    subject_field: ClassVar[str] = "contract_key"

    contract_key: str = Field(
        pattern=r"^[0-9]{6}-[0-9]{16}$", max_length=23,
        description="origin and registration number: the contract across deployments")
    origin: str = Field(pattern=r"^[0-9]{6}$",
                        description="the region of the deployment that registered it")
    registration_number: str = Field(pattern=r"^[0-9]{16}$", description="登记编号")
    revision: int = Field(ge=1, le=10_000, description=(
        "1 when registered, +1 per registered amendment and for the cancellation; a reader "
        "keeps the highest"))
    region: str = Field(pattern=_REGION, description="GB/T 2260 code of the seller (where the "
                                                     "contract counts)")
    seller_region: str = Field(pattern=_REGION, description="GB/T 2260 code of the seller")
    buyer_region: str | None = Field(pattern=_REGION,
                                     description="GB/T 2260 code of the buyer; null abroad")
    cross_border: bool = Field(description="a party is abroad")
    registered_on: date = Field(description="the registration's date (Asia/Shanghai): the "
                                            "month and year it counts in")
    category: str = Field(max_length=40, description="development, transfer, licence, "
                                                     "consulting or service")
    tech_field: str = Field(max_length=60, description="technology field")
    total_amount_fen: int = Field(ge=0, le=2**62, description="contract amount in fen")
    tech_amount_fen: int = Field(ge=0, le=2**62, description="技术交易额 in fen")
    flow: dict[str, ProvinceFlow] = Field(
        description="each province the contract counts in (PP0000) and its flow there")


@register
class PublicContractRegistered(ContractSummary):
    """A registrar registered the contract: its public summary, revision 1."""

    name: ClassVar[str] = "registered"
    time_field: ClassVar[str] = "registered_at"
    model_config = ConfigDict(json_schema_extra={"examples": [
        _SUMMARY | {"registered_at": "2026-04-10T02:00:00Z"}]})

    registered_at: AwareDatetime


@register
class PublicContractAmended(ContractSummary):
    """A registered amendment: the summary with the new figures (a higher revision)."""

    name: ClassVar[str] = "amended"
    time_field: ClassVar[str] = "amended_at"
    model_config = ConfigDict(json_schema_extra={"examples": [
        _SUMMARY | {"revision": 2, "tech_amount_fen": 190000000,
                    "amended_at": "2026-05-06T02:00:00Z"}]})

    amended_at: AwareDatetime


@register
class PublicContractCancelled(ContractSummary):
    """A registered cancellation: the contract leaves every count (its last revision)."""

    name: ClassVar[str] = "cancelled"
    time_field: ClassVar[str] = "cancelled_at"
    model_config = ConfigDict(json_schema_extra={"examples": [
        _SUMMARY | {"revision": 3, "cancelled_at": "2026-06-01T02:00:00Z"}]})

    cancelled_at: AwareDatetime


PUBLIC_CONTRACT_FIELDS = frozenset(PublicContractRegistered.model_fields)
"""Every field a summary carries (the allow-list test compares them with the public API's)."""
