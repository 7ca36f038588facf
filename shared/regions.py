"""GB/T 2260 administrative division codes (``PPCCDD``: province, city, county).

Two layers of checking:

* **Structure** — :meth:`Region.parse`: six ASCII digits, a known provincial prefix, and no
  county digits under a ``00`` city. ``230199`` passes this layer.
* **Existence** — :meth:`Region.known`, :attr:`Region.is_known` and the :data:`RegionCode`
  pydantic type: the code must name a division in the directory shipped as
  ``shared/regions.json`` — every provincial, prefecture and county-level division of the
  民政部 list as of 2025-12-31 (34 + 333 + 2845 entries). ``230199`` fails this layer.

The directory covers all 34 provincial-level divisions, so there is no province where
:data:`RegionCode` falls back to structural checking; note that 台湾省 (710000), 香港 (810000)
and 澳门 (820000) are listed at provincial level only, as in the national list, so their
sub-codes are unknown. Abolished codes (e.g. 500112 渝北区, merged into 500157 两江新区 in
2025) are unknown too.

Counties directly under a provincial-level division
    The four municipalities have no prefecture level: Tianjin's districts are numbered
    ``1201xx`` but the national list has no ``120100`` entry. The same holds for the
    province-administered county-level cities (``4190xx`` 济源, ``4290xx`` 仙桃 …,
    ``4690xx`` 五指山 …, ``6590xx`` 石河子 …). For a county whose four-digit prefix is one of
    these *direct* prefixes, :attr:`Region.parent` is the provincial-level division itself
    (``120101`` → ``120000``), so every known region's parent is known, ``ancestors()`` is the
    real chain (one element for such a county) and ``children(120000)`` lists the districts.
    :attr:`Region.level` stays the structural level of the code (``120101`` is a county).
    The city-level codes of these prefixes (``120100``, ``419000`` …) parse but are unknown.

The directory is read once, on first use, into dicts; lookups do no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "PROVINCES",
    "InvalidRegion",
    "Region",
    "RegionCode",
    "RegionLevel",
    "UnknownRegion",
    "all_regions",
    "children",
]

PROVINCES = MappingProxyType(
    {
        "11": "北京市",
        "12": "天津市",
        "13": "河北省",
        "14": "山西省",
        "15": "内蒙古自治区",
        "21": "辽宁省",
        "22": "吉林省",
        "23": "黑龙江省",
        "31": "上海市",
        "32": "江苏省",
        "33": "浙江省",
        "34": "安徽省",
        "35": "福建省",
        "36": "江西省",
        "37": "山东省",
        "41": "河南省",
        "42": "湖北省",
        "43": "湖南省",
        "44": "广东省",
        "45": "广西壮族自治区",
        "46": "海南省",
        "50": "重庆市",
        "51": "四川省",
        "52": "贵州省",
        "53": "云南省",
        "54": "西藏自治区",
        "61": "陕西省",
        "62": "甘肃省",
        "63": "青海省",
        "64": "宁夏回族自治区",
        "65": "新疆维吾尔自治区",
        "71": "台湾省",
        "81": "香港特别行政区",
        "82": "澳门特别行政区",
    }
)
"""Provincial-level division names by two-digit code prefix."""

_SIX_DIGITS = re.compile(r"[0-9]{6}")


class InvalidRegion(ValueError):
    """A string that is not a well-formed GB/T 2260 code."""


class UnknownRegion(InvalidRegion):
    """A well-formed code that names no division in the directory."""


class RegionLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


_PREFIX_LENGTH = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}


@dataclass(frozen=True, slots=True)
class Region:
    """A structurally valid six-digit administrative division code.

    Structure is checked on construction; whether the division exists is a separate question
    (:meth:`known`, :attr:`is_known`), and :attr:`name`/:attr:`full_name` need it to exist.
    """

    code: str

    def __post_init__(self) -> None:
        code = self.code
        if not isinstance(code, str):
            raise InvalidRegion(f"region code must be a string, not {type(code).__name__}")
        if not _SIX_DIGITS.fullmatch(code):
            raise InvalidRegion(f"region code {code!r} must be exactly six digits")
        if code[:2] not in PROVINCES:
            raise InvalidRegion(f"region code {code!r} has unknown province prefix {code[:2]!r}")
        if code[2:4] == "00" and code[4:] != "00":
            raise InvalidRegion(
                f"region code {code!r} names a county ({code[4:]!r}) without a city: "
                "digits 3-4 are '00'"
            )

    @classmethod
    def parse(cls, code: str) -> Region:
        """Validate the structure of ``code``; raises :class:`InvalidRegion` with the reason.

        Does not consult the directory: ``Region.parse("230199")`` succeeds.
        """
        return cls(code)

    @classmethod
    def known(cls, code: str) -> Region:
        """Validate ``code`` and require it to name an existing division.

        Raises :class:`InvalidRegion` for a malformed code and its subclass
        :class:`UnknownRegion` for a well-formed code missing from the directory.
        """
        region = cls.parse(code)
        known = _directory().regions.get(region.code)
        if known is None:
            raise UnknownRegion(region._unknown_reason())
        return known

    def __str__(self) -> str:
        return self.code

    @property
    def is_known(self) -> bool:
        """Whether the directory lists this code as an existing division."""
        return self.code in _directory().names

    @property
    def name(self) -> str:
        """Chinese name, e.g. ``道里区``; raises :class:`UnknownRegion` if not in the directory."""
        name = _directory().names.get(self.code)
        if name is None:
            raise UnknownRegion(self._unknown_reason())
        return name

    @property
    def full_name(self) -> str:
        """Names from the province down, e.g. ``黑龙江省哈尔滨市道里区`` or ``天津市和平区``."""
        names = _directory().names
        if self.code not in names:
            raise UnknownRegion(self._unknown_reason())
        return "".join(names[r.code] for r in reversed(self.ancestors())) + names[self.code]

    @property
    def level(self) -> RegionLevel:
        """The level the code's digits denote (not the number of ancestors; see the module doc)."""
        if self.code[2:] == "0000":
            return RegionLevel.PROVINCE
        if self.code[4:] == "00":
            return RegionLevel.CITY
        return RegionLevel.COUNTY

    @property
    def parent(self) -> Region | None:
        """County → city, city → province, province → ``None``.

        A county under a *direct* prefix (municipal districts, province-administered cities)
        has the provincial-level division as its parent: ``120101`` → ``120000``.
        """
        level = self.level
        if level is RegionLevel.PROVINCE:
            return None
        if level is RegionLevel.CITY or self.code[:4] in _directory().direct_prefixes:
            return Region(self.code[:2] + "0000")
        return Region(self.code[:4] + "00")

    @property
    def province(self) -> Region:
        return Region(self.code[:2] + "0000")

    @property
    def province_name(self) -> str:
        """Chinese name of the provincial-level division, e.g. ``黑龙江省``."""
        return PROVINCES[self.code[:2]]

    def ancestors(self) -> tuple[Region, ...]:
        """Enclosing regions, nearest first (a county yields its city, then its province)."""
        chain: list[Region] = []
        current = self.parent
        while current is not None:
            chain.append(current)
            current = current.parent
        return tuple(chain)

    def contains(self, other: Region | str) -> bool:
        """Whether ``other`` is this region or lies anywhere inside it (by code prefix)."""
        other = other if isinstance(other, Region) else Region.parse(other)
        length = _PREFIX_LENGTH[self.level]
        return other.code[:length] == self.code[:length]

    def _unknown_reason(self) -> str:
        names = _directory().names
        reason = f"region code {self.code!r} is not a known administrative division"
        enclosing = next((r for r in self.ancestors() if r.code in names), None)
        if enclosing is None:
            return reason
        return f"{reason} (nothing under {enclosing.full_name} {enclosing.code} has that code)"


