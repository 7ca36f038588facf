"""Intellectual-property numbers: Chinese patent numbers and their check digit.

A patent application number (专利申请号) is 12 digits since 2003 — year (4), type (1: 1 invention,
2 utility model, 3 design, 8/9 PCT national phase), serial (7) — or 8 digits before, followed by
``.`` and a check digit; a granted patent is cited with the prefix ``ZL``. The check digit is
the sum of the digits weighted 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5 (from the left), modulo 11,
with 10 written ``X``.
"""

from __future__ import annotations

import re
from enum import StrEnum

_PATENT = re.compile(r"^(?:ZL|CN)?\s?(\d{8}|\d{12})\.([0-9X])$")
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_SOFTWARE_COPYRIGHT = re.compile(r"^\d{4}SR\d{6,7}$")


class IpType(StrEnum):
    PATENT_INVENTION = "patent_invention"
    PATENT_UTILITY = "patent_utility"
    PATENT_DESIGN = "patent_design"
    PATENT_APPLICATION = "patent_application"
    SOFTWARE_COPYRIGHT = "software_copyright"
    TRADE_SECRET = "trade_secret"
    PLANT_VARIETY = "plant_variety"
    IC_LAYOUT = "ic_layout"
    OTHER = "other"

    @property
    def is_patent(self) -> bool:
        return self.value.startswith("patent_")


def patent_check_digit(digits: str) -> str:
    total = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=False))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def invalid_patent_number(number: str) -> str | None:
    """Why ``number`` is not a valid Chinese patent (application) number, or None if it is."""
    match = _PATENT.match(number.strip().upper())
    if match is None:
        return "not a patent number of the form ZL201510012345.3 (12 or 8 digits, '.', check)"
    digits, check = match.groups()
    expected = patent_check_digit(digits)
    if check != expected:
        return f"check digit {check} is wrong for {digits} (expected {expected})"
    if len(digits) == 12 and digits[4] not in "12389":
        return f"patent type digit {digits[4]} is not 1, 2, 3, 8 or 9"
    return None


def invalid_ip_number(ip_type: IpType, number: str) -> str | None:
    """Why ``number`` cannot identify IP of ``ip_type``, or None if it can."""
    if ip_type.is_patent:
        return invalid_patent_number(number)
    if ip_type is IpType.SOFTWARE_COPYRIGHT and not _SOFTWARE_COPYRIGHT.match(number.strip()):
        return "not a software copyright registration number like 2019SR0123456"
    if not number.strip():
        return "empty"
    return None
