"""How one registered contract counts in the regional statistics (pure).

A contract counts in the month and the year of its registration (Asia/Shanghai), in the
seller's region and every region above it (county → city → province), once per dimension:
``total``, ``category``, ``field`` (technology field), ``entity_type`` (the seller's),
``ip_type`` (``none`` without IP), ``cross_border`` (``cross_border`` when any party is
abroad, else ``domestic``) and ``flow``.

Flow of region R (技术输出 / 技术吸纳):

- ``outflow``: the seller is in R and the buyer is not (abroad included);
- ``inflow``: the buyer is in R and the seller is not — these rows are the only ones kept
  under the buyer's regions;
- ``internal``: seller and buyer are both in R.

So a Harbin seller and a Daqing buyer are ``outflow`` of Harbin and ``inflow`` of Daqing but
``internal`` to Heilongjiang. All other dimensions count the seller's side only (成交额 is
reported where the technology comes from). Amounts are the technology transaction amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.regions import Region, RegionLevel

DIMENSIONS = ("total", "category", "field", "entity_type", "ip_type", "cross_border", "flow")
YEAR = 0
"""The ``month`` of the whole-year rows."""
SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Where a registration is dated: its year (the number's), its month and year (the statistics')."""


@dataclass(frozen=True)
class Facts:
    """What the statistics need of a registered contract."""

    seller_region: str
    buyer_region: str | None
    year: int
    month: int
    category: str
    tech_field: str
    entity_type: str
    ip_type: str
    cross_border: bool
    tech_amount_fen: int


@dataclass(frozen=True, order=True)
class Delta:
    region: str
    year: int
    month: int
    dimension: str
    key: str
    parent: str | None
    contracts: int
    amount_fen: int


def chain(region: str | None) -> list[str]:
    """The region and every region above it, nearest first."""
    if region is None:
        return []
    r = Region.parse(region)
    return [r.code, *(a.code for a in r.ancestors())]


def parent_of(region: str) -> str | None:
    parent = Region.parse(region).parent
    return parent.code if parent else None


def chain_rows(codes: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """``(code, region, its parent)`` for each code and every region of its :func:`chain`:
    the table the bulk rebuild joins contracts with, so the county → city → province rules
    exist once, here."""
    return [(code, r, parent_of(r)) for code in codes for r in chain(code)]


_PREFIX = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}


def subtree_prefix(region: str) -> str:
    """The code prefix every region inside ``region`` shares."""
    r = Region.parse(region)
    return r.code[:_PREFIX[r.level]]


def flow(seller_region: str, buyer_region: str | None) -> dict[str, str]:
    """The flow of each region a contract counts in: the seller's and the buyer's regions
    and every region above them (``buyer_region`` is None for a buyer abroad)."""
    sellers, buyers = chain(seller_region), chain(buyer_region)
    out = {r: "internal" if r in buyers else "outflow" for r in sellers}
    out |= {r: "inflow" for r in buyers if r not in out}
    return out


def deltas(f: Facts, sign: int = 1) -> list[Delta]:
    """The rollup rows a registration adds (``sign=1``) or a cancellation takes away (-1),
    sorted so that concurrent transactions lock them in the same order."""
    keys: list[tuple[str, str, str]] = []
    for r in chain(f.seller_region):
        keys += [(r, "total", ""), (r, "category", f.category), (r, "field", f.tech_field),
                 (r, "entity_type", f.entity_type), (r, "ip_type", f.ip_type),
                 (r, "cross_border", "cross_border" if f.cross_border else "domestic")]
    keys += [(r, "flow", key) for r, key in flow(f.seller_region, f.buyer_region).items()]
    return sorted(Delta(r, f.year, m, dim, key, parent_of(r), sign, sign * f.tech_amount_fen)
                  for r, dim, key in keys for m in (f.month, YEAR))


def combine(*groups: list[Delta]) -> list[Delta]:
    """Several contributions netted per row (an amendment: the old taken away, the new added);
    rows that net to nothing are left out."""
    net: dict[tuple[str, int, int, str, str], Delta] = {}
    for d in (d for group in groups for d in group):
        k = (d.region, d.year, d.month, d.dimension, d.key)
        was = net.get(k)
        net[k] = d if was is None else Delta(*k, d.parent, was.contracts + d.contracts,
                                              was.amount_fen + d.amount_fen)
    return sorted(d for d in net.values() if d.contracts or d.amount_fen)


def growth_percent(current_fen: int, previous_fen: int) -> float | None:
    """Year-on-year growth in percent (rounded to 0.01), ``None`` without a base."""
    if previous_fen <= 0:
        return None
    return round((current_fen - previous_fen) * 100 / previous_fen, 2)


def published_at(year: int, month: int | None) -> datetime:
    """When the figures of ``month`` of ``year`` (the whole year without a month) are
    published: the moment it ends, midnight of the next month's first day in Asia/Shanghai —
    the time zone a contract's registration is counted in."""
    y, m = (year + 1, 1) if month is None or month == 12 else (year, month + 1)
    return datetime(y, m, 1, tzinfo=SHANGHAI)