@dataclass(frozen=True, slots=True)
class _Directory:
    names: Mapping[str, str]
    """Chinese name by code, for every known division."""
    regions: Mapping[str, Region]
    """The same codes as shared :class:`Region` instances."""
    children: Mapping[str, tuple[Region, ...]]
    """Direct subdivisions by parent code, in code order; childless codes are absent."""
    by_province: Mapping[str, tuple[Region, ...]]
    """Every known division by two-digit province prefix, province first, in code order."""
    direct_prefixes: frozenset[str]
    """Four-digit prefixes of counties that sit directly under their provincial division."""
    as_of: str


@cache
def _directory() -> _Directory:
    """Load ``regions.json`` once; all later lookups are dict hits."""
    text = resources.files("shared").joinpath("regions.json").read_text(encoding="utf-8")
    document = json.loads(text)
    names: dict[str, str] = dict(sorted(document["regions"].items()))
    regions = {code: Region(code) for code in names}
    direct = frozenset(
        code[:4]
        for code, region in regions.items()
        if region.level is RegionLevel.COUNTY and code[:4] + "00" not in names
    )
    children: dict[str, list[Region]] = {}
    by_province: dict[str, list[Region]] = {}
    for code, region in regions.items():
        by_province.setdefault(code[:2], []).append(region)
        if region.level is RegionLevel.PROVINCE:
            continue
        is_direct = region.level is RegionLevel.CITY or code[:4] in direct
        parent = code[:2] + "0000" if is_direct else code[:4] + "00"
        children.setdefault(parent, []).append(region)
    return _Directory(
        names=MappingProxyType(names),
        regions=MappingProxyType(regions),
        children=MappingProxyType({code: tuple(kids) for code, kids in children.items()}),
        by_province=MappingProxyType({p: tuple(rs) for p, rs in by_province.items()}),
        direct_prefixes=direct,
        as_of=document["as_of"],
    )


