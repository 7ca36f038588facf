"""GB/T 2260 administrative division codes (``PPCCDD``: province, city, county).

Validation is structural: the province prefix is checked against the 34 provincial-level
divisions, but no city or county table is shipped, so ``230199`` is accepted as a county of
``230100`` whether or not it exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["PROVINCES", "InvalidRegion", "Region", "RegionCode", "RegionLevel"]

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


class RegionLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


_PREFIX_LENGTH = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}


@dataclass(frozen=True, slots=True)
class Region:
    """A validated six-digit administrative division code."""

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
        """Validate ``code``; raises :class:`InvalidRegion` with the reason."""
        return cls(code)

    def __str__(self) -> str:
        return self.code

    @property
    def level(self) -> RegionLevel:
        if self.code[2:] == "0000":
            return RegionLevel.PROVINCE
        if self.code[4:] == "00":
            return RegionLevel.CITY
        return RegionLevel.COUNTY

    @property
    def parent(self) -> Region | None:
        """County → city, city → province, province → ``None``."""
        level = self.level
        if level is RegionLevel.PROVINCE:
            return None
        if level is RegionLevel.CITY:
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
        """Whether ``other`` is this region or lies anywhere inside it."""
        other = other if isinstance(other, Region) else Region.parse(other)
        length = _PREFIX_LENGTH[self.level]
        return other.code[:length] == self.code[:length]


def _validate_code(code: str) -> str:
    try:
        Region.parse(code)
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
            "description": "GB/T 2260 administrative division code",
            "examples": ["230100"],
        }
    ),
]
"""A ``str`` field holding a valid GB/T 2260 code; invalid codes fail model validation."""
