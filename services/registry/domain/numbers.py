"""Registration numbers (登记编号): 16 digits.

Layout ``YYYY RRRRRR NN SSSS``: year of registration (4, Asia/Shanghai), the registrar's
GB/T 2260 region (6), the registrar's code within that region (2, ``01``–``99``) and the
sequence within registrar and year (4, from ``0001``). Capacity: 9,999 registrations per
registrar and year, 99 registrars per region. The sequence comes from a counter row updated in
the registering transaction, so a rolled-back registration leaves no gap.
"""

from __future__ import annotations

SEQUENCE_CAPACITY = 9_999
REGISTRARS_PER_REGION = 99


class SequenceExhausted(Exception):
    """The registrar used all of this year's numbers."""


def registration_number(year: int, region: str, registrar_code: int, sequence: int) -> str:
    if not 1 <= sequence <= SEQUENCE_CAPACITY:
        raise SequenceExhausted(f"sequence {sequence} is outside 1..{SEQUENCE_CAPACITY}")
    if not 1 <= registrar_code <= REGISTRARS_PER_REGION:
        raise ValueError(f"registrar code {registrar_code} is outside 1..{REGISTRARS_PER_REGION}")
    if not (len(region) == 6 and region.isdigit() and 1000 <= year <= 9999):
        raise ValueError("year must have four digits and region six")
    return f"{year:04d}{region}{registrar_code:02d}{sequence:04d}"