def children(region: Region | str) -> tuple[Region, ...]:
    """Direct subdivisions of a known region, in code order.

    A province yields its prefecture-level cities plus any county-level divisions directly
    under it (a municipality yields its districts); a city yields its counties; a county, and
    a city without counties such as 441900 东莞市, yield ``()``. Raises
    :class:`UnknownRegion` for a code that is not in the directory.
    """
    parent = region if isinstance(region, Region) else Region.parse(region)
    directory = _directory()
    if parent.code not in directory.names:
        raise UnknownRegion(parent._unknown_reason())
    return directory.children.get(parent.code, ())


def all_regions(province: Region | str | None = None) -> tuple[Region, ...]:
    """Every known division in code order, or only those of one provincial-level division.

    ``province`` must be a provincial-level code such as ``"230000"``; the result starts with
    the province itself.
    """
    directory = _directory()
    if province is None:
        return tuple(directory.regions.values())
    scope = province if isinstance(province, Region) else Region.parse(province)
    if scope.level is not RegionLevel.PROVINCE:
        raise InvalidRegion(
            f"region code {scope.code!r} is not a provincial-level code (expected 'PP0000')"
        )
    return directory.by_province[scope.code[:2]]


def _validate_code(code: str) -> str:
    try:
        Region.known(code)
    except InvalidRegion as exc:
        # A custom error keeps pydantic from prefixing the message with "Value error, ".
        raise PydanticCustomError("region_code", "{reason}", {"reason": str(exc)}) from exc
    return code


RegionCode = Annotated[
    str,
    AfterValidator(_validate_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{6}$",
            "description": "GB/T 2260 administrative division code of an existing division",
            "examples": ["230100"],
        }
    ),
]
"""A ``str`` field holding the code of an existing division; malformed or unknown codes fail
model validation with a message naming the code."""
